"""Tests of firmware updates (device/update/, image-build/bundle.py and release_key.py)."""
