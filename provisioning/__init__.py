"""Turning one generic SD image into ready-to-install kiosks, and applying that at first boot.

A technician's site configuration (`site_config`) is written into the image's FAT boot
partition without mounting anything (`partitions` reads the partition table, `fatfs` writes
through mtools); on the kiosk, `firstboot` moves its secrets into the data partition so that a
card pulled out later leaks nothing. The paths both sides agree on are in `layout`.
"""
