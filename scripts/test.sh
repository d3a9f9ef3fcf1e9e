#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what it needs, builds three ways and runs
#   1. every CTest label (unit, replay, fuzz corpus replay, vm, lint) on the normal build,
#   2. unit + replay + fuzz corpus under AddressSanitizer and UndefinedBehaviorSanitizer,
#   3. a short libFuzzer smoke run of every fuzz target (clang).
# Usage: scripts/test.sh [ctest arguments for step 1, e.g. -L unit]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
JOBS=${JOBS:-2}

log() { printf '\n=== %s ===\n' "$*"; }

log "dependencies"
scripts/install-deps.sh

log "build (RelWithDebInfo)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$JOBS"

log "tests"
ctest --test-dir build --output-on-failure -j"$JOBS" "$@"

if [ $# -eq 0 ]; then
  log "build (ASan + UBSan)"
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DFTPALG_SANITIZE=ON >/dev/null
  cmake --build build-asan -j"$JOBS"
  log "tests under ASan + UBSan"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure -j"$JOBS" -L 'unit|replay|fuzz'

  log "build (libFuzzer, clang)"
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DFTPALG_FUZZ=ON >/dev/null
  cmake --build build-fuzz -j"$JOBS" --target fuzz_targets
  log "fuzz smoke runs"
  ctest --test-dir build-fuzz --output-on-failure -L fuzz
fi
log "all tests done"
