"""What runs on the kiosk at first boot: the technician's site file applied, secrets moved off
the boot partition, and the readers the daemon uses for what first boot left behind."""
