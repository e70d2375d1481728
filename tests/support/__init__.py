"""Helpers for tests that need real services (e.g. a running tenant)."""
