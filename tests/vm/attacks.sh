#!/bin/bash
# attacks.sh [MODES] [CASE-GLOB...]   (a run-vm.sh --job script: runs INSIDE the test VM)
#
#   tests/vm/run-vm.sh --build-dir build --job tests/vm/attacks.sh kernel+ftp-algd
#
# Hostile traffic live (docs/hostile-traffic.md): every probe of alg_probe.py (bounce PORT, PORT
# to port 22, unsolicited 227 from a DNAT-published server and to a masqueraded client, NAT
# slipstreaming, PORT after a failed login), each with its legitimate variant as the positive
# control, against each ALG of MODES (default "kernel+ftp-algd": both in one boot, the kernel
# helper first). The verdict of a probe is whether the data connection through the gateway was
# accepted by a listener on the endpoint the attacker wanted opened, not a log line.
#
# A case PASSES when its legitimate variant opened the data path and its hostile variant did what
# is expected of that ALG: ftp-algd opens nothing; the kernel helper does what its source says
# (docs/hostile-traffic.md, column "kernel ftp helper (source)"): bounce refused, the rest
# opened. So a kernel "PASS" with verdict OPEN confirms the documented hole.
# Output: VM-RESULT <mode>:attack-<case> PASS|FAIL <hostile verdict>, legit <verdict> ...
# Topology, firewall and ALG setup come from scenarios.sh (sourced with FTPALG_SCENARIOS_LIB=1).
set -u
VMDIR=${FTPALG_VM_DIR:-$(cd "$(dirname "$0")" && pwd)}
MODES=${1:-kernel+ftp-algd}
shift || true
GLOBS=("$@")
FTPALG_SCENARIOS_LIB=1
# shellcheck source=scenarios.sh
source "$VMDIR/scenarios.sh" kernel

# What each ALG's hostile variant must give (OPEN: the documented hole of the kernel helper).
declare -A WANT_kernel=([port-bounce]=CLOSED [port-low]=OPEN [unsolicited-227-dnat]=OPEN
  [unsolicited-227-masq]=OPEN [slipstream]=OPEN [port-before-login]=OPEN)

run_probes() {  # MODE
  MODE=$1
  local out line name variant v detail
  declare -A hv lv hd ld
  conntrack -F >/dev/null 2>&1
  log "probes against $MODE"
  out=$("$PY" "$VMDIR/alg_probe.py" attacks "${GLOBS[@]}" 2>&1)
  echo "$out" >"$RES/cases/attacks-$MODE.log"
  while read -r line; do
    [[ $line == "PROBE "* ]] || continue
    read -r _ name variant v detail <<<"$line"
    if [ "$variant" = hostile ]; then hv[$name]=$v hd[$name]=$detail; else lv[$name]=$v ld[$name]=$detail; fi
  done <<<"$out"
  [ ${#hv[@]} -gt 0 ] || { result "attacks" FAIL "no probe ran: $(tail -n 3 <<<"$out")"; return; }
  for name in $(printf "%s\n" "${!hv[@]}" | sort); do
    local want=CLOSED
    [ "$MODE" = kernel ] && want=${WANT_kernel[$name]:-CLOSED}
    local problems=()
    [ "${lv[$name]:-}" = OPEN ] || problems+=("positive control: legit variant ${lv[$name]:-missing} (${ld[$name]:-})")
    [ "${hv[$name]}" = "$want" ] || problems+=("hostile variant ${hv[$name]}, expected $want (${hd[$name]})")
    if [ ${#problems[@]} -eq 0 ]; then
      result "attack-$name" PASS "hostile ${hv[$name]} (expected for $MODE), legit ${lv[$name]}; ${hd[$name]}"
    else
      result "attack-$name" FAIL "$(IFS=';'; echo "${problems[*]}")"
    fi
  done
}

log "attacks: modes $MODES, kernel $(uname -r)"
start_expect_listener
setup_topology || { log "topology setup failed"; exit 1; }
fw_base || { log "firewall setup failed"; exit 1; }
IFS=+ read -r -a mode_list <<<"$MODES"
for m in "${mode_list[@]}"; do
  HELPER='' HELPER_FAMILIES='' ALG_SKIP='' ALG_PID=''
  MODE=$m
  case "$m" in
    kernel) alg_setup_kernel ;;
    ftp-algd) alg_setup_ftp_algd ;;
    *) log "unknown mode $m"; exit 2 ;;
  esac
  if [ -n "$ALG_SKIP" ]; then result attacks SKIP "$ALG_SKIP"; continue; fi
  run_probes "$m"
  [ "$m" = ftp-algd ] && cp "$RES/ftp-algd.log" "$RES/ftp-algd-attacks.log" 2>/dev/null
  "alg_teardown_${m//-/_}"
done
conntrack -L expect >"$RES/cases/expect-at-end.txt" 2>&1

SUMMARY="SUMMARY attacks ($MODES): $NPASS pass, $NFAIL fail, $NSKIP skip in $(secs_since "$T_START")s"
echo "$SUMMARY"
echo "$SUMMARY" >>"$RES/results.txt"
[ $NFAIL -gt 0 ] && exit 1
[ $NPASS -eq 0 ] && exit 4
exit 0
