#!/bin/busybox sh
# shellcheck shell=dash
# /init of the test bed's initramfs (busybox-static). Runs as PID 1 in the QEMU guest:
#  1. loads the modules of /lib/modules/load.list in order (before anything else, so neither the
#     chroot nor the kernel's own autoloading needs the host's module directory);
#  2. mounts the host's root read-only (9p tag hostroot) at /host and the per-run results
#     directory read-write (9p tag results) at /results;
#  3. builds /newroot: an overlay of the host root with a tmpfs on top (so every path is writable
#     in the guest and nothing reaches the host), falling back to the bare read-only 9p mount
#     with tmpfs on /tmp, /run, /var/tmp, /root; mounts proc, sys, dev, /run, /tmp; binds the
#     guest's module tree at lib/modules/<kver> and the results share at its host path;
#  4. runs <results>/job.sh (written by run-vm.sh) in the chroot with bash, console on ttyS0;
#  5. prints "VM-EXIT <code>", stores it in <results>/exit-code and powers off.
# Kernel command line: ftpalg.results=<host path of the results dir> [ftpalg.timeout=<seconds>]
# [ftpalg.shell=1: drop to a busybox shell on the console instead of powering off].

export PATH=/bin
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1

T0=$(cut -d' ' -f1 /proc/uptime)
say() { echo "vm-init[$(cut -d' ' -f1 /proc/uptime)]: $*"; }

RESULTS='' TIMEOUT=0 SHELL_AT_END=0
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    ftpalg.results=*) RESULTS=${arg#*=} ;;
    ftpalg.timeout=*) TIMEOUT=${arg#*=} ;;
    ftpalg.shell=1) SHELL_AT_END=1 ;;
  esac
done

finish() {
  rc=$1
  [ -n "$2" ] && say "$2"
  echo "$rc" >/results/exit-code 2>/dev/null
  sync
  echo "VM-EXIT $rc"
  if [ "$SHELL_AT_END" = 1 ]; then setsid cttyhack sh; fi
  umount /results 2>/dev/null
  poweroff -f
  echo o >/proc/sysrq-trigger
  sleep 5
}

KVER=$(cat /lib/modules/kver)
[ "$(uname -r)" = "$KVER" ] || say "warning: kernel $(uname -r), modules for $KVER"
loaded=0 failed=0
while read -r ko; do
  optional=
  case "$ko" in '?'*) optional=1; ko=${ko#\?} ;; esac
  if err=$(insmod "/lib/modules/$KVER/$ko" 2>&1); then
    loaded=$((loaded + 1))
  elif [ -z "$optional" ]; then
    failed=$((failed + 1)); say "insmod $ko: $err"
  fi
done </lib/modules/load.list
say "modules: $loaded loaded, $failed failed"
echo /bin/modprobe >/proc/sys/kernel/modprobe

mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /host ||
  finish 1 "cannot mount the host root (9p tag hostroot)"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 results /results ||
  finish 1 "cannot mount the results share (9p tag results)"
[ -n "$RESULTS" ] || finish 1 "no ftpalg.results= on the kernel command line"
[ -f /results/job.sh ] || finish 1 "no job.sh in the results share"

NR=/newroot
mount -t tmpfs -o mode=755 tmpfs /ovl
mkdir -p /ovl/upper /ovl/work
if mount -t overlay overlay -o lowerdir=/host,upperdir=/ovl/upper,workdir=/ovl/work $NR 2>/dev/null; then
  ROOTKIND=overlay
else
  ROOTKIND=9p-readonly
  mount --bind /host $NR
  for d in var/tmp root; do
    [ -d $NR/$d ] && mount -t tmpfs tmpfs $NR/$d
  done
  mount -t tmpfs -o mode=1777 tmpfs $NR/tmp
fi
# With the overlay, /tmp stays the host's (writable through the overlay): a checkout or build tree
# under /tmp (as CI may use) must remain visible to the job.
mount -t proc proc $NR/proc
mount -t sysfs sysfs $NR/sys
mount -t devtmpfs devtmpfs $NR/dev
mkdir -p $NR/dev/pts 2>/dev/null && mount -t devpts devpts $NR/dev/pts 2>/dev/null
mount -t tmpfs -o mode=755 tmpfs $NR/run
# The guest's modules where kmod (and the daemon) expect them. On the read-only fallback this
# works only if the host has that directory.
if mkdir -p "$NR/lib/modules/$KVER" 2>/dev/null; then
  mount --bind "/lib/modules/$KVER" "$NR/lib/modules/$KVER"
else
  say "warning: no lib/modules/$KVER in the new root (modules were loaded before the chroot)"
fi
mkdir -p "$NR$RESULTS" 2>/dev/null
mount --bind /results "$NR$RESULTS" || finish 1 "cannot bind the results share at $RESULTS"
say "root: $ROOTKIND; running $RESULTS/job.sh (boot took ${T0}s)"

if [ "$TIMEOUT" -gt 0 ] 2>/dev/null; then
  timeout -s KILL "$TIMEOUT" chroot $NR /bin/bash "$RESULTS/job.sh"
else
  chroot $NR /bin/bash "$RESULTS/job.sh"
fi
rc=$?
[ $rc -eq 137 ] && say "job killed after ${TIMEOUT}s (guest-side timeout)"
finish $rc "job finished with exit code $rc"
