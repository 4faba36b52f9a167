"""xlt.evaluate"""
