#!/bin/bash
# testbed.sh: the stock-kernel test bed's library, sourced by every job that runs INSIDE the test
# VM (scenarios.sh, faults.sh, attacks.sh, ...). Sourcing it only defines functions and constants;
# testbed_init MODE [CASE-GLOB...] then reads the environment, empties the results file, starts
# the clock and sets the EXIT trap that stops background processes and deletes the namespaces.
#
# MODE is the ALG under test:
#   kernel    the kernel's ftp + nf_nat_ftp helpers   (raw PREROUTING: -j CT --helper ftp)
#   none      no helper at all
#   ftp-algd  the project's daemon ($FTPALG_DAEMON $FTPALG_DAEMON_ARGS, default
#             "--queue 0 --helper-name ftp-alg"; rule -j CT --helper $FTPALG_HELPER_NAME, default
#             ftp-alg)
# CASE-GLOBs select cases by name for `selected` (default: all).
# Environment (set by run-vm.sh's job.sh): FTPALG_RESULTS (run dir), FTPALG_IN_VM=1,
# FTPALG_FW=iptables|nft|rules-iptables|rules-nft (rule set flavour, see below), FTPALG_DAEMON,
# FTPALG_DAEMON_ARGS, FTPALG_HELPER_NAME, FTPALG_PCAP=1 (tcpdump per case).
#
# Topology (the gateway is the VM's initial network namespace: nfnetlink_cthelper helpers are
# registered there):
#
#
#   ns cli  eth0 192.0.2.2/24 2001:db8:1::2/64  --+
#                                                 +-- br0 192.0.2.1/24 2001:db8:1::1/64  [gateway]
#   ns isrv eth0 192.0.2.10/24 2001:db8:1::10/64 -+   out0 198.51.100.1/24 2001:db8:2::1/64
#                                                         |
#   ns srv  eth0 198.51.100.2/24 2001:db8:2::2/64  -------+   (no route to the inside networks)
#
#   masq topology: client cli -> server srv (198.51.100.2 / 2001:db8:2::2), MASQUERADE on out0.
#   dnat topology: client srv (outside) -> 198.51.100.1:21 / [2001:db8:2::1]:21, DNAT to the inside
#                  server isrv (192.0.2.10 / 2001:db8:1::10).
#   fw topology (only with FTPALG_FW=rules-*): client cli -> server srv (198.51.100.2 /
#                  2001:db8:2::2) through a pure stateful firewall: no NAT, srv gets routes to the
#                  inside networks.
#   FORWARD policy DROP; accepted: ctstate RELATED (own rule/counter: it shows the data
#   connections were admitted as related), ESTABLISHED, NEW to port 21 inside->outside, NEW DNATed
#   to the inside server's port 21. The helper is attached to port 21 in prerouting (iptables:
#   raw table, -j CT --helper; nft: a ct helper object, priority filter).
#   FTPALG_FW=rules-iptables|rules-nft: the gateway's rules are instead the project's operator
#   files (rules/, FTPALG_RULES_DIR), one per topology, loaded before that topology's cases:
#   masq rules/nat-gateway.*, dnat rules/published-server.*, fw rules/firewall.* (.iptables +
#   .ip6tables, or .nft). A copy in $FTPALG_RESULTS/rules/ gets lan0 -> br0 and wan0 -> out0 (as an
#   operator adjusts them), the helper name ftp-alg -> ftp in mode kernel (-> the daemon's name
#   if it differs), and the helper lines removed in mode none. Nothing else is changed; the
#   RELATED count comes from the file's own RELATED rule (iptables) or from a probe table
#   (nft: inet ftpalg_probe, forward hook after the file's chain, so it counts what was accepted).
#
# Results: `result NAME PASS|FAIL|SKIP DETAIL` prints "VM-RESULT <mode>[+fw]:<name> ..." on stdout
# (the serial console) and in $FTPALG_RESULTS/results.txt; per-case logs go to
# $FTPALG_RESULTS/cases/; `summarize_and_exit LABEL` ends a job (exit 1 a case failed, 4 none
# passed, else 0).

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3
FTPROOT=/tmp/ftproot
DL=/tmp/dl

testbed_init() {  # MODE [CASE-GLOB...]
  MODE=${1:?usage: testbed_init kernel|none|ftp-algd [CASE-GLOB...]}
  shift
  FILTERS=("$@")
  if [ "${FTPALG_IN_VM:-}" != 1 ]; then
    echo "$0: refusing to run outside the test VM (it rewrites the firewall of the" \
         "network namespace it runs in); use run-vm.sh" >&2
    exit 2
  fi
  case "$MODE" in kernel|none|ftp-algd) ;; *) echo "unknown mode $MODE" >&2; exit 2 ;; esac
  RES=${FTPALG_RESULTS:?FTPALG_RESULTS must name the results directory}
  DAEMON=${FTPALG_DAEMON:-}
  ALGD_HELPER=${FTPALG_HELPER_NAME:-ftp-alg}
  DAEMON_ARGS=${FTPALG_DAEMON_ARGS:---queue 0 --helper-name $ALGD_HELPER}
  PCAP=${FTPALG_PCAP:-0}
  FW=${FTPALG_FW:-iptables}
  case "$FW" in iptables|nft|rules-iptables|rules-nft) ;;
    *) echo "FTPALG_FW must be iptables, nft, rules-iptables or rules-nft, not $FW" >&2; exit 2 ;; esac
  FW_TAG=
  [ "$FW" = iptables ] || FW_TAG="+$FW"
  FW_FN=${FW//-/_}
  RULES=0
  case "$FW" in rules-*) RULES=1 ;; esac
  RULES_DIR=${FTPALG_RULES_DIR:-$HERE/../../rules}
  mkdir -p "$RES/cases"
  [ "$PCAP" = 1 ] && mkdir -p "$RES/pcap"
  : >"$RES/results.txt"
  BG_PIDS=()
  NPASS=0 NFAIL=0 NSKIP=0 KERNEL_FAILS=0
  now_ms T_START
  trap cleanup EXIT
}

# Time without forking (every exec costs ~0.1 s under TCG): bash's EPOCHREALTIME, in ms.
now_ms() { local t=${EPOCHREALTIME/./}; printf -v "$1" '%d' $((10#$t / 1000)); }
secs_since() {  # START_MS -> "12.3"
  local n; now_ms n
  local d=$((n - $1))
  printf '%d.%d' $((d / 1000)) $((d % 1000 / 100))
}
log() { echo "scenarios[$(secs_since "$T_START")s]: $*"; }

result() {  # NAME VERDICT DETAIL
  local line="VM-RESULT $MODE${FW_TAG}:$1 $2 $3"
  echo "$line"
  echo "$line" >>"$RES/results.txt"
  case "$2" in PASS) NPASS=$((NPASS + 1)) ;; FAIL) NFAIL=$((NFAIL + 1)) ;; *) NSKIP=$((NSKIP + 1)) ;; esac
}

# In the jobs that run both ALGs side by side (fullnat.sh, interop.sh) the kernel helper is the
# reference: its failures are reported (FAIL lines) and counted in KERNEL_FAILS, but do not fail
# the job; ftp-algd's do.
alg_result() {  # NAME VERDICT DETAIL
  result "$@"
  if [ "$MODE" = kernel ] && [ "$2" = FAIL ]; then
    NFAIL=$((NFAIL - 1)) KERNEL_FAILS=$((KERNEL_FAILS + 1))
  fi
}
# The summary label of such a job: LABEL, plus the kernel helper's failures if there were any.
with_kernel_fails() {  # LABEL
  if [ "$KERNEL_FAILS" -eq 0 ]; then
    echo "$1"
  else
    echo "$1 (+ $KERNEL_FAILS kernel helper fail, reference, not counted)"
  fi
}

# A job's case verdict: PASS with NOTES when the array named PROBLEMS-ARRAY-NAME is empty, else
# FAIL with the problems joined.
finish() {  # NAME T0 PROBLEMS-ARRAY-NAME NOTES...
  local name=$1 t0=$2
  local -n probs=$3
  shift 3
  if [ ${#probs[@]} -eq 0 ]; then
    result "$name" PASS "$* $(secs_since "$t0")s"
  else
    result "$name" FAIL "$(IFS=';'; echo "${probs[*]}") $(secs_since "$t0")s (cases/$name.log)"
  fi
}

# The --job scripts' ending (faults.sh, attacks.sh): the SUMMARY line, then exit 1 when a case
# failed, 4 (skip) when none passed, else 0.
summarize_and_exit() {  # LABEL
  local summary="SUMMARY $1: $NPASS pass, $NFAIL fail, $NSKIP skip in $(secs_since "$T_START")s"
  echo "$summary"
  echo "$summary" >>"$RES/results.txt"
  [ $NFAIL -gt 0 ] && exit 1
  [ $NPASS -eq 0 ] && exit 4
  exit 0
}

# The --job scripts' loop over ALGs (attacks.sh, fullnat.sh): each mode of MODES ("kernel+ftp-algd")
# is set up (MODE, HELPER, ALG_PID, ...), CALLBACK MODE runs, the mode is torn down; a mode that
# cannot run here (ALG_SKIP) gives one SKIP result named LABEL instead.
for_each_alg() {  # MODES LABEL CALLBACK
  local m mode_list
  IFS=+ read -r -a mode_list <<<"$1"
  for m in "${mode_list[@]}"; do
    HELPER='' HELPER_FAMILIES='' ALG_SKIP='' ALG_PID=''
    MODE=$m
    case "$m" in
      kernel) alg_setup_kernel ;;
      ftp-algd) alg_setup_ftp_algd ;;
      *) log "unknown mode $m"; exit 2 ;;
    esac
    if [ -n "$ALG_SKIP" ]; then result "$2" SKIP "$ALG_SKIP"; continue; fi
    "$3" "$m"
    "alg_teardown_${m//-/_}"
  done
}

# wait_for TIMEOUT_S COMMAND...: polls every 0.2 s.
wait_for() {
  local start n
  now_ms start
  local limit=$(($1 * 1000))
  shift
  until "$@" >/dev/null 2>&1; do
    now_ms n
    [ $((n - start)) -lt "$limit" ] || return 1
    sleep 0.2
  done
}

cleanup() {
  local pid
  for pid in "${BG_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${BG_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  for ns in cli isrv srv; do ip netns del "$ns" 2>/dev/null; done
}

# ---------------------------------------------------------------------------------------------
# Topology. Few processes: each exec costs ~0.1 s under TCG (iptables-nft ~0.5 s).
# ---------------------------------------------------------------------------------------------
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

setup_ns() {  # NAME GW-SIDE-IF ADDR4/LEN ADDR6/LEN [GW4 GW6] (no gateways: no default route)
  local ns=$1 gwif=$2 a4=$3 a6=$4 gw4=${5:-} gw6=${6:-}
  ip netns add "$ns"
  ip link add "$gwif" type veth peer name eth0 netns "$ns"
  {
    echo "link set lo up"
    echo "addr add $a4 dev eth0"
    echo "addr add $a6 dev eth0 nodad"
    echo "link set eth0 up"
    if [ -n "$gw4" ]; then
      echo "route add default via $gw4"
      echo "route add default via $gw6"
    fi
  } | ip -n "$ns" -batch -
}

setup_topology() {
  sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
  setup_ns cli gw-cli 192.0.2.2/24 2001:db8:1::2/64 192.0.2.1 2001:db8:1::1
  setup_ns isrv gw-isrv 192.0.2.10/24 2001:db8:1::10/64 192.0.2.1 2001:db8:1::1
  setup_ns srv out0 198.51.100.2/24 2001:db8:2::2/64
  ip -batch - <<'END'
link set lo up
link add br0 type bridge
link set gw-cli master br0
link set gw-isrv master br0
link set gw-cli up
link set gw-isrv up
link set br0 up
addr add 192.0.2.1/24 dev br0
addr add 2001:db8:1::1/64 dev br0 nodad
link set out0 up
addr add 198.51.100.1/24 dev out0
addr add 2001:db8:2::1/64 dev out0 nodad
END
}

# ---------------------------------------------------------------------------------------------
# Firewall: FTPALG_FW=iptables (default; iptables-nft on Debian 12, through nft_compat) or nft
# (native nf_tables: ct helper objects). Interface for the jobs:
#   fw_base                      base rule set (filter + NAT) for both families
#   fw_helper add|del FAMILY HELPER   attach HELPER to FTP control connections (FAMILY 4/6; nft
#                                does both families with FAMILY 4 and ignores FAMILY 6)
#   fw_related FAMILY VAR        packets accepted as ctstate RELATED since the last call (reads
#                                and zeroes in one go; the listing goes to the case's trace)
#   fw_dump                      the whole rule set, for gateway-state.txt
# ---------------------------------------------------------------------------------------------
ipt() { if [ "$1" = 4 ]; then echo iptables; else echo ip6tables; fi; }

fw_base_iptables() {
  local v pub inside dnat_to
  for v in 4 6; do
    if [ $v = 4 ]; then
      pub=198.51.100.1 inside=192.0.2.10 dnat_to=192.0.2.10:21
    else
      pub=2001:db8:2::1 inside=2001:db8:1::10 dnat_to='[2001:db8:1::10]:21'
    fi
    "$(ipt $v)-restore" <<END || return 1
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -m conntrack --ctstate RELATED -m comment --comment related -j ACCEPT
-A FORWARD -m conntrack --ctstate ESTABLISHED -j ACCEPT
-A FORWARD -i br0 -o out0 -p tcp --dport 21 -m conntrack --ctstate NEW -j ACCEPT
-A FORWARD -i out0 -o br0 -d $inside -p tcp --dport 21 -m conntrack --ctstate NEW -j ACCEPT
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -i out0 -d $pub -p tcp --dport 21 -j DNAT --to-destination $dnat_to
-A POSTROUTING -o out0 -j MASQUERADE
COMMIT
END
  done
}

fw_helper_iptables() {
  local op=-A
  [ "$1" = del ] && op=-D
  "$(ipt "$2")" -t raw $op PREROUTING -p tcp --dport 21 -j CT --helper "$3"
}

fw_related_iptables() {
  local out line
  out=$("$(ipt "$1")" -nvxL FORWARD -Z 2>&1)
  echo "$out" >>"$trace"
  printf -v "$2" '%s' 0
  while read -r line; do
    # The inline rule set's "related" rule, or the RELATED rule of a rules/ file.
    if [[ $line == *"/* related */"* || ($line == *"ctstate RELATED"* && $line != *"RELATED,"*) ]]; then
      printf -v "$2" '%s' "${line%% *}"; break
    fi
  done <<<"$out"
}

fw_dump_iptables() { iptables-save; ip6tables-save; }

fw_base_nft() {
  nft -f - <<'END'
table inet ftpalg {
  counter related4 { }
  counter related6 { }
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state related meta nfproto ipv4 counter name "related4" accept
    ct state related meta nfproto ipv6 counter name "related6" accept
    ct state established accept
    iifname "br0" oifname "out0" tcp dport 21 ct state new accept
    iifname "out0" oifname "br0" ip daddr 192.0.2.10 tcp dport 21 ct state new accept
    iifname "out0" oifname "br0" ip6 daddr 2001:db8:1::10 tcp dport 21 ct state new accept
  }
}
table ip ftpalg_nat {
  chain prerouting {
    type nat hook prerouting priority dstnat;
    iifname "out0" ip daddr 198.51.100.1 tcp dport 21 dnat to 192.0.2.10:21
  }
  chain postrouting {
    type nat hook postrouting priority srcnat;
    oifname "out0" masquerade
  }
}
table ip6 ftpalg_nat {
  chain prerouting {
    type nat hook prerouting priority dstnat;
    iifname "out0" ip6 daddr 2001:db8:2::1 tcp dport 21 dnat to [2001:db8:1::10]:21
  }
  chain postrouting {
    type nat hook postrouting priority srcnat;
    oifname "out0" masquerade
  }
}
END
}

# A ct helper object in an inet table serves both families (the kernel looks the helper up for
# IPv4 and IPv6 and fails only if neither exists). "ct helper set" must come after conntrack
# (priority filter), not in raw like iptables' CT target.
fw_helper_nft() {
  [ "$2" = 4 ] || return 0
  if [ "$1" = del ]; then nft delete table inet ftpalg_helper; return; fi
  nft -f - <<END
table inet ftpalg_helper {
  ct helper ftp-control { type "$3" protocol tcp; }
  chain prerouting {
    type filter hook prerouting priority filter;
    tcp dport 21 ct helper set "ftp-control"
  }
}
END
}

fw_related_nft() {
  local out line
  out=$(nft reset counter inet "${NFT_COUNTER_TABLE:-ftpalg}" "related$1" 2>&1)
  echo "$out" >>"$trace"
  printf -v "$2" '%s' 0
  while read -r line; do
    if [[ $line == "packets "* ]]; then line=${line#packets }; printf -v "$2" '%s' "${line%% *}"; break; fi
  done <<<"$out"
}

fw_dump_nft() { nft list ruleset; }

# --- The project's rule files (FTPALG_FW=rules-iptables|rules-nft) ------------------------------
# Nothing is loaded before the ALG is up (the files name the helper); rules_load TOPO loads the
# topology's file (replacing the previous one) before its first case.
RULES_HELPER=ftp-alg   # set by attach_helper; empty in mode none
RULES_LOADED=''        # families whose file loaded for the current topology
RULES_TOPO=''

fw_base_rules_iptables() { :; }
fw_base_rules_nft() {
  # Probe: counts related packets that the file's forward chain (priority filter) accepted.
  NFT_COUNTER_TABLE=ftpalg_probe
  nft -f - <<'END'
table inet ftpalg_probe {
  counter related4 { }
  counter related6 { }
  chain forward {
    type filter hook forward priority filter + 10; policy accept;
    ct state related meta nfproto ipv4 counter name "related4"
    ct state related meta nfproto ipv6 counter name "related6"
  }
}
END
}
fw_related_rules_iptables() { fw_related_iptables "$@"; }
fw_related_rules_nft() { fw_related_nft "$@"; }
fw_dump_rules_iptables() { fw_dump_iptables; }
fw_dump_rules_nft() { fw_dump_nft; }

rules_copy() {  # SRC DST: the operator's adjustments, with sed
  local args=(-e 's/\blan0\b/br0/g' -e 's/\bwan0\b/out0/g')
  if [ -z "$RULES_HELPER" ]; then
    args+=(-e '/-j CT --helper/d' -e '/^[[:space:]]*ct helper [[:alnum:]_]* {/,/}/d' -e '/ct helper set/d')
  elif [ "$RULES_HELPER" != ftp-alg ]; then
    args+=(-e "s/--helper ftp-alg\$/--helper $RULES_HELPER/" -e "s/type \"ftp-alg\"/type \"$RULES_HELPER\"/")
  fi
  sed "${args[@]}" "$1" >"$2"
}

rules_load() {  # TOPO
  local topo=$1 base v src dst err
  [ "$RULES_TOPO" = "$topo" ] && return 0
  RULES_TOPO=$topo RULES_LOADED=''
  case "$topo" in masq) base=nat-gateway ;; dnat) base=published-server ;; fw) base=firewall ;; esac
  mkdir -p "$RES/rules"
  if [ "$topo" = fw ]; then
    # No NAT: the outside server needs routes to the inside networks.
    ip -n srv -batch - <<'END'
route replace 192.0.2.0/24 via 198.51.100.1
route replace 2001:db8:1::/64 via 2001:db8:2::1
END
  fi
  if [ "$FW" = rules-nft ]; then
    src=$RULES_DIR/$base.nft dst=$RES/rules/$base.nft
    rules_copy "$src" "$dst"
    if err=$(nft -f "$dst" 2>&1); then RULES_LOADED="4 6"; else log "nft -f $dst failed: $err"; fi
  else
    for v in 4 6; do
      src=$RULES_DIR/$base.$(ipt $v) dst=$RES/rules/$base.$(ipt $v)
      rules_copy "$src" "$dst"
      # iptables-restore replaces only the tables the file names: empty nat and raw first.
      printf '*nat\nCOMMIT\n*raw\nCOMMIT\n' | "$(ipt $v)-restore"
      if err=$("$(ipt $v)-restore" <"$dst" 2>&1); then
        RULES_LOADED="$RULES_LOADED $v"
      else
        log "$(ipt $v)-restore < $dst failed: $err"
      fi
    done
  fi
  log "topology $topo: loaded rules/$base.* for IPv${RULES_LOADED// /,IPv} (copies in rules/)"
}

fw_base() { "fw_base_$FW_FN"; }
fw_helper() { "fw_helper_$FW_FN" "$@"; }
fw_related() { "fw_related_$FW_FN" "$@"; }
fw_dump() { "fw_dump_$FW_FN"; }

# ---------------------------------------------------------------------------------------------
# The ALG under test: alg_setup_<mode> sets HELPER (the conntrack helper name the control
# connection must carry; empty = none) and HELPER_FAMILIES (families the helper rule was
# accepted for), or ALG_SKIP (a reason to skip every case). alg_teardown_<mode> undoes it.
# ---------------------------------------------------------------------------------------------
HELPER='' HELPER_FAMILIES='' ALG_SKIP='' ALG_PID=''

attach_helper() {  # HELPER: rule for IPv4 and IPv6; records which families took it
  local v
  HELPER=$1 HELPER_FAMILIES=
  if [ "$RULES" = 1 ]; then
    # The rule files attach it (rules_load); a file that fails to load fails its cases.
    RULES_HELPER=$1 HELPER_FAMILIES="4 6"
    return
  fi
  for v in 4 6; do
    if fw_helper add $v "$HELPER" 2>"$RES/cases/helper-rule-ipv$v.err"; then
      HELPER_FAMILIES="$HELPER_FAMILIES $v"
    else
      log "helper rule for IPv$v refused: $(cat "$RES/cases/helper-rule-ipv$v.err")"
    fi
  done
}
detach_helper() {
  local v
  [ "$RULES" = 1 ] && return
  for v in $HELPER_FAMILIES; do fw_helper del $v "$HELPER" 2>/dev/null; done
}

alg_setup_none() { HELPER='' HELPER_FAMILIES="4 6" RULES_HELPER=''; }
alg_teardown_none() { :; }

alg_setup_kernel() { attach_helper ftp; }
alg_teardown_kernel() { detach_helper; }

alg_setup_ftp_algd() {
  if [ -z "$DAEMON" ] || [ ! -x "$DAEMON" ]; then
    ALG_SKIP="ftp-algd not built (${DAEMON:-FTPALG_DAEMON unset})"
    return
  fi
  log "starting $DAEMON $DAEMON_ARGS"
  # shellcheck disable=SC2086
  "$DAEMON" $DAEMON_ARGS >"$RES/ftp-algd.log" 2>&1 &
  ALG_PID=$!
  BG_PIDS+=("$ALG_PID")
  # The daemon is ready once its helper is registered (nfnetlink_cthelper).
  if ! wait_for 20 sh -c "nfct list helper 2>/dev/null | grep -q -- '$ALGD_HELPER'"; then
    kill -0 "$ALG_PID" 2>/dev/null || log "ftp-algd exited: $(tail -n 5 "$RES/ftp-algd.log")"
    log "ftp-algd registered no helper '$ALGD_HELPER' within 20 s"
  fi
  nfct list helper >"$RES/cases/nfct-helpers.txt" 2>&1
  attach_helper "$ALGD_HELPER"
}
alg_teardown_ftp_algd() {
  # The daemon's counters after all cases (Prometheus text), before it stops.
  curl -sS --max-time 5 http://127.0.0.1:9477/metrics >"$RES/ftp-algd-metrics.txt" 2>&1
  detach_helper
  if [ -n "$ALG_PID" ]; then
    kill "$ALG_PID" 2>/dev/null
    wait "$ALG_PID" 2>/dev/null
    log "ftp-algd exit status $? (after SIGTERM)"
  fi
}

# ---------------------------------------------------------------------------------------------
# Servers and files
# ---------------------------------------------------------------------------------------------
make_files() {
  local i
  for i in {1..20}; do echo "line $i of small.txt, served by the ftp-alg test bed"; done \
    >"$FTPROOT/small.txt"
  head -c $((3 * 1024 * 1024)) /dev/urandom >"$FTPROOT/big.bin"
  local sums
  sums=$(cd "$FTPROOT" && sha256sum small.txt big.bin)
  SHA_SMALL=${sums%% *}
  SHA_BIG=$(echo "$sums" | sed -n 's/ .*big.bin$//p')
}

start_servers() {
  rm -f /tmp/ftpd-*.ready
  in_ns srv "$PY" "$HERE/ftpd.py" "$FTPROOT" "$RES/ftpd-srv.log" /tmp/ftpd-srv.ready \
    198.51.100.2 2001:db8:2::2 &
  BG_PIDS+=($!)
  in_ns isrv "$PY" "$HERE/ftpd.py" "$FTPROOT" "$RES/ftpd-isrv.log" /tmp/ftpd-isrv.ready \
    192.0.2.10 2001:db8:1::10 &
  BG_PIDS+=($!)
}

# The whole test bed for a job: expectation listener, topology, FTP servers, firewall, files;
# returns once both servers listen (else ends the job with exit code 1 and the reason).
testbed_up() {
  start_expect_listener
  mkdir -p "$FTPROOT" "$DL"
  setup_topology || { log "topology setup failed"; exit 1; }
  # Python starts slowly under TCG (~4 s): start the servers first, prepare the rest meanwhile.
  start_servers
  fw_base || { log "firewall setup failed"; exit 1; }
  make_files
  wait_for 90 test -e /tmp/ftpd-srv.ready -a -e /tmp/ftpd-isrv.ready ||
    { log "FTP servers did not start listening; see ftpd-*.log"; exit 1; }
}

EXPECT_LOG=/tmp/expect-events.txt
start_expect_listener() {
  # Expectation events (NEW/DESTROY) of both families, for the whole run.
  conntrack -E expect -o timestamp >"$EXPECT_LOG" 2>&1 &
  BG_PIDS+=($!)
}
expect_new_count() {  # VAR
  local n=0 line
  while read -r line; do [[ $line == *"[NEW]"* ]] && n=$((n + 1)); done <"$EXPECT_LOG"
  printf -v "$1" '%d' $n
}

pcap_start() {  # CASE
  PCAP_PIDS=()
  [ "$PCAP" = 1 ] || return 0
  local ifc
  for ifc in br0 out0; do
    tcpdump -i "$ifc" -U -s 0 -w "$RES/pcap/$1-$ifc.pcap" tcp 2>"$RES/pcap/.$1-$ifc.err" &
    PCAP_PIDS+=($!)
  done
  for ifc in br0 out0; do
    wait_for 20 grep -q listening "$RES/pcap/.$1-$ifc.err"
  done
}
pcap_stop() {
  local pid
  for pid in "${PCAP_PIDS[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  PCAP_PIDS=()
}

# ---------------------------------------------------------------------------------------------
# Clients
# ---------------------------------------------------------------------------------------------
# curl_command NS URLBASE CMD DIR MAXTIME TRANSFERS: the command line of curl_fetch into CURL_CMD
# (an `ip netns exec`, which execs curl: a background CURL_CMD's $! is curl's pid).
# TRANSFERS is "small", or "small big list". CURL_CONNECT_TIMEOUT: default 4 s.
curl_command() {
  local ns=$1 base=$2 cmd=$3 dir=$4 maxtime=$5 transfers=$6 opts=() args=() t
  case "$cmd" in
    PORT) opts=(-P - --disable-eprt) ;;
    EPRT) opts=(-P -) ;;
    PASV) opts=(--disable-epsv --no-ftp-skip-pasv-ip) ;;  # use the address in the 227 reply
    EPSV) opts=() ;;
  esac
  for t in $transfers; do
    case "$t" in
      small) args+=("$base/small.txt" -o "$dir/small.txt") ;;
      big) args+=("$base/big.bin" -o "$dir/big.bin") ;;
      list) args+=("$base/" -o "$dir/listing") ;;
    esac
  done
  # --connect-timeout also bounds the wait for an active-mode data connection.
  CURL_CMD=(ip netns exec "$ns" curl -v -sS --fail-early --connect-timeout "${CURL_CONNECT_TIMEOUT:-4}"
    --max-time "$maxtime" "${opts[@]}" "${args[@]}")
}
curl_fetch() {  # NS URLBASE CMD DIR MAXTIME TRANSFERS (see curl_command), trace into $trace
  curl_command "$@"
  "${CURL_CMD[@]}" >>"$trace" 2>&1
}

# The client's trace shows the command it sent: "> PORT ..." (curl), "---> PORT ..." (lftp).
# TRACE_TEXT: the case's trace (set by the job before it asks).
TRACE_TEXT=
sent() { [[ $TRACE_TEXT == *$'\n> '"$1"* || $TRACE_TEXT == *"---> $1"* ]]; }

# lftp_fetch NS URLBASE CMD DIR: small, big and a listing over one control connection.
lftp_fetch() {
  local ns=$1 base=$2 cmd=$3 dir=$4 pm epsv
  case "$cmd" in
    PORT|EPRT) pm=off epsv=no ;;
    PASV) pm=on epsv=no ;;
    EPSV) pm=on epsv=yes ;;
  esac
  HOME=/tmp in_ns "$ns" timeout 60 lftp -d -c "
    set cmd:fail-exit yes; set net:max-retries 1; set net:timeout 8;
    set net:reconnect-interval-base 1; set ftp:ssl-allow no; set ftp:passive-mode $pm;
    set ftp:prefer-epsv $epsv; set ftp:fix-pasv-address no; set xfer:clobber yes;
    open -u anonymous,test@example.org $base;
    get small.txt -o $dir/small.txt; get big.bin -o $dir/big.bin; ls > $dir/listing" \
    >>"$trace" 2>&1
}

# ---------------------------------------------------------------------------------------------
# One case
# ---------------------------------------------------------------------------------------------
selected() {
  local f
  [ ${#FILTERS[@]} -eq 0 ] && return 0
  for f in "${FILTERS[@]}"; do
    # shellcheck disable=SC2053
    [[ $1 == $f ]] && return 0
  done
  return 1
}
