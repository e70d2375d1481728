#!/bin/sh
# boot-test's script in the guest, run by systemd.run= (as root): once the kiosk is READY
# (jukebox.service active: Type=notify) and systemd's boot has finished (the update health gate
# runs after READY), what the arguments ask, in this order:
#   analyze   systemd's view of this boot, and the daemon's threads, on the serial console;
#   poweroff  a clean power-off, as a kiosk switched off in the evening (boot-test waits for
#             it: QEMU's power button cannot be used, the virt machine started with firmware
#             such as U-Boot has no GPIO chip for gpio-keys).
# systemd.run= makes this script part of the boot (kernel-command-line.service), and
# `systemd-analyze blame` refuses while the boot is unfinished ("Bootup is not yet finished"):
# so the script hands itself over to a transient unit of its own, whose start job ends at once.
if [ "$1" != "--after-boot" ]; then
  exec systemd-run --no-block --collect --unit=jukebox-after-boot /bin/sh "$0" --after-boot "$@"
fi
shift
actions="$*"
i=0
while ! systemctl is-active --quiet jukebox.service && [ "$i" -lt 900 ]; do
  sleep 1
  i=$((i + 1))
done
# The boot ends when no job is left: the health gate's (after READY) is usually the last.
while [ "$(systemctl is-system-running)" = starting ] && [ "$i" -lt 900 ]; do
  sleep 1
  i=$((i + 1))
done
for action in $actions; do
  [ "$action" = analyze ] || continue
  {
  echo "== systemctl is-system-running: $(systemctl is-system-running)"
  systemctl list-jobs --no-pager
  echo "== systemd-analyze time"
  systemd-analyze time --no-pager
  echo "== systemd-analyze blame (top 40)"
  systemd-analyze blame --no-pager | head -n 40
  echo "== systemd-analyze critical-chain jukebox.service"
  systemd-analyze critical-chain --no-pager jukebox.service
  # The daemon's threads and their scheduling class: the press path's (the main thread, which
  # runs the core, and mpv's) in the real-time class (RR, priority 1), the others normal (TS).
  # (No procps in the image: /proc's stat fields 19, 40 and 41, after the name in brackets.)
  echo "== the daemon's threads: policy (0 normal, 2 RR), real-time priority, nice"
  pid=$(systemctl show -P MainPID jukebox.service)
  for task in /proc/"$pid"/task/*; do
    # shellcheck disable=SC2046
    set -- $(cut -d')' -f2- "$task/stat")
    echo "${task##*/} policy ${39} rtprio ${38} nice ${17} $(cat "$task/comm")"
  done
  # What the daemon's start spends on imports here, under the same emulation (the 15 slowest,
  # cumulative microseconds): a second interpreter, after READY, with warm caches.
  echo "== python -X importtime -c 'import device.daemon' (top 15, cumulative us)"
  /opt/jukebox/venv/bin/python -X importtime -c 'import device.daemon' 2>&1 >/dev/null |
    sort -t '|' -k 2 -n | tail -n 15
  # The daemon's own imports at this boot, cold and beside the rest of the boot, when it was
  # started with PYTHONPROFILEIMPORTTIME=1 (boot-test --kernel-args
  # systemd.setenv=PYTHONPROFILEIMPORTTIME=1): its stderr is in the journal.
  imports=$(journalctl -b -u jukebox.service -o cat | grep '^import time:')
  if [ -n "$imports" ]; then
    echo "== the daemon's imports at this boot (top 15, cumulative us)"
    echo "$imports" | sort -t '|' -k 2 -n | tail -n 15
  fi
  } 2>&1 | sed 's/^/analyze: /' > /dev/console
  echo "analyze: done" > /dev/console
done
for action in $actions; do
  [ "$action" = poweroff ] || continue
  echo "poweroff: the boot is over ($(systemctl is-system-running)); powering off" > /dev/console
  systemctl poweroff
done
