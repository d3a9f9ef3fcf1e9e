#!/usr/bin/env bash
# The offline benchmark in one command (see bench/README.md):
#   1. builds the project and bench/ in Release into build-bench/ (-DFTPALG_BENCH=ON),
#   2. generates build-bench/bench-data/large.pcap (>= 1M control packets) if absent or stale,
#   3. runs, side by side: engine_bench (Google Benchmark of Engine::Process on synthetic mixes and
#      on the capture's control packets held in memory), the memory per session (10k and 100k
#      sessions, one process each), ftp-alg-replay over the capture, and the floor
#      (pcap_read_floor: libpcap reading the same capture, nothing else),
#   4. with valgrind: callgrind instruction counts per packet (engine path, replay, floor),
#   5. writes build-bench/bench-results/offline.md and offline.csv and prints the table.
# Timed runs use hyperfine when it is installed, otherwise each command runs 3 times (after one
# warm-up run) and the median counts. Reports only: the exit status is 0 unless something could
# not run at all. Takes about 1-1.5 minutes on 2 cores once built (the first build adds 1-3).
#
# Usage: bench/run-offline.sh [--no-callgrind] [--runs N]
# Environment: BUILD_DIR (default build-bench), JOBS (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD_DIR:-build-bench}
JOBS=${JOBS:-2}
RUNS=3
CALLGRIND=1
COMMAND_LINE="bench/run-offline.sh $*"
while [ $# -gt 0 ]; do
  case $1 in
    --no-callgrind) CALLGRIND=0 ;;
    --runs) RUNS=$2; shift ;;
    *) echo "usage: bench/run-offline.sh [--no-callgrind] [--runs N]" >&2; exit 2 ;;
  esac
  shift
done
RESULTS=$BUILD/bench-results
DATA=$BUILD/bench-data
CAPTURE=$DATA/large.pcap
SMALL=$DATA/small.pcap
SNAT=192.0.2.0/24=198.51.100.1

log() { printf '\n=== %s ===\n' "$*"; }
have() { command -v "$1" >/dev/null 2>&1; }

log "build (Release) in $BUILD"
# GCC 12 at -O3 reports a false -Wrestrict in std::string operator+ (GCC PR 105329) inside
# src/core/ip_address.cpp, and -Werror would stop the Release build there: this build directory
# (only) keeps it a warning. -g adds symbols for perf/callgrind without changing the code.
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DFTPALG_BENCH=ON -DBUILD_TESTING=OFF \
  -DCMAKE_CXX_FLAGS="-Wno-error=restrict -g" >/dev/null
if ! cmake --build "$BUILD" -j"$JOBS" --target engine_bench make_large_capture pcap_read_floor \
  ftp-alg-replay >"$BUILD/bench-build.log" 2>&1; then
  cat "$BUILD/bench-build.log" >&2
  echo "run-offline: the build failed" >&2
  exit 1
fi

rm -rf "$RESULTS"
mkdir -p "$RESULTS" "$DATA"
log "capture"
if [ ! -s "$CAPTURE" ] || [ "$CAPTURE" -ot "$BUILD/bench/make_large_capture" ]; then
  "$BUILD/bench/make_large_capture" "$CAPTURE" --packets 1000000 --seed 1 |
    tee "$RESULTS/capture.txt"
else
  echo "$CAPTURE: up to date ($(du -h "$CAPTURE" | cut -f1))" | tee "$RESULTS/capture.txt"
fi
cat "$CAPTURE" >/dev/null  # into the page cache before anything is timed

log "engine_bench (Google Benchmark, median of 3)"
timeout 240 "$BUILD/bench/engine_bench" --capture "$CAPTURE" \
  --benchmark_filter='BM_Engine|BM_ParseFloor' --benchmark_min_time=0.3 \
  --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
  --benchmark_out="$RESULTS/engine.json" --benchmark_out_format=json 2>&1 |
  grep -v 'WARNING.*DEBUG' | tee "$RESULTS/engine.txt"
"$BUILD/bench/engine_bench" --sizes | tee "$RESULTS/sizes.txt"
for sessions in 10000 100000; do
  # One process each, so that the RSS baseline is clean.
  timeout 120 "$BUILD/bench/engine_bench" --benchmark_filter="BM_MemoryPerSession/$sessions/" \
    --benchmark_out="$RESULTS/memory-$sessions.json" --benchmark_out_format=json 2>&1 |
    grep BM_Memory | tee -a "$RESULTS/memory.txt"
done

# measure NAME COMMAND...: RUNS timed runs of COMMAND (stdout and stderr kept in NAME.out).
measure() {
  local name=$1
  shift
  "$@" >"$RESULTS/$name.out" 2>&1  # warm-up, and the output kept for the report
  if have hyperfine; then
    local command
    command=$(printf '%q ' "$@")
    timeout 300 hyperfine --style basic --runs "$RUNS" \
      --export-json "$RESULTS/$name.hyperfine.json" -- "$command >/dev/null 2>&1" |
      grep -E 'Time|Range' || true
  else
    local i
    : >"$RESULTS/$name.times"
    for ((i = 0; i < RUNS; ++i)); do
      # Bash's time keyword: wall, user and system seconds of the run.
      { TIMEFORMAT='%R %U %S'; time "$@" >/dev/null 2>&1; } 2>>"$RESULTS/$name.times"
    done
    echo "$name: wall/user/sys per run: $(tr '\n' ';' <"$RESULTS/$name.times")"
  fi
}

log "replay vs floor ($RUNS runs each)"
measure replay "$BUILD/ftp-alg-replay" "$CAPTURE" --snat "$SNAT" -q --events /dev/null
# Once more, untimed, for the summary line (records, control packets, counters).
"$BUILD/ftp-alg-replay" "$CAPTURE" --snat "$SNAT" -q --events - | tail -n 1 \
  >"$RESULTS/replay-summary.json"
measure replay-no-events "$BUILD/ftp-alg-replay" "$CAPTURE" --snat "$SNAT" -q
measure floor "$BUILD/bench/pcap_read_floor" "$CAPTURE"
measure floor-parse "$BUILD/bench/pcap_read_floor" "$CAPTURE" --parse

if [ "$CALLGRIND" = 1 ] && have valgrind; then
  log "callgrind instruction counts"
  # Engine::Process only (setup excluded): 20000 packets of each mix.
  for mix in steady port 227; do
    timeout 120 valgrind --tool=callgrind --callgrind-out-file="$RESULTS/callgrind.engine-$mix" \
      --collect-atstart=no --toggle-collect='ftpalg::Engine::Process(*' \
      "$BUILD/bench/engine_bench" --count "$mix" 20000 1 >/dev/null 2>&1
  done
  # A 50k-packet capture (same generator and seed): Engine::Process over all its control packets
  # (the daemon's configuration), then the whole replay process and the whole floor process.
  "$BUILD/bench/make_large_capture" "$SMALL" --packets 50000 --seed 1 >"$RESULTS/small-capture.txt"
  timeout 120 valgrind --tool=callgrind --callgrind-out-file="$RESULTS/callgrind.engine-capture" \
    --collect-atstart=no --toggle-collect='ftpalg::Engine::Process(*' \
    "$BUILD/bench/engine_bench" --count-capture "$SMALL" daemon >/dev/null 2>&1
  timeout 180 valgrind --tool=callgrind --callgrind-out-file="$RESULTS/callgrind.replay" \
    "$BUILD/ftp-alg-replay" "$SMALL" --snat "$SNAT" -q --events /dev/null >/dev/null 2>&1
  timeout 60 valgrind --tool=callgrind --callgrind-out-file="$RESULTS/callgrind.floor" \
    "$BUILD/bench/pcap_read_floor" "$SMALL" >/dev/null 2>&1
else
  echo "(callgrind skipped)"
fi

log "results"
python3 bench/offline_report.py "$RESULTS" "$RUNS" "${COMMAND_LINE% }"
echo
echo "written: $RESULTS/offline.md $RESULTS/offline.csv"
