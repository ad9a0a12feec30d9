"""Sequence data: readers, preprocessing, split, synthetic data and the Lightning data module."""
