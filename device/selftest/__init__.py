"""The technician's active self-test: its test tone (tone.py); the core's part is in
device/core/selftest.py."""
