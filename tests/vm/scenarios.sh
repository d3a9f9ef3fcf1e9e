#!/bin/bash
# scenarios.sh MODE [CASE-GLOB...]
#
# Runs INSIDE the test VM (chroot of the host's root, see init.sh), started by run-vm.sh's job.sh.
# MODE is the ALG under test:
#   kernel    the kernel's ftp + nf_nat_ftp helpers   (raw PREROUTING: -j CT --helper ftp)
#   none      no helper at all: the data connections must FAIL (proves the cases need an ALG)
#   ftp-algd  the project's daemon ($FTPALG_DAEMON $FTPALG_DAEMON_ARGS, default
#             "--queue 0 --helper-name ftp-alg"; rule -j CT --helper $FTPALG_HELPER_NAME, default
#             ftp-alg); every case is SKIP when the daemon is not built
# CASE-GLOBs select cases by name (e.g. 'masq-ipv4-*' '*-EPSV-*'); default: all.
# FTPALG_LFTP=all: lftp for every case it can do (default: a few).
# The topology, the firewall flavours (FTPALG_FW), the ALG modes and the rest of the environment
# are tests/vm/testbed.sh's (see there); this file is the program: the cases and their order.
#
# Output: one line per case on stdout (the serial console) and in $FTPALG_RESULTS/results.txt:
#   VM-RESULT <mode>[+nft]:<case> PASS|FAIL|SKIP <detail>
# Per-case logs (curl/lftp traces, conntrack listings) in $FTPALG_RESULTS/cases/.
# Exit code: 0 all run cases passed, 1 a case failed, 4 every case was skipped.
set -u
VMDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=testbed.sh
source "$VMDIR/testbed.sh"
testbed_init "$@"

# The pieces of run_case. Those named check_* append to the `problems` and `notes` arrays of
# run_case (bash's dynamic scope: they are run_case's locals).

case_endpoint() {  # TOPO FAMILY: sets CASE_NS (the client's namespace) and CASE_BASE (its URL)
  local topo=$1 v=$2 host
  if [ "$topo" = masq ] || [ "$topo" = fw ]; then
    CASE_NS=cli
    if [ "$v" = 4 ]; then host=198.51.100.2; else host=2001:db8:2::2; fi
  else
    CASE_NS=srv
    if [ "$v" = 4 ]; then host=198.51.100.1; else host=2001:db8:2::1; fi
  fi
  if [ "$v" = 4 ]; then CASE_BASE="ftp://$host"; else CASE_BASE="ftp://[$host]"; fi
}

run_transfers() {  # CMD CLIENT DIR: small, big and a listing (only small without an ALG)
  if [ "$MODE" = none ]; then
    curl_fetch "$CASE_NS" "$CASE_BASE" "$1" "$3" 8 small
  elif [ "$2" = curl ]; then
    curl_fetch "$CASE_NS" "$CASE_BASE" "$1" "$3" 40 "small big list"
  else
    lftp_fetch "$CASE_NS" "$CASE_BASE" "$1" "$3"
  fi
}

# collect_state FAMILY DIR EXP0: what the gateway and the client saw, into the trace and into
# CASE_RELATED, CASE_CT (conntrack listing), CASE_EXPECTED (new expectations), CASE_SUMS, TRACE_TEXT.
collect_state() {
  local v=$1 dir=$2 exp0=$3 exp1
  fw_related "$v" CASE_RELATED
  CASE_CT=$(conntrack -L -f "ipv$v" 2>&1)
  echo "### conntrack -L -f ipv$v"$'\n'"$CASE_CT" >>"$trace"
  expect_new_count exp1
  CASE_EXPECTED=$((exp1 - exp0))
  { echo "### expectation events"; tail -n +$((exp0 + 1)) "$EXPECT_LOG"; } >>"$trace" 2>&1
  CASE_SUMS=$(cd "$dir" && sha256sum small.txt big.bin 2>/dev/null)
  { echo "### sha256 of the downloads (the server's: $SHA_SMALL small.txt, $SHA_BIG big.bin)"
    echo "$CASE_SUMS"; } >>"$trace"
  TRACE_TEXT=$'\n'$(<"$trace")
}

# Without an ALG the control connection works (login accepted, the command sent) and the data
# connection cannot be made; nothing is related, no conntrack carries a helper.
check_without_alg() {  # CLIENT-EXIT-CODE
  [[ $TRACE_TEXT == *$'\n< 230 '* ]] || problems+=("no login on the control connection (topology or server broken)")
  if [ "$1" -eq 0 ] && [[ $CASE_SUMS == *"$SHA_SMALL  small.txt"* ]]; then
    problems+=("transfer WORKED without an ALG (the case does not need one?)")
  else
    notes+=("transfer failed as expected (client exit code $1)")
  fi
  [ "${CASE_RELATED:-0}" -eq 0 ] || problems+=("$CASE_RELATED packets accepted as RELATED without a helper")
  [[ $CASE_CT != *helper=* ]] || problems+=("a conntrack carries a helper")
}

# With an ALG: every transfer byte-identical, three data connections (small, big, listing) each
# admitted as RELATED by its first packet and predicted by an expectation, the control connection
# carrying the helper, and no fall-back to another command (EPSV -> PASV, EPRT -> PORT).
check_with_alg() {  # FAMILY CMD CLIENT-EXIT-CODE DIR
  local v=$1 cmd=$2 rc=$3 dir=$4 listing='' ctl=0 line
  [[ " $HELPER_FAMILIES " == *" $v "* ]] ||
    problems+=("helper rule refused for IPv$v (is $HELPER registered for this family?)")
  [ "$rc" -eq 0 ] || problems+=("client exit code $rc")
  [[ $TRACE_TEXT == *$'\n< 230 '* || $TRACE_TEXT == *'<--- 230 '* ]] ||
    problems+=("no login on the control connection")
  [[ $CASE_SUMS == *"$SHA_SMALL  small.txt"* ]] || problems+=("small.txt missing or sha256 differs")
  [[ $CASE_SUMS == *"$SHA_BIG  big.bin"* ]] || problems+=("big.bin missing or sha256 differs")
  [ -f "$dir/listing" ] && listing=$(<"$dir/listing")
  [[ $listing == *small.txt* && $listing == *big.bin* ]] || problems+=("listing lacks small.txt/big.bin")
  [ "${CASE_RELATED:-0}" -ge 3 ] || problems+=("${CASE_RELATED:-0} packets accepted as RELATED (want >= 3)")
  while read -r line; do
    [[ $line == *"dport=21 "* && $line == *"helper=$HELPER"* ]] && ctl=1
  done <<<"$CASE_CT"
  [ $ctl = 1 ] || problems+=("no control connection with helper=$HELPER in conntrack -L")
  [ "$CASE_EXPECTED" -ge 3 ] || problems+=("$CASE_EXPECTED expectations created (want >= 3)")
  case "$cmd" in
    EPSV) ! sent PASV || problems+=("client fell back to PASV") ;;
    EPRT) ! sent PORT || problems+=("client fell back to PORT") ;;
  esac
  notes+=("3/3 transfers" "related=$CASE_RELATED" "expectations=$CASE_EXPECTED" "helper=$HELPER")
}

run_case() {  # TOPO FAMILY CMD CLIENT
  local topo=$1 v=$2 cmd=$3 client=$4
  local name="$topo-ipv$v-$cmd-$client"
  selected "$name" || return 0
  if [ -n "$ALG_SKIP" ]; then result "$name" SKIP "$ALG_SKIP"; return 0; fi

  local dir=$DL/$name t0 problems=() notes=() rc exp0 secs
  if [ "$RULES" = 1 ]; then rules_load "$topo"; fi
  case_endpoint "$topo" "$v"
  trace=$RES/cases/$name.log
  rm -rf "$dir"; mkdir -p "$dir"
  : >"$trace"
  now_ms t0
  mark() { echo "### [+$(secs_since "$t0")s] $*" >>"$trace"; }

  # Nothing of the previous cases may count: flushing conntrack also drops its expectations.
  conntrack -F >/dev/null 2>&1
  expect_new_count exp0
  pcap_start "$MODE-$name"
  mark "transfers ($client, $cmd)"
  run_transfers "$cmd" "$client" "$dir"
  rc=$?
  mark "client done (exit code $rc)"
  pcap_stop
  collect_state "$v" "$dir" "$exp0"
  mark "state collected"

  sent "$cmd" || problems+=("client did not send $cmd")
  if [ "$RULES" = 1 ] && [[ " $RULES_LOADED " != *" $v "* ]]; then
    problems+=("the rule file for $topo did not load for IPv$v (log above)")
  fi
  if [ "$MODE" = none ]; then
    check_without_alg "$rc"
  else
    check_with_alg "$v" "$cmd" "$rc" "$dir"
  fi
  secs=$(secs_since "$t0")
  if [ ${#problems[@]} -eq 0 ]; then
    result "$name" PASS "$(IFS=,; echo "${notes[*]}") ${secs}s"
  else
    result "$name" FAIL "$(IFS=';'; echo "${problems[*]}") ${secs}s (cases/$name.log)"
  fi
}

# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------
log "mode $MODE, firewall $FW, kernel $(uname -r)"
testbed_up
log "servers up"

MODE_FN=${MODE//-/_}
"alg_setup_$MODE_FN"
log "ALG $MODE: helper='${HELPER:-none}' families='${HELPER_FAMILIES}' ${ALG_SKIP:+skip: $ALG_SKIP}"
# An experiment's changes to the gateway after the ALG is up (e.g. tests/vm/payload_only.sh).
# shellcheck disable=SC1090
[ -n "${FTPALG_SETUP_HOOK:-}" ] && [ -z "$ALG_SKIP" ] && source "$FTPALG_SETUP_HOOK"

# lftp runs a few cases (curl runs all); FTPALG_LFTP=all for every case lftp can do.
LFTP_CASES=${FTPALG_LFTP:-"masq-ipv4-PORT masq-ipv4-PASV masq-ipv6-EPRT dnat-ipv4-PASV dnat-ipv6-EPSV fw-ipv4-PORT fw-ipv4-PASV"}
TOPOS="masq dnat"
[ "$RULES" = 1 ] && TOPOS="masq dnat fw"   # the fw topology exists only with the rule files
for topo in $TOPOS; do
  for v in 4 6; do
    if [ $v = 4 ]; then cmds="PORT EPRT PASV EPSV"; else cmds="EPRT EPSV"; fi
    for cmd in $cmds; do
      run_case "$topo" "$v" "$cmd" curl
      [ "$MODE" = none ] && continue
      # lftp cannot be told to send EPRT over IPv4.
      [ "$v" = 4 ] && [ "$cmd" = EPRT ] && continue
      if [ "$LFTP_CASES" = all ] || [[ " $LFTP_CASES " == *" $topo-ipv$v-$cmd "* ]]; then
        run_case "$topo" "$v" "$cmd" lftp
      fi
    done
  done
done

# The multi-worker modes (FTPALG_EXPECT_WORKERS=N with rules/workers/, tests/vm/CMakeLists.txt):
# the rules spread the sessions, so every worker must have served some.
check_workers_spread() {  # N
  local n=$1 i got spread='' problems=()
  curl -sS --max-time 5 http://127.0.0.1:9477/metrics >"$RES/cases/workers-metrics.txt" 2>&1
  for ((i = 0; i < n; i++)); do
    got=$(sed -n "s/^ftpalg_worker_sessions_total{worker=\"$i\"} //p" "$RES/cases/workers-metrics.txt")
    spread="$spread w$i=${got:-none}"
    [ "${got:-0}" -gt 0 ] || problems+=("worker $i served no session")
  done
  if [ ${#problems[@]} -eq 0 ]; then
    result workers-spread PASS "sessions per worker:$spread"
  else
    result workers-spread FAIL "$(IFS=';'; echo "${problems[*]}"); sessions per worker:$spread"
  fi
}
if [ "$MODE" = ftp-algd ] && [ -n "${FTPALG_EXPECT_WORKERS:-}" ] && [ -z "$ALG_SKIP" ]; then
  check_workers_spread "$FTPALG_EXPECT_WORKERS"
fi

"alg_teardown_$MODE_FN"
{
  echo "### nfct list helper"; nfct list helper 2>&1
  echo "### rule set ($FW)"; fw_dump 2>&1
  echo "### dmesg (netfilter)"; dmesg | grep -iE 'nf_|conntrack|netfilter|cthelper' | tail -n 50
} >"$RES/gateway-state.txt" 2>&1

summarize_and_exit "$MODE$FW_TAG"
