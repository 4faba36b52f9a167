"""xlt.data"""
