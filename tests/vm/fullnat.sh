#!/bin/bash
# fullnat.sh [MODES] [CASE-GLOB...]   (a run-vm.sh --job script: runs INSIDE the test VM)
#
#   tests/vm/run-vm.sh --build-dir build --job tests/vm/fullnat.sh kernel+ftp-algd
#
# Issue 9's "stalled EPRT through full NAT", whole sessions: the client connects to the router's
# inside address, port 2121; the router DNATs that to the server's port 21 and SNATs it to its
# own outside address with the fixed source port 16500, so both ends of the control connection
# are translated and every address rewrite changes the line's length (the two sides' addresses
# have different text lengths): PORT (RFC 959 4.1.2) and EPRT (RFC 2428 2) from the client get
# the router's outside address, the 227 reply to PASV (RFC 959 4.1.2) its inside address; EPSV
# (RFC 2428 3) carries no address and is the control case of the passive side. The stall came from the kernel recording the sequence
# adjustment of a verdict's NFQA_CT at a wrong offset for IPv6 (docs/NOTES.md, commit c9b48bd);
# this job keeps it fixed.
#
#   ns cli  eth0 192.0.2.2/24 2001:db8:1::2/64 (default route via the router)
#           |
#   in0  192.0.2.1/24 2001:db8:1::1/64          [router: the VM's initial namespace, where
#   out0 203.0.113.254/24 2001:db8:ffff:2::1/64  nfnetlink_cthelper helpers register]
#           |
#   ns srv  eth0 203.0.113.10/24 2001:db8:ffff:2::10/64 (no routes beyond its link)
#
# Server: vsftpd (tests/vm/ftp_servers.sh: listen_ipv6, anonymous, connect_from_port_20).
# Client: curl. Cases <flavour>-ipv4-{PORT,EPRT,PASV,EPSV}, <flavour>-ipv6-{EPRT,EPSV}: a 1 KB
# file, a 3 MB file byte-compared with the source, and a listing, over one control connection.
# Rule set flavours (both with FORWARD default drop, admitting established and related, and NEW
# control connections inside -> outside):
#   nft       the way nftables' documentation writes it: a ct helper object (type "ftp" for the
#             kernel helper, "ftp-alg" for ftp-algd) set by `ct state new ct helper set` in a
#             prerouting filter chain at priority 350, after DNAT (it sees port 21).
#   iptables  iptables allows the CT target only in the raw table, which comes before DNAT: the
#             rule matches the pre-DNAT tuple (-d <router inside> --dport 2121) and the helper
#             stays with the connection through DNAT and SNAT.
# MODES: ALGs separated by "+" (default kernel+ftp-algd), one boot, the kernel helper first (the
# reference: its cases are reported, a failure of one does not fail the job); ftp-algd is
# started as the other jobs start it (testbed.sh alg_setup_ftp_algd).
# Hung or slow: a progress watchdog fails a case only when neither the downloads nor the client's
# trace grew for FULLNAT_STALL_S seconds (default 30), with FULLNAT_CASE_S (default 240) as the
# overall bound; a case that ends without every byte is a failure whatever curl says.
# Output: VM-RESULT <mode>:<flavour>-ipv<v>-<cmd> PASS|FAIL <detail>, then a SUMMARY line.
set -u
VMDIR=${FTPALG_VM_DIR:-$(cd "$(dirname "$0")" && pwd)}
MODES=${1:-kernel+ftp-algd}
shift || true
# shellcheck source=testbed.sh
source "$VMDIR/testbed.sh"
testbed_init kernel "$@"   # the case globs, for selected()
# shellcheck source=ftp_servers.sh
source "$VMDIR/ftp_servers.sh"
STALL_S=${FULLNAT_STALL_S:-30}
CASE_S=${FULLNAT_CASE_S:-240}
# Active mode: vsftpd's connection from port 20 crosses the router; a loaded TCG host is slow.
CURL_CONNECT_TIMEOUT=30
SERVER_RUN=$RES/vsftpd

# The rule sets below attach the helper themselves; testbed.sh's alg_setup_* only need to
# know its name.
attach_helper() { HELPER=$1 HELPER_FAMILIES="4 6"; }
detach_helper() { :; }

trap 'ftp_server_stop vsftpd "$SERVER_RUN"; cleanup' EXIT

setup_fullnat_topology() {
  sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
  setup_ns cli in0 192.0.2.2/24 2001:db8:1::2/64 192.0.2.1 2001:db8:1::1
  setup_ns srv out0 203.0.113.10/24 2001:db8:ffff:2::10/64
  ip -batch - <<'END'
link set lo up
link set in0 up
addr add 192.0.2.1/24 dev in0
addr add 2001:db8:1::1/64 dev in0 nodad
link set out0 up
addr add 203.0.113.254/24 dev out0
addr add 2001:db8:ffff:2::1/64 dev out0 nodad
END
}

rules_nft() {  # HELPER_TYPE
  nft -f - <<END
table inet fullnat {
  ct helper ftp-control { type "$1" protocol tcp; }
  chain nat_prerouting {
    type nat hook prerouting priority dstnat;
    iifname "in0" ip daddr 192.0.2.1 tcp dport 2121 dnat ip to 203.0.113.10:21
    iifname "in0" ip6 daddr 2001:db8:1::1 tcp dport 2121 dnat ip6 to [2001:db8:ffff:2::10]:21
  }
  chain helper_prerouting {
    type filter hook prerouting priority 350;
    iifname "in0" tcp dport 21 ct state new ct helper set "ftp-control"
  }
  chain nat_postrouting {
    type nat hook postrouting priority srcnat;
    oifname "out0" ip daddr 203.0.113.10 tcp dport 21 snat ip to 203.0.113.254:16500
    oifname "out0" ip6 daddr 2001:db8:ffff:2::10 tcp dport 21 snat ip6 to [2001:db8:ffff:2::1]:16500
  }
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    iifname "in0" oifname "out0" tcp dport 21 ct state new accept
  }
}
END
}

rules_iptables() {  # HELPER_NAME
  local v router server dnat_to snat_to
  for v in 4 6; do
    if [ $v = 4 ]; then
      router=192.0.2.1 server=203.0.113.10 dnat_to=203.0.113.10:21 snat_to=203.0.113.254:16500
    else
      router=2001:db8:1::1 server=2001:db8:ffff:2::10 dnat_to='[2001:db8:ffff:2::10]:21'
      snat_to='[2001:db8:ffff:2::1]:16500'
    fi
    "$(ipt $v)-restore" <<END || return 1
*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A PREROUTING -i in0 -d $router -p tcp --dport 2121 -j CT --helper $1
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -i in0 -d $router -p tcp --dport 2121 -j DNAT --to-destination $dnat_to
-A POSTROUTING -o out0 -d $server -p tcp --dport 21 -j SNAT --to-source $snat_to
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -i in0 -o out0 -p tcp --dport 21 -m conntrack --ctstate NEW -j ACCEPT
COMMIT
END
  done
}

# Bytes the case has moved so far: the downloads plus the client's trace (the control
# connection's replies), so a slow transfer and a slow login both count as progress.
progress_bytes() {  # DIR VAR
  local out
  out=$(du -sb --apparent-size "$1" "$trace" 2>/dev/null)
  local total=0 size _
  while read -r size _; do total=$((total + size)); done <<<"$out"
  printf -v "$2" '%d' "$total"
}

# Runs CURL_CMD in the background under the watchdog; sets rc (curl's exit code) and WATCHDOG
# (empty, or why the watchdog stopped curl).
run_watched() {  # DIR
  local dir=$1 pid start last_ms now bytes last=-1
  "${CURL_CMD[@]}" >>"$trace" 2>&1 &
  pid=$!
  now_ms start
  last_ms=$start
  WATCHDOG=''
  while _ftps_pid_alive "$pid"; do
    sleep 1
    now_ms now
    progress_bytes "$dir" bytes
    if [ "$bytes" != "$last" ]; then last=$bytes last_ms=$now; fi
    if [ $((now - last_ms)) -ge $((STALL_S * 1000)) ]; then
      WATCHDOG="stalled: no byte moved for ${STALL_S} s (at $bytes bytes)"
    elif [ $((now - start)) -ge $((CASE_S * 1000)) ]; then
      WATCHDOG="still moving after the overall bound of ${CASE_S} s (slow host?)"
    fi
    if [ -n "$WATCHDOG" ]; then kill "$pid" 2>/dev/null; break; fi
  done
  wait "$pid"
  rc=$?
}


fullnat_case() {  # FLAVOUR FAMILY CMD
  local name="$1-ipv$2-$3" v=$2 cmd=$3 base dir t0 problems=() ct line ctl=0 listing
  selected "$name" || return 0
  if [ "$v" = 4 ]; then base=ftp://192.0.2.1:2121; else base='ftp://[2001:db8:1::1]:2121'; fi
  dir=$DL/$MODE-$name
  trace=$RES/cases/$MODE-$name.log
  rm -rf "$dir"; mkdir -p "$dir"
  : >"$trace"
  now_ms t0
  # A new control connection gets the same SNAT tuple (port 16500) as the previous case's.
  conntrack -F >/dev/null 2>&1
  curl_command cli "$base" "$cmd" "$dir" $((CASE_S + 10)) "small big list"
  run_watched "$dir"
  ct=$(conntrack -L -f "ipv$v" 2>&1)
  echo "### curl exit code $rc ${WATCHDOG:+($WATCHDOG)}"$'\n'"### conntrack -L -f ipv$v"$'\n'"$ct" \
    >>"$trace"
  TRACE_TEXT=$'\n'$(<"$trace")

  [ -z "$WATCHDOG" ] || problems+=("$WATCHDOG")
  [ $rc -eq 0 ] || problems+=("curl exit code $rc")
  sent "$cmd" || problems+=("curl did not send $cmd")
  case "$cmd" in
    EPSV) ! sent PASV || problems+=("curl fell back to PASV") ;;
    EPRT) ! sent PORT || problems+=("curl fell back to PORT") ;;
  esac
  cmp -s "$FTPROOT/small.txt" "$dir/small.txt" || problems+=("small.txt differs from the source")
  cmp -s "$FTPROOT/big.bin" "$dir/big.bin" ||
    problems+=("big.bin differs from the source ($(stat -c %s "$dir/big.bin" 2>/dev/null || echo 0) bytes)")
  listing=
  [ -f "$dir/listing" ] && listing=$(<"$dir/listing")
  [[ $listing == *small.txt* && $listing == *big.bin* ]] || problems+=("listing lacks small.txt/big.bin")
  while read -r line; do
    [[ $line == *"dport=2121 "* && $line == *"helper=$HELPER"* ]] && ctl=1
  done <<<"$ct"
  [ $ctl = 1 ] || problems+=("no control connection with helper=$HELPER in conntrack -L")

  if [ ${#problems[@]} -eq 0 ]; then
    alg_result "$name" PASS "3 MB + 1 KB + listing, helper=$HELPER $(secs_since "$t0")s"
  else
    alg_result "$name" FAIL "$(IFS=';'; echo "${problems[*]}") $(secs_since "$t0")s (cases/$MODE-$name.log)"
  fi
}

log "fullnat: modes $MODES, kernel $(uname -r)"
mkdir -p "$FTPROOT" "$RES/cases"
setup_fullnat_topology || { log "topology setup failed"; exit 1; }
make_files
if ! ftp_server_start vsftpd srv "$FTPROOT" "$SERVER_RUN" 2>"$RES/vsftpd-start.err"; then
  result vsftpd SKIP "vsftpd did not start: $(tail -n 3 "$RES/vsftpd-start.err")"
  summarize_and_exit "fullnat ($MODES)"
fi
log "vsftpd $(cat "${FTP_SERVERS_DIR:-${FTPALG_VM_CACHE:-}/ftp-servers}/vsftpd/.version" 2>/dev/null) up"
fullnat_alg() {  # MODE: both rule set flavours with this ALG's helper
  local flavour c
  for flavour in nft iptables; do
    nft flush ruleset
    if ! "rules_$flavour" "$HELPER" >"$RES/cases/$1-rules-$flavour.err" 2>&1; then
      alg_result "$flavour-rules" FAIL "rule set refused: $(tail -n 3 "$RES/cases/$1-rules-$flavour.err")"
      continue
    fi
    nft list ruleset >"$RES/cases/$1-ruleset-$flavour.txt" 2>&1
    for c in 4:PORT 4:EPRT 4:PASV 4:EPSV 6:EPRT 6:EPSV; do fullnat_case "$flavour" "${c%%:*}" "${c#*:}"; done
  done
  nft flush ruleset
}
for_each_alg "$MODES" fullnat fullnat_alg
{
  echo "### nfct list helper"; nfct list helper 2>&1
  echo "### dmesg (netfilter)"; dmesg | grep -iE 'nf_|conntrack|netfilter|cthelper' | tail -n 50
} >"$RES/gateway-state.txt" 2>&1

summarize_and_exit "$(with_kernel_fails "fullnat ($MODES)")"
