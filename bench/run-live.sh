#!/usr/bin/env bash
# The live benchmark in one command (see bench/README.md): boots the stock-kernel test bed once
# (tests/vm/run-vm.sh --job bench/live-job.sh) and measures, through the masquerading gateway,
#   1. the same FTP workload (N concurrent ftplib sessions of small RETRs and NLSTs, PORT/PASV
#      alternating) under ftp-algd with 1 worker and with N workers (N = the guest's vCPUs), the
#      kernel's ftp helper and no ALG (PASV, open firewall), the modes in turn, --repeat times;
#   2. the data path: one large PASV download with ftp-algd and with no ALG;
#   3. scale: as many control connections with a pending PORT as feasible toward 10,000.
# Then bench/live_report.py writes BUILD/bench-results/live.md, live.csv and live.png.
# Reports only: exit status 0 unless the VM could not run at all.
#
# Usage: bench/run-live.sh [--sessions "1 50 200 1000"] [--duration S] [--transfers K] [--data-mb MB]
#                          [--scale N] [--scale-time S] [--repeat R] [--no-build] [--diag]
# --repeat R: R alternations of the modes per N; the report gives each ratio to the kernel helper
# as median [min-max] over them.
# --diag adds two short runs (N=50, 5 s) with strace -c and perf record on the daemon
# (diag-strace.txt, diag-perf.txt in the run's bench/ directory; ~1 min more).
# Environment: BUILD_DIR (default build-bench), JOBS (default 2), VM_CACHE (default
# BUILD/vm-cache), FTPALG_VM_* as for run-vm.sh.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD_DIR:-build-bench}
JOBS=${JOBS:-2}
SESSIONS="1 50 200 1000" DURATION=10 TRANSFERS=100 DATA_MB=200 SCALE=10000 SCALE_TIME=150 BUILD_IT=1 DIAG=0 REPEAT=3
COMMAND_LINE="bench/run-live.sh $*"
while [ $# -gt 0 ]; do
  case $1 in
    --sessions) SESSIONS=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    --transfers) TRANSFERS=$2; shift ;;
    --data-mb) DATA_MB=$2; shift ;;
    --scale) SCALE=$2; shift ;;
    --scale-time) SCALE_TIME=$2; shift ;;
    --repeat) REPEAT=$2; shift ;;
    --no-build) BUILD_IT=0 ;;
    --diag) DIAG=1 ;;
    -h|--help) sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: bench/run-live.sh [--sessions LIST] [--duration S] [--transfers K] [--data-mb MB] [--scale N] [--scale-time S] [--repeat R] [--no-build] [--diag]" >&2; exit 2 ;;
  esac
  shift
done
RESULTS=$BUILD/bench-results
mkdir -p "$RESULTS"

if [ "$BUILD_IT" = 1 ]; then
  echo "=== build ftp-algd (Release) in $BUILD ==="
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DFTPALG_BENCH=ON -DBUILD_TESTING=OFF \
    -DCMAKE_CXX_FLAGS="-Wno-error=restrict -g" >/dev/null &&
  cmake --build "$BUILD" -j"$JOBS" --target ftp-algd >"$BUILD/live-build.log" 2>&1 ||
    { cat "$BUILD/live-build.log" >&2; echo "run-live: the build failed" >&2; exit 1; }
fi
DAEMON=$ROOT/$BUILD/ftp-algd
[ -x "$DAEMON" ] || { echo "run-live: $DAEMON missing" >&2; exit 1; }

# Time limit for the VM: boot + setup ~1 min, the workload (runs x (duration + start-up)),
# data path, scale ramp, with margin.
NS=$(wc -w <<<"$SESSIONS")
# Four modes; the 1000-session runs take about a minute more each to log their sessions in.
TIMEOUT=$((120 + NS * 4 * REPEAT * (DURATION + 40) + 4 * 60 + 2 * (SCALE_TIME + 120) + DIAG * 120))
echo "=== test bed: tests/vm/run-vm.sh --job bench/live-job.sh (timeout ${TIMEOUT}s) ==="
T0=$(date +%s)
tests/vm/run-vm.sh --build-dir "$BUILD" --cache-dir "${VM_CACHE:-$BUILD/vm-cache}" \
  --daemon "$DAEMON" --timeout "$TIMEOUT" --job bench/live-job.sh \
  --env FTPALG_BENCH_DIR="$ROOT/bench" --env LIVE_SESSIONS="$SESSIONS" \
  --env LIVE_DURATION="$DURATION" --env LIVE_TRANSFERS="$TRANSFERS" --env LIVE_DATA_MB="$DATA_MB" \
  --env LIVE_SCALE="$SCALE" --env LIVE_SCALE_TIME="$SCALE_TIME" --env LIVE_DIAG="$DIAG" --env LIVE_REPEAT="$REPEAT" live >"$RESULTS/live-console.log" 2>&1
VMRC=$?
SECS=$(( $(date +%s) - T0 ))
# The run directory, as run-vm.sh announced it ("run-vm.sh: TAG: kernel ..., run dir DIR").
RUN=$(sed -n 's/^run-vm.sh: .*, run dir \(.*\)$/\1/p' "$RESULTS/live-console.log" | head -n1)
grep -E '^live-job|^workload|^scale' "$RESULTS/live-console.log" || tail -n 30 "$RESULTS/live-console.log"
if [ ! -d "$RUN/bench" ]; then
  echo "run-live: no results from the guest (run-vm.sh exit $VMRC); see $RESULTS/live-console.log" >&2
  exit 1
fi
echo "=== report (VM run ${SECS}s, run dir $RUN) ==="
python3 bench/live_report.py --run "$RUN/bench" --out "$RESULTS" --command "$COMMAND_LINE" \
  --vm-seconds "$SECS" --sessions "$SESSIONS" --duration "$DURATION" --transfers "$TRANSFERS" \
  --data-mb "$DATA_MB" --scale "$SCALE"
for f in diag-strace.txt diag-perf.txt diag-perf-dso.txt; do
  [ -s "$RUN/bench/$f" ] && cp "$RUN/bench/$f" "$RESULTS/live-$f"
done
exit 0
