#!/bin/bash
# attacks.sh [MODES] [CASE-GLOB...]   (a run-vm.sh --job script: runs INSIDE the test VM)
#
#   tests/vm/run-vm.sh --build-dir build --job tests/vm/attacks.sh kernel+ftp-algd
#
# Hostile traffic live (docs/hostile-traffic.md): every probe of alg_probe.py (the CASES table
# there: bounce, low port, unsolicited 227/229, PORT/227 text mid-line, in multi-line and error
# replies and after refusals, NAT slipstreaming, PORT before the login, a PORT flood, a 16 MiB
# line, NUL and non-ASCII bytes, EPRT of the wrong family, AUTH TLS), each with its legitimate
# variant as the positive control, against each ALG of MODES (default "kernel+ftp-algd": both in
# one boot, the kernel helper first). The verdict of a probe is whether the data connection
# through the gateway was accepted by a listener on the endpoint the attacker wanted opened, not
# a log line; the hostile session then tries a legitimate PORT/PASV ("after").
#
# A case PASSES when its legitimate variant opened the data path and its hostile variant did what
# is expected of that ALG: ftp-algd opens nothing and the session goes on working; the kernel
# helper does what its source says (docs/hostile-traffic.md, column "kernel ftp helper
# (source)"). So a kernel "PASS" with verdict OPEN confirms a documented hole.
# Output: VM-RESULT <mode>:attack-<case> PASS|FAIL row <row>: hostile <verdict> after=... legit ...
# Topology, firewall and ALG setup come from testbed.sh.
set -u
VMDIR=${FTPALG_VM_DIR:-$(cd "$(dirname "$0")" && pwd)}
MODES=${1:-kernel+ftp-algd}
shift || true
GLOBS=("$@")
# shellcheck source=testbed.sh
source "$VMDIR/testbed.sh"
testbed_init kernel

run_probes() {  # MODE: alg_probe.py decides each case (its CASES table has what each ALG must give)
  MODE=$1
  local out line name row verdict detail n=0
  conntrack -F >/dev/null 2>&1
  log "probes against $MODE"
  out=$(FTPALG_DAEMON_PID=$ALG_PID "$PY" "$VMDIR/alg_probe.py" attacks "$MODE" "${GLOBS[@]}" 2>&1)
  echo "$out" >"$RES/cases/attacks-$MODE.log"
  while read -r line; do
    [[ $line == "CASE "* ]] || continue
    read -r _ name row verdict detail <<<"$line"
    result "attack-$name" "$verdict" "row $row: $detail"
    n=$((n + 1))
  done <<<"$out"
  [ $n -gt 0 ] || result "attacks" FAIL "no probe ran: $(tail -n 3 <<<"$out")"
}

log "attacks: modes $MODES, kernel $(uname -r)"
start_expect_listener
setup_topology || { log "topology setup failed"; exit 1; }
fw_base || { log "firewall setup failed"; exit 1; }
probe_alg() {  # MODE
  run_probes "$1"
  [ "$1" = ftp-algd ] && cp "$RES/ftp-algd.log" "$RES/ftp-algd-attacks.log" 2>/dev/null
}
for_each_alg "$MODES" attacks probe_alg
conntrack -L expect >"$RES/cases/expect-at-end.txt" 2>&1

summarize_and_exit "attacks ($MODES)"
