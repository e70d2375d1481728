#!/bin/sh
# boot-test --analyze, run in the guest by systemd.run= (as root): once the kiosk is READY
# (jukebox.service active: Type=notify), systemd's view of this boot, on the serial console.
# Boot is not "finished" for systemd then (this unit is part of it), so `systemd-analyze time`
# would refuse; blame and the critical chain to jukebox.service are complete.
i=0
while ! systemctl is-active --quiet jukebox.service && [ "$i" -lt 900 ]; do
  sleep 1
  i=$((i + 1))
done
{
  echo "== systemd-analyze blame (top 40)"
  systemd-analyze blame --no-pager | head -n 40
  echo "== systemd-analyze critical-chain jukebox.service"
  systemd-analyze critical-chain --no-pager jukebox.service
  # What the daemon's start spends on imports here, under the same emulation (the 15 slowest,
  # cumulative microseconds): a second interpreter, after READY, with warm caches.
  echo "== python -X importtime -c 'import device.daemon' (top 15, cumulative us)"
  /opt/jukebox/venv/bin/python -X importtime -c 'import device.daemon' 2>&1 >/dev/null |
    sort -t '|' -k 2 -n | tail -n 15
} 2>&1 | sed 's/^/analyze: /' > /dev/console
echo "analyze: done" > /dev/console
