#!/bin/bash
# run-vm.sh [options] MODE [CASE-GLOB...]
#
# Boots Debian 12's stock kernel under QEMU (TCG) with the test bed's initramfs and runs
# scenarios.sh MODE [CASE-GLOB...] in the guest. MODE: kernel | none | ftp-algd.
# Exit code: the guest's verdict: 0 pass, 1 fail (also: timeout, boot failure), 4 skip
# (qemu, busybox-static or the kernel package cannot be had here, or every case was skipped).
#
# Options:
#   --build-dir DIR   build tree (default: ./build); runs go to DIR/vm-runs/
#   --cache-dir DIR   kernel + initramfs cache (default: BUILD/vm-cache)
#   --daemon PATH     the ftp-algd binary (default: BUILD/ftp-algd)
#   --daemon-args S   its arguments (default: "--queue 0 --helper-name ftp-alg")
#   --helper-name N   the helper name the daemon registers (default: ftp-alg)
#   --timeout S       hard limit for the whole VM run, seconds (default: 600)
#   --fw FLAVOUR      the gateway's firewall: iptables (default, i.e. iptables-nft) or nft, the
#                     test bed's inline rule sets; rules-iptables or rules-nft, the project's
#                     operator files rules/{nat-gateway,published-server,firewall}.* (one per
#                     topology, interfaces and helper name adjusted with sed; adds the fw
#                     topology: no NAT, stateful firewall only)
#   --env NAME=VALUE  exported in the guest's job (e.g. FTPALG_LFTP=all); repeatable
#   --pcap            capture each case on br0 and out0 into RUN/pcap/ (tcpdump in the guest)
#   --shell           do not power off at the end: a shell on the console (interactive use)
#   --job FILE        run FILE (bash, in the guest chroot) instead of scenarios.sh, as
#                     "FILE MODE [ARGS...]"; FTPALG_VM_DIR names tests/vm (faults.sh, attacks.sh)
# Results: BUILD/vm-runs/<mode>-<time>/: results.txt, console.log, cases/*.log, ...
# and the symlink BUILD/vm-runs/<mode>-latest.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
BUILD='' CACHE='' DAEMON='' DAEMON_ARGS='' HELPER_NAME='' FW=iptables EXTRA_ENV=() TIMEOUT=600 PCAP=0
SHELL_AT_END=0 JOB=''
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) BUILD=$2; shift 2 ;;
    --cache-dir) CACHE=$2; shift 2 ;;
    --daemon) DAEMON=$2; shift 2 ;;
    --daemon-args) DAEMON_ARGS=$2; shift 2 ;;
    --helper-name) HELPER_NAME=$2; shift 2 ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    --fw) FW=$2; shift 2 ;;
    --env) EXTRA_ENV+=("$2"); shift 2 ;;
    --pcap) PCAP=1; shift ;;
    --shell) SHELL_AT_END=1; shift ;;
    --job) JOB=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "run-vm.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
MODE=${1:-}
[ -n "$MODE" ] || { echo "usage: run-vm.sh [options] kernel|none|ftp-algd [CASE-GLOB...]" >&2; exit 2; }
shift

skip() { echo "run-vm.sh: SKIP: $*" >&2; exit 4; }
die() { echo "run-vm.sh: $*" >&2; exit 1; }

BUILD=${BUILD:-$PWD/build}
mkdir -p "$BUILD" && BUILD=$(cd "$BUILD" && pwd)
CACHE=${CACHE:-$BUILD/vm-cache}
DAEMON=${DAEMON:-$BUILD/ftp-algd}
# The guest's job runs in /tmp: a relative path would name nothing there.
case "$DAEMON" in /*) ;; *) DAEMON=$PWD/$DAEMON ;; esac

case "$MODE" in kernel|none|ftp-algd) ;; *) [ -n "$JOB" ] || die "unknown mode $MODE" ;; esac
case "$FW" in iptables|nft|rules-iptables|rules-nft) ;; *) die "--fw must be iptables, nft, rules-iptables or rules-nft" ;; esac
TAG=$MODE
[ "$FW" = iptables ] || TAG=$MODE-$FW
# A --job run keeps its own run directories (and rotation): <mode>-<job name>-<time>.
[ -z "$JOB" ] || TAG=$TAG-$(basename "$JOB" .sh)
# No boot for nothing: every ftp-algd case would be skipped in the guest.
if [ "$MODE" = ftp-algd ] && [ ! -x "$DAEMON" ]; then
  skip "ftp-algd not built ($DAEMON): nothing to test in mode ftp-algd"
fi

# --- What the host needs ------------------------------------------------------------------
QEMU=$(command -v qemu-system-x86_64) || skip "qemu-system-x86_64 not found (Debian package qemu-system-x86)"
"$QEMU" -device help 2>/dev/null | grep -q virtio-9p-pci || skip "this qemu has no virtio-9p (virtfs) support"
[ "$(uname -m)" = x86_64 ] || skip "host is $(uname -m), the test bed boots an amd64 kernel"
[ -w /dev/null ] && [ -r /dev/urandom ] || skip "/dev/null or /dev/urandom not usable"
command -v timeout >/dev/null || skip "timeout (coreutils) not found"
# The guest runs the host's own programs (its root is the host's, shared read-only).
missing=
for tool in bash curl lftp iptables ip6tables iptables-restore nft conntrack nfct ip sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
/usr/bin/python3 -c 'import pyftpdlib' 2>/dev/null || missing="$missing python3-pyftpdlib"
[ "$PCAP" = 0 ] || command -v tcpdump >/dev/null 2>&1 || missing="$missing tcpdump"
[ -z "$missing" ] || skip "missing on the host (the guest uses the host's root):$missing; run scripts/install-deps.sh"

"$HERE/fetch-kernel.sh" "$CACHE"; rc=$?
[ $rc -eq 0 ] || exit $rc
# vsftpd, ProFTPD and Pure-FTPd for the jobs that use tests/vm/ftp_servers.sh (FTPALG_VM_CACHE in
# the guest); without them only those jobs skip, so a failure here is not fatal.
"$HERE/fetch-ftp-servers.sh" "$CACHE" || echo "run-vm.sh: FTP servers not fetched (jobs that need them skip)" >&2
"$HERE/build-initramfs.sh" "$CACHE" >/dev/null; rc=$?
[ $rc -eq 0 ] || exit $rc
# shellcheck disable=SC1091
. "$CACHE/kernel.env"
INITRD=$CACHE/initramfs-$KVER.cpio.gz

# --- The run directory (shared read-write with the guest) ---------------------------------
RUNS=$BUILD/vm-runs
mkdir -p "$RUNS"
RUN=$RUNS/$TAG-$(date +%Y%m%d-%H%M%S)-$$
mkdir -p "$RUN"
ln -sfn "$(basename "$RUN")" "$RUNS/$TAG-latest"
# Keep the five newest runs of this mode (and firewall).
ls -1dt "$RUNS/$TAG"-[0-9]* 2>/dev/null | tail -n +6 | xargs -r rm -rf

q() { printf '%q ' "$@"; }
{
  echo "# written by run-vm.sh; run by the guest's /init: chroot <host root> bash $RUN/job.sh"
  echo "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  echo "export HOME=/root LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=dumb FTPALG_IN_VM=1"
  echo "export FTPALG_RESULTS=$(q "$RUN")"
  echo "export FTPALG_VM_DIR=$(q "$HERE")"   # tests/vm, for --job scripts (faults.sh, attacks.sh)
  echo "export FTPALG_VM_CACHE=$(q "$CACHE")"  # ftp-servers/ of fetch-ftp-servers.sh
  echo "export FTPALG_DAEMON=$(q "$DAEMON")"
  [ -n "$DAEMON_ARGS" ] && echo "export FTPALG_DAEMON_ARGS=$(q "$DAEMON_ARGS")"
  [ -n "$HELPER_NAME" ] && echo "export FTPALG_HELPER_NAME=$(q "$HELPER_NAME")"
  echo "export FTPALG_PCAP=$PCAP FTPALG_FW=$FW"
  for kv in "${EXTRA_ENV[@]}"; do echo "export $(q "$kv")"; done
  echo "cd /tmp"
  if [ -n "$JOB" ]; then
    echo "exec bash $(q "$RUN/job-user.sh") $(q "$MODE" "$@")"
  else
    echo "exec bash $(q "$HERE/scenarios.sh" "$MODE" "$@")"
  fi
} >"$RUN/job.sh"
# A --job file is copied into the run directory: the guest's /tmp is its own.
[ -z "$JOB" ] || cp "$JOB" "$RUN/job-user.sh"

# The guest stops the job 20 s before the host kills qemu, so that partial results still arrive.
GUEST_TIMEOUT=$((TIMEOUT > 60 ? TIMEOUT - 20 : 0))
# no_timer_check: under TCG on a loaded host the kernel's IO-APIC timer test can miss its ticks
# and panic ("IO-APIC + timer doesn't work!", seen at load 11); the emulated timer works.
APPEND="console=ttyS0 quiet loglevel=4 panic=-1 no_timer_check ftpalg.results=$RUN ftpalg.timeout=$GUEST_TIMEOUT"
[ "$SHELL_AT_END" = 1 ] && APPEND="$APPEND ftpalg.shell=1"

echo "run-vm.sh: $TAG: kernel $KPKG, run dir $RUN" >&2
T0=$(date +%s.%N)
QEMU_ARGS=(
  -accel "${FTPALG_VM_ACCEL:-tcg}" -cpu "${FTPALG_VM_CPU:-max}" -m 1024 -smp 2 -nographic -no-reboot -nic none
  -kernel "$VMLINUZ" -initrd "$INITRD" -append "$APPEND"
  -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap"
  -virtfs "local,path=$RUN,mount_tag=results,security_model=none,multidevs=remap"
)
if [ "$SHELL_AT_END" = 1 ]; then
  "$QEMU" "${QEMU_ARGS[@]}"
  exit $?
fi
# The console goes to console.log and, live, to our stdout (CTest keeps it in its log). The pipeline
# runs in the background so that a TERM/INT (CTest's timeout, Ctrl-C) stops our qemu at once.
stop_qemu() {
  [ -s "$RUN/qemu.pid" ] && kill "$(cat "$RUN/qemu.pid")" 2>/dev/null
  echo "run-vm.sh: $TAG: interrupted; qemu stopped" >&2
  exit 1
}
trap stop_qemu TERM INT HUP
{
  timeout --kill-after=10 "$TIMEOUT" "$QEMU" "${QEMU_ARGS[@]}" -pidfile "$RUN/qemu.pid" </dev/null 2>&1
  echo $? >"$RUN/.qemu-exit"
} | tr -d '\r' | sed -u 's/\x1b\[[0-9;?]*[a-zA-Z]//g; s/\x1bc//g' | tee "$RUN/console.log" &
wait $!
trap - TERM INT HUP
QRC=$(cat "$RUN/.qemu-exit" 2>/dev/null || echo 1)
SECS=$(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')

# --- The verdict ---------------------------------------------------------------------------
RC=
if [ -f "$RUN/exit-code" ]; then
  RC=$(tr -dc '0-9' <"$RUN/exit-code")
elif grep -q '^VM-EXIT [0-9]' "$RUN/console.log"; then
  RC=$(sed -n 's/^VM-EXIT \([0-9]*\).*/\1/p' "$RUN/console.log" | tail -n1)
fi
echo "----------------------------------------------------------------------"
if [ -s "$RUN/results.txt" ]; then
  grep -E '^(VM-RESULT|SUMMARY)' "$RUN/results.txt"
fi
if [ $QRC -eq 124 ] || [ $QRC -eq 137 ]; then
  echo "run-vm.sh: $TAG: TIMEOUT: qemu killed after ${TIMEOUT}s (run dir $RUN)"
  exit 1
fi
if [ -z "$RC" ]; then
  echo "run-vm.sh: $TAG: no verdict from the guest (qemu exit $QRC, ${SECS}s); see $RUN/console.log"
  exit 1
fi
case "$RC" in
  0) echo "run-vm.sh: $TAG: PASS in ${SECS}s (run dir $RUN)"; exit 0 ;;
  4) echo "run-vm.sh: $TAG: SKIP in ${SECS}s (run dir $RUN)"; exit 4 ;;
  *) echo "run-vm.sh: $TAG: FAIL (guest exit $RC) in ${SECS}s (run dir $RUN)"; exit 1 ;;
esac
