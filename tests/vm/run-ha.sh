#!/bin/bash
# run-ha.sh [options] [MODES]
#
# The HA failover test (issue 11 part 3): three QEMU guests of Debian 12's stock kernel at once,
# gateway A (primary), gateway B (backup) and a hosts guest (clients, servers and the two L2
# switches), joined by point-to-point virtual links (QEMU -netdev dgram, UDP on 127.0.0.1), run
# tests/vm/ha.sh in each (see its header for the topology and the scenario). MODES: kernel,
# ftp-algd or kernel+ftp-algd (default): one boot of the three guests per mode.
# Exit code: 0 pass, 1 fail (also timeout or boot failure), 4 skip (qemu, conntrackd,
# keepalived, the kernel package ... cannot be had here; or ftp-algd not built). The kernel
# helper's run is the reference: its failures are reported, not counted (docs/ha.md).
#
# Options:
#   --build-dir DIR   build tree (default ./build); runs go to DIR/vm-runs/ha-<mode>-<time>/
#   --cache-dir DIR   kernel + initramfs cache (default BUILD/vm-cache; shared with run-vm.sh)
#   --daemon PATH     the ftp-algd binary (default BUILD/ftp-algd)
#   --timeout S       hard limit per mode, seconds (default 600)
#   --memory MB       per guest (default 640)
# Results: RUN/hosts/results.txt (VM-RESULT lines, SUMMARY), RUN/{gwA,gwB,hosts}/console.log,
# RUN/gw?/state.txt (conntrack tables, expectations, sequence adjustments, conntrackd caches and
# statistics before and after the failover), RUN/gw?/ct-events.txt (every event of a control
# connection, with the sequence adjustment when the event carried it), keepalived.log,
# ha-state.txt (the notify script's transitions), ftp-algd.log.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
BUILD='' CACHE='' DAEMON='' TIMEOUT=600 MEMORY=640
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) BUILD=$2; shift 2 ;;
    --cache-dir) CACHE=$2; shift 2 ;;
    --daemon) DAEMON=$2; shift 2 ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    --memory) MEMORY=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "run-ha.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
MODES=${1:-kernel+ftp-algd}

skip() { echo "run-ha.sh: SKIP: $*" >&2; exit 4; }
BUILD=${BUILD:-$PWD/build}
mkdir -p "$BUILD" && BUILD=$(cd "$BUILD" && pwd)
CACHE=${CACHE:-$BUILD/vm-cache}
DAEMON=${DAEMON:-$BUILD/ftp-algd}
case "$DAEMON" in /*) ;; *) DAEMON=$PWD/$DAEMON ;; esac

QEMU=$(command -v qemu-system-x86_64) || skip "qemu-system-x86_64 not found (package qemu-system-x86)"
"$QEMU" -device help 2>/dev/null | grep -q virtio-9p-pci || skip "this qemu has no virtio-9p"
"$QEMU" -netdev help 2>/dev/null | grep -qx dgram || skip "this qemu has no -netdev dgram (QEMU >= 7.2)"
[ "$(uname -m)" = x86_64 ] || skip "host is $(uname -m), the test bed boots an amd64 kernel"
missing=
for tool in conntrackd keepalived conntrack nfct iptables-restore ip logger; do
  command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
/usr/bin/python3 -c 'import pyftpdlib' 2>/dev/null || missing="$missing python3-pyftpdlib"
[ -z "$missing" ] || skip "missing on the host (the guests use the host's root):$missing; run scripts/install-deps.sh"

"$HERE/fetch-kernel.sh" "$CACHE" || exit $?
"$HERE/build-initramfs.sh" "$CACHE" >/dev/null || exit $?
# shellcheck disable=SC1091
. "$CACHE/kernel.env"
INITRD=$CACHE/initramfs-$KVER.cpio.gz

QEMU_PIDS=()
# shellcheck disable=SC2317  # a trap handler
stop_all() {
  local pid
  for pid in "${QEMU_PIDS[@]}"; do [ -s "$pid" ] && kill "$(cat "$pid")" 2>/dev/null; done
  echo "run-ha.sh: interrupted; qemu stopped" >&2
  exit 1
}
trap stop_all TERM INT HUP

q() { printf '%q ' "$@"; }
# One guest: ROLE MODE RUN NIC-ARGS...; the console into RUN/ROLE/console.log.
boot_guest() {
  local role=$1 mode=$2 run=$3
  shift 3
  local dir=$run/$role
  mkdir -p "$dir"
  {
    echo "# written by run-ha.sh; run by the guest's /init"
    echo "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    echo "export HOME=/root LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=dumb FTPALG_IN_VM=1"
    echo "export FTPALG_RESULTS=$(q "$dir") FTPALG_HA_SYNC=$(q "$run/sync")"
    echo "export FTPALG_DAEMON=$(q "$DAEMON")"
    # 1: count the pending-PASV session too (a known limit of conntrackd's ExpectationSync)
    echo "export FTPALG_HA_COUNT_PDNAT=$(q "${FTPALG_HA_COUNT_PDNAT:-0}")"
    echo "# the shared directory: a 9p mount of its own (the results share is this guest's)"
    echo "mkdir -p $(q "$run/sync") && mount -t 9p -o trans=virtio,version=9p2000.L sync $(q "$run/sync")"
    echo "cd /tmp"
    echo "exec bash $(q "$HERE/ha.sh" "$role" "$mode")"
  } >"$dir/job.sh"
  local append="console=ttyS0 quiet loglevel=4 panic=-1 no_timer_check cryptomgr.notests"
  append="$append ftpalg.results=$dir ftpalg.timeout=$((TIMEOUT - 30))"
  {
    timeout --kill-after=10 "$TIMEOUT" "$QEMU" -accel "${FTPALG_VM_ACCEL:-tcg}" \
      -cpu "${FTPALG_VM_CPU:-max}" -m "$MEMORY" -smp 1 -nographic -no-reboot -nic none \
      -kernel "$VMLINUZ" -initrd "$INITRD" -append "$append" \
      -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap" \
      -virtfs "local,path=$dir,mount_tag=results,security_model=none,multidevs=remap" \
      -virtfs "local,path=$run/sync,mount_tag=sync,security_model=none,multidevs=remap" \
      -pidfile "$dir/qemu.pid" "$@" </dev/null 2>&1
    echo $? >"$dir/.qemu-exit"
  } | sed -u 's/\r//g; s/\x1b\[[0-9;?]*[a-zA-Z]//g; s/\x1bc//g' >"$dir/console.log" &
  QEMU_PIDS+=("$dir/qemu.pid")
}

# A point-to-point link: two NIC argument lists, one per end (UDP ports P and P+1 on 127.0.0.1).
nic() {  # ID MAC LOCAL-PORT REMOTE-PORT
  echo "-netdev dgram,id=$1,local.type=inet,local.host=127.0.0.1,local.port=$3,remote.type=inet,remote.host=127.0.0.1,remote.port=$4"
  echo "-device virtio-net-pci,netdev=$1,mac=$2,romfile="
}

run_mode() {  # MODE
  local mode=$1
  if [ "$mode" = ftp-algd ] && [ ! -x "$DAEMON" ]; then
    echo "run-ha.sh: SKIP ftp-algd: not built ($DAEMON)" >&2
    return 4
  fi
  local runs=$BUILD/vm-runs run
  run=$runs/ha-$mode-$(date +%Y%m%d-%H%M%S)-$$
  mkdir -p "$run/sync"
  ln -sfn "$(basename "$run")" "$runs/ha-$mode-latest"
  # shellcheck disable=SC2012  # our own names: no blanks
  ls -1dt "$runs/ha-$mode"-[0-9]* 2>/dev/null | tail -n +6 | xargs -r rm -rf
  # Ten UDP ports from a base that differs between concurrent runs.
  local p=$((20000 + (($$ * 7 + RANDOM) % 4000) * 10))
  local -a a b h
  # shellcheck disable=SC2207
  a=($(nic lan 52:54:00:0a:00:01 $((p + 1)) $((p + 0))) $(nic wan 52:54:00:0a:00:02 $((p + 5)) $((p + 4)))
     $(nic sync 52:54:00:0a:00:03 $((p + 8)) $((p + 9))))
  # shellcheck disable=SC2207
  b=($(nic lan 52:54:00:0b:00:01 $((p + 3)) $((p + 2))) $(nic wan 52:54:00:0b:00:02 $((p + 7)) $((p + 6)))
     $(nic sync 52:54:00:0b:00:03 $((p + 9)) $((p + 8))))
  # shellcheck disable=SC2207
  h=($(nic inA 52:54:00:0c:00:01 $((p + 0)) $((p + 1))) $(nic inB 52:54:00:0c:00:02 $((p + 2)) $((p + 3)))
     $(nic outA 52:54:00:0c:00:03 $((p + 4)) $((p + 5))) $(nic outB 52:54:00:0c:00:04 $((p + 6)) $((p + 7))))
  echo "run-ha.sh: $mode: kernel $KPKG, UDP ports $p-$((p + 9)), run dir $run" >&2
  local t0=$SECONDS
  QEMU_PIDS=()
  boot_guest hosts "$mode" "$run" "${h[@]}"
  boot_guest gwA "$mode" "$run" "${a[@]}"
  boot_guest gwB "$mode" "$run" "${b[@]}"
  wait
  local role rc=
  for role in hosts gwA gwB; do
    echo "run-ha.sh: $mode: $role: qemu exit $(cat "$run/$role/.qemu-exit" 2>/dev/null)," \
      "job exit $(cat "$run/$role/exit-code" 2>/dev/null || echo none)" >&2
  done
  [ -f "$run/hosts/exit-code" ] && rc=$(tr -dc '0-9' <"$run/hosts/exit-code")
  echo "----------------------------------------------------------------------"
  [ -s "$run/hosts/results.txt" ] && cat "$run/hosts/results.txt"
  case "$rc" in
    0) echo "run-ha.sh: $mode: PASS in $((SECONDS - t0)) s (run dir $run)"; return 0 ;;
    4) echo "run-ha.sh: $mode: SKIP in $((SECONDS - t0)) s (run dir $run)"; return 4 ;;
    *) echo "run-ha.sh: $mode: FAIL (hosts exit ${rc:-none}) in $((SECONDS - t0)) s (run dir $run)"
       return 1 ;;
  esac
}

overall=4
for mode in ${MODES//+/ }; do
  case "$mode" in kernel|ftp-algd) ;; *) echo "run-ha.sh: unknown mode $mode" >&2; exit 2 ;; esac
  run_mode "$mode"
  rc=$?
  if [ $rc -eq 1 ] && [ "$mode" = kernel ]; then
    # The kernel helper is the reference (as in fullnat.sh): it loses the sequence adjustment on
    # failover (docs/ha.md), so its failures are reported, not counted.
    echo "run-ha.sh: kernel: the kernel helper is the reference; its failures are not counted"
    rc=0
  fi
  if [ $rc -eq 1 ]; then overall=1
  elif [ $rc -eq 0 ] && [ $overall -eq 4 ]; then overall=0
  fi
done
exit $overall
