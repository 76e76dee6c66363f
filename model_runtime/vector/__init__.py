"""Masks to polygons and polygons to files:
vectorising, writers, quick-look rendering.
"""
