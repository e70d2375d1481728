#!/bin/sh
# boot-test --second-boot, run in the guest by systemd.run= (as root) at first boot: once the
# kiosk is READY (jukebox.service active: Type=notify) and systemd's boot has finished (the
# update health gate marks the slot good after READY), a clean power-off, as a kiosk switched
# off in the evening. (virt's power button is not seen by every image: the A/B image booted
# through U-Boot has no GPIO chip for gpio-keys.)
# systemd.run= makes this script part of the boot (kernel-command-line.service): it hands
# itself over to a transient unit of its own, so that the boot can finish.
if [ "$1" != "--after-boot" ]; then
  exec systemd-run --no-block --collect --unit=jukebox-poweroff /bin/sh "$0" --after-boot
fi
i=0
while ! systemctl is-active --quiet jukebox.service && [ "$i" -lt 900 ]; do
  sleep 1
  i=$((i + 1))
done
while [ "$(systemctl is-system-running)" = starting ] && [ "$i" -lt 900 ]; do
  sleep 1
  i=$((i + 1))
done
echo "poweroff: the first boot is over ($(systemctl is-system-running)); powering off" > /dev/console
systemctl poweroff
