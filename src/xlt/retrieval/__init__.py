"""xlt.retrieval"""
