"""xlt.align"""
