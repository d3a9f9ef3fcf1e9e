#!/bin/bash
# netlink-live.sh [MODE]   (a run-vm.sh --job script: runs INSIDE the test VM; MODE is ignored)
#
#   tests/vm/run-vm.sh --build-dir build --env FTPALG_UNIT_TESTS=$PWD/build/tests/unit_tests \
#     --job tests/vm/netlink-live.sh none
#
# The unit tests' live netlink tests (*LiveTest*: cthelper registration, queue, expectations,
# sequence adjustment, the helper's private data) on Debian's stock kernel, which has what the
# development machine's kernel lacks (nfnetlink_cthelper, the queue's conntrack glue): there they
# skip. Output: VM-RESULT netlink-live PASS|FAIL <gtest summary>; the log in netlink-live.log.
set -u
[ "${FTPALG_IN_VM:-}" = 1 ] || { echo "netlink-live.sh: runs inside the test VM" >&2; exit 2; }
BIN=${FTPALG_UNIT_TESTS:-}
LOG=$FTPALG_RESULTS/netlink-live.log
if [ ! -x "$BIN" ]; then
  echo "VM-RESULT netlink-live SKIP no unit_tests binary (FTPALG_UNIT_TESTS='$BIN')"
  exit 4
fi
"$BIN" --gtest_filter='*LiveTest*' >"$LOG" 2>&1
rc=$?
cat "$LOG"
summary=$(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$LOG" | tr '\n' ' ')
if [ $rc -eq 0 ]; then
  echo "VM-RESULT netlink-live PASS $summary"
else
  echo "VM-RESULT netlink-live FAIL $summary"
fi
exit $rc
