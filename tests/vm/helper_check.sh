#!/bin/bash
# helper_check.sh: is the helper really attached? (issue 13 part 2). One boot, mode ftp-algd,
# masquerade topology, run with FTPALG_FW=rules-nft (run-vm.sh --fw rules-nft --job ...). For
# each rule set `ftp-algd --check` must say what is wrong or right, and a running ftp-algd must
# count (ftpalg_unhelped_control_connections_total) and log control connections that no rule gave
# the helper:
#   check-forgotten   rules/nat-gateway.nft without its helper lines: --check warns that no rule
#                     attaches the helper; an IPv4 control connection is counted and logged.
#   check-ipv4-only   the same file with its helper object for IPv4 only (l3proto ip; the table
#                     stays inet, so IPv6 is still tracked, filtered and masqueraded): --check
#                     accepts IPv4 and warns for IPv6; an IPv4 PASV transfer works and is not
#                     counted; an IPv6 control connection is counted and logged. (With the whole
#                     file as a "table ip", no rule would track IPv6 at all: the kernel then keeps
#                     no conntrack for it and sends no event, so only --check can tell.)
#   check-nft         rules/nat-gateway.nft as shipped: --check has an ok line and no warning about
#                     the helper; IPv4 and IPv6 PASV transfers work; nothing is counted.
#   check-iptables    rules/nat-gateway.iptables + .ip6tables: ok lines for iptables and ip6tables,
#                     the same transfers, nothing counted.
#   status            (with check-nft's rules) `ftp-algd status` and `status --json` in the middle
#                     of a slowed-down active-mode transfer: the session is listed, logged in as
#                     anonymous, with both sides of the NAT.
# The daemon is restarted for each case (its once-a-minute warning and its count start afresh).
# Output: VM-RESULT ftp-algd+rules-nft:check-<case> PASS|FAIL <detail>; logs in cases/.
set -u
VMDIR=${FTPALG_VM_DIR:-$(cd "$(dirname "$0")" && pwd)}
# shellcheck source=testbed.sh
source "$VMDIR/testbed.sh"
testbed_init "${1:-ftp-algd}" "${@:2}"
[ "$MODE" = ftp-algd ] || { echo "helper_check.sh: only mode ftp-algd" >&2; exit 2; }

unhelped() {  # VAR: the daemon's count of unhelped control connections (empty if unreachable)
  local value
  value=$(curl -sS --max-time 5 http://127.0.0.1:9477/metrics 2>/dev/null |
    sed -n 's/^ftpalg_unhelped_control_connections_total //p')
  printf -v "$1" '%s' "$value"
}

# Empties both firewalls and loads RULES-FILE-COPIES (nft file, or iptables + ip6tables files).
load_rules() {  # KIND FILE...
  local kind=$1 file
  shift
  nft flush ruleset
  for v in 4 6; do printf '*nat\nCOMMIT\n*raw\nCOMMIT\n*filter\nCOMMIT\n' | "$(ipt "$v")-restore"; done
  for file in "$@"; do
    case "$kind" in
      nft) nft -f "$file" >>"$trace" 2>&1 || return 1 ;;
      iptables)
        case "$file" in
          *.ip6tables) ip6tables-restore <"$file" >>"$trace" 2>&1 || return 1 ;;
          *) iptables-restore <"$file" >>"$trace" 2>&1 || return 1 ;;
        esac ;;
    esac
  done
}

begin() {  # NAME: selected? restarts the daemon, sets trace
  selected "$1" || return 1
  trace=$RES/cases/$1.log
  : >"$trace"
  alg_teardown_ftp_algd >/dev/null 2>&1
  conntrack -F >/dev/null 2>&1
  alg_setup_ftp_algd
  log "case $1"
}

# Runs `ftp-algd --check` into cases/NAME.check and the trace.
run_check() {  # NAME
  "$DAEMON" --check --helper-name "$ALGD_HELPER" --log-format text >"$RES/cases/$1.check" 2>&1
  { echo "### ftp-algd --check:"; cat "$RES/cases/$1.check"; } >>"$trace"
  CHECK=$(<"$RES/cases/$1.check")
}

# One PASV transfer of small.txt from the client through the masquerade (PASS: sha256 equal).
pasv() {  # FAMILY(4|6) NAME
  local base=ftp://198.51.100.2 dir=$DL/$2-ipv$1
  [ "$1" = 6 ] && base="ftp://[2001:db8:2::2]"
  rm -rf "$dir"; mkdir -p "$dir"
  curl_fetch cli "$base" PASV "$dir" 20 small || return 1
  [ "$(sha256sum <"$dir/small.txt")" = "$(sha256sum <"$FTPROOT/small.txt")" ]
}

# A control connection only (its transfer may fail: the rules are wrong), then time for the event.
control_connection() {  # FAMILY NAME
  pasv "$1" "$2" >/dev/null 2>&1
  sleep 1
}

finish_case() {  # NAME T0 PROBLEMS-ARRAY-NAME
  cp "$RES/ftp-algd.log" "$RES/cases/$1.ftp-algd.log"
  finish "$@" "$(grep -c . "$RES/cases/$1.check") check lines"
}

warned() { grep -q 'control connection without helper' "$RES/ftp-algd.log"; }

case_forgotten() {
  local name=check-forgotten t0 problems=() count
  begin $name || return 0
  now_ms t0
  RULES_HELPER='' rules_copy "$RULES_DIR/nat-gateway.nft" "$RES/rules/$name.nft"
  load_rules nft "$RES/rules/$name.nft" || problems+=("rules did not load")
  run_check $name
  [[ $CHECK == *"warning: no rule attaches helper \"$ALGD_HELPER\": FTP control connections are not helped"* ]] ||
    problems+=("--check did not warn that no rule attaches the helper")
  control_connection 4 $name
  unhelped count
  [ "${count:-0}" -ge 1 ] || problems+=("unhelped count '${count}' after an IPv4 control connection")
  warned || problems+=("no warning in the daemon's log")
  finish_case $name "$t0" problems
}

case_ipv4_only() {
  local name=check-ipv4-only t0 problems=() count
  begin $name || return 0
  now_ms t0
  rules_copy "$RULES_DIR/nat-gateway.nft" "$RES/rules/$name.nft.inet"
  sed -e 's/l3proto inet/l3proto ip/' "$RES/rules/$name.nft.inet" >"$RES/rules/$name.nft"
  load_rules nft "$RES/rules/$name.nft" || problems+=("rules did not load")
  run_check $name
  [[ $CHECK == *"ok: nft: table inet ftp_alg chain helpers"*"for IPv4, tcp port 21"* ]] ||
    problems+=("--check has no ok line for the IPv4 rule")
  [[ $CHECK == *"warning: no rule attaches helper \"$ALGD_HELPER\" for IPv6"* ]] ||
    problems+=("--check did not warn about IPv6")
  pasv 4 $name || problems+=("IPv4 PASV transfer failed")
  sleep 1
  unhelped count
  [ "${count:-x}" = 0 ] || problems+=("unhelped count '${count}' after a helped IPv4 connection")
  control_connection 6 $name
  unhelped count
  [ "${count:-0}" -ge 1 ] || problems+=("unhelped count '${count}' after an IPv6 control connection")
  warned || problems+=("no warning in the daemon's log")
  grep -q 'control connection without helper.*2001:db8:1::2' "$RES/ftp-algd.log" ||
    problems+=("the warning does not name the IPv6 client")
  finish_case $name "$t0" problems
}

correct_case() {  # NAME KIND FILE...
  local name=$1 t0 problems=() count v
  begin "$name" || return 0
  now_ms t0
  load_rules "${@:2}" || problems+=("rules did not load")
  run_check "$name"
  [[ $CHECK != *"warning: no rule attaches"* ]] || problems+=("--check warns about correct rules")
  if [ "$2" = nft ]; then
    [[ $CHECK == *"ok: nft: table inet ftp_alg chain helpers"*"for IPv4 and IPv6"* ]] ||
      problems+=("--check has no ok line for the nft rule")
  else
    [[ $CHECK == *"ok: iptables: table raw chain PREROUTING"* ]] ||
      problems+=("--check has no ok line for iptables")
    [[ $CHECK == *"ok: ip6tables: table raw chain PREROUTING"* ]] ||
      problems+=("--check has no ok line for ip6tables")
  fi
  for v in 4 6; do pasv $v "$name" || problems+=("IPv$v PASV transfer failed"); done
  sleep 1
  unhelped count
  [ "${count:-x}" = 0 ] || problems+=("unhelped count '${count}' with correct rules")
  ! warned || problems+=("a warning with correct rules")
  finish_case "$name" "$t0" problems
}

case_status() {
  local name=status t0 problems=() cpid text json
  selected $name || return 0
  trace=$RES/cases/$name.log
  : >"$trace"
  log "case $name"
  now_ms t0
  rm -rf "${DL:?}/$name"; mkdir -p "$DL/$name"
  # Active mode, a 3 MB download read at ~320 KB/s by Python's ftplib (curl's --limit-rate did
  # not hold an active-mode download back under TCG: the session had ended before the first
  # poll), at most 12 s: the session is logged in and open while the daemon is asked. Asked until
  # it shows up logged in, at most 8 s.
  in_ns cli python3 -c '
import ftplib, sys, time
ftp = ftplib.FTP()
ftp.connect("198.51.100.2", 21, timeout=20)
ftp.login()
ftp.set_pasv(False)
data = ftp.transfercmd("RETR big.bin")
got, deadline = 0, time.time() + 12
while time.time() < deadline:
    chunk = data.recv(16384)
    if not chunk:
        break
    got += len(chunk)
    time.sleep(0.05)
data.close()
ftp.close()
print("read", got, "bytes")
sys.exit(0 if got > 0 else 1)
' >>"$trace" 2>&1 &
  cpid=$!
  for _ in $(seq 16); do
    sleep 0.5
    text=$("$DAEMON" status 2>&1)
    json=$("$DAEMON" status --json 2>&1)
    { echo "### poll $(date +%T.%N):"; echo "$text"; } >>"$trace"
    [[ $text == *"logged-in"* ]] && break
  done
  wait "$cpid" || problems+=("the transfer failed")
  { echo "### ftp-algd status:"; echo "$text"; echo "### ftp-algd status --json:"; echo "$json"; } >>"$trace"
  # Sessions of the earlier cases may still be listed (closing: kept 10 s after their FIN).
  [[ $text == *"sessions: "[1-9]* ]] || problems+=("status lists no session")
  [[ $text == *"192.0.2.2:"*" -> 198.51.100.2:21  (server side: 198.51.100.2:21 -> 198.51.100.1:"*"logged-in  user anonymous"* ]] ||
    problems+=("status does not show the logged-in session with both sides of the NAT")
  # The JSON is asked for a moment later: the session may be closing by then (seen live).
  [[ $json == *'"client_side":{"src":"192.0.2.2:'*'"user":"anonymous"'* ]] ||
    problems+=("status --json does not list the client's session with its user")
  finish $name "$t0" problems "status answered mid-transfer"
}

# --- Main ------------------------------------------------------------------------------------
log "helper_check: kernel $(uname -r)"
testbed_up
if [ -z "$DAEMON" ] || [ ! -x "$DAEMON" ]; then
  result helper-check SKIP "ftp-algd not built (${DAEMON:-FTPALG_DAEMON unset})"
  exit 4
fi
mkdir -p "$RES/rules"
case_forgotten
case_ipv4_only
rules_copy "$RULES_DIR/nat-gateway.nft" "$RES/rules/check-nft.nft"
correct_case check-nft nft "$RES/rules/check-nft.nft"
case_status
for v in 4 6; do
  rules_copy "$RULES_DIR/nat-gateway.$(ipt $v)" "$RES/rules/check-iptables.$(ipt $v)"
done
correct_case check-iptables iptables "$RES/rules/check-iptables.iptables" \
  "$RES/rules/check-iptables.ip6tables"
alg_teardown_ftp_algd
summarize_and_exit helper-check
