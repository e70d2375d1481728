"""Firmware updates over the air: RAUC bundles into the inactive root slot, a reboot at a safe
moment, and a health gate that commits the new slot or falls back (docs/updates.md)."""
