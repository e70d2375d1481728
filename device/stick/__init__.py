"""The technician's USB stick: site settings, signed content packs, diagnostics (docs/usb.md)."""
