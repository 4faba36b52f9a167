"""xlt.transfer"""
