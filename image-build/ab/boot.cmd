# Jukebox A/B boot (docs/updates.md): RAUC's boot counting, its state in bootstate.txt on
# this FAT partition, the same script on a Raspberry Pi (mmc) and under QEMU (virtio).
# The first slot of BOOT_ORDER with tries left is booted, one try counted down and written
# back before the kernel starts; the health gate gives a good slot its tries back (RAUC
# mark-good), a new slot gets one try (set-primary), a bad one none (mark-bad).
# Compiled into boot.scr by image-build/bootscript.py (mkimage -T script format).
setenv jukebox_args
if load ${devtype} ${devnum}:1 ${pxefile_addr_r} cmdline-extra.txt; then
  # jukebox_args=...: more kernel arguments, e.g. boot-test's console settings
  env import -t ${pxefile_addr_r} ${filesize} jukebox_args
fi
setenv BOOT_ORDER "A B"
setenv BOOT_A_LEFT 3
setenv BOOT_B_LEFT 3
if load ${devtype} ${devnum}:1 ${pxefile_addr_r} bootstate.txt; then
  env import -t ${pxefile_addr_r} ${filesize} BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT
fi
setenv bootpart
setenv raucslot
for BOOT_SLOT in "${BOOT_ORDER}"; do
  if test "x${bootpart}" != "x"; then
    # a slot was chosen: skip the rest
  elif test "x${BOOT_SLOT}" = "xA"; then
    if test ${BOOT_A_LEFT} -gt 0; then
      setexpr BOOT_A_LEFT ${BOOT_A_LEFT} - 1
      setenv bootpart 2
      setenv raucslot A
    fi
  elif test "x${BOOT_SLOT}" = "xB"; then
    if test ${BOOT_B_LEFT} -gt 0; then
      setexpr BOOT_B_LEFT ${BOOT_B_LEFT} - 1
      setenv bootpart 3
      setenv raucslot B
    fi
  fi
done
if test "x${bootpart}" = "x"; then
  echo "jukebox-boot: no slot has tries left: both get 3 again"
  setenv BOOT_A_LEFT 3
  setenv BOOT_B_LEFT 3
  env export -t ${pxefile_addr_r} BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT
  fatwrite ${devtype} ${devnum}:1 ${pxefile_addr_r} bootstate.txt ${filesize}
  reset
fi
env export -t ${pxefile_addr_r} BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT
fatwrite ${devtype} ${devnum}:1 ${pxefile_addr_r} bootstate.txt ${filesize}
echo "jukebox-boot: slot ${raucslot} (partition ${bootpart}), tries left A=${BOOT_A_LEFT} B=${BOOT_B_LEFT}"
if test "${devtype}" = "virtio"; then
  setenv consoles "console=ttyAMA0"
else
  setenv consoles "console=ttyS1,115200 console=tty1"
  # Room for Debian's ~35 MB kernel at 0x80000, its compressed file and the initrd above it.
  setenv ramdisk_addr_r 0x06000000
  setenv kernel_comp_addr_r 0x0a000000
fi
test -n "${kernel_comp_addr_r}" || setexpr kernel_comp_addr_r ${ramdisk_addr_r} + 0x04000000
load ${devtype} ${devnum}:${bootpart} ${kernel_addr_r} /boot/vmlinuz
setenv kernel_comp_size ${filesize}
load ${devtype} ${devnum}:${bootpart} ${ramdisk_addr_r} /boot/initrd.img
# quiet: only the kernel's errors reach the consoles, where messages are printed one by one
# (~35 kB of kernel and early systemd lines in a boot-test log: some 3 s at the Pi serial
# console's 115200 baud). `dmesg` and the journal still have them all.
setenv bootargs "${consoles} root=PARTUUID=6a756b65-0${bootpart} ro rootwait quiet fsck.repair=yes net.ifnames=0 rauc.slot=${raucslot} ${jukebox_args}"
echo "jukebox-boot: bootargs ${bootargs}"
booti ${kernel_addr_r} ${ramdisk_addr_r}:${filesize} ${fdt_addr}
echo "jukebox-boot: slot ${raucslot} did not boot; resetting (the next try counts down)"
reset
