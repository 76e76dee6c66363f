"""Spectral science:
index formulas, class rules, mask cleanup, SPIE attributes, explanations, per-feature statistics.
"""
