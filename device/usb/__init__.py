"""USB hot-plug: udev events (pyudev) turned into core events; sound cards read from /sys."""
