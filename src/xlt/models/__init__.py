"""xlt.models"""
