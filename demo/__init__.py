"""The demo: drives both sides (a local tenant and a simulated kiosk), so it belongs to neither."""
