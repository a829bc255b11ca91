"""Metrics: each in its own small module."""
