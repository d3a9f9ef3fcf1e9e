#!/bin/bash
# interop.sh [MODES] [SERVERS] [CASE-GLOB...]   (a run-vm.sh --job script: runs INSIDE the test VM)
#
#   tests/vm/run-vm.sh --build-dir build --job tests/vm/interop.sh kernel+ftp-algd vsftpd
#
# The interop matrix (issue 9, docs/interop.md): real FTP servers x real FTP clients through the
# gateway, against each ALG of MODES (default "kernel+ftp-algd": both in one boot, the kernel
# helper first), for each server of SERVERS ('+'-separated; default: every server of
# ftp_servers.sh, i.e. pyftpdlib+vsftpd+proftpd+pure-ftpd). Per server and ALG:
#   - masq-ipv4|6-active|passive-CLIENT: client in ns cli (inside, masqueraded) -> the server in
#     ns srv (198.51.100.2 / 2001:db8:2::2);
#   - dnat-ipv4|6-active|passive-CLIENT: client in ns srv (outside) -> 198.51.100.1 /
#     [2001:db8:2::1] port 21, DNATed to the server in ns isrv (192.0.2.10 / 2001:db8:1::10);
#   - pasvaddr-ipv4-passive-CLIENT: the dnat topology with the server's own masquerade setting
#     (vsftpd pasv_address, ProFTPD MasqueradeAddress, Pure-FTPd -P, pyftpdlib
#     masquerade_address = 198.51.100.1) and the passive ports published by DNAT (ports
#     1024-65535 of 198.51.100.1 to the inside server), as operators run servers behind NAT
#     without an ALG: the ALG must not break it. IPv4 passive only: EPSV carries no address, and
#     active mode does not involve the setting.
# CLIENTs: ftp_clients.sh (curl lftp wget ncftp ftplib tnftp). The firewall is testbed.sh's
# inline rule set (FORWARD policy DROP; data connections only as RELATED, except the published
# passive range of the pasvaddr cases), the helper attached to port 21 in raw PREROUTING.
#
# A cell PASSES when the client exited 0 by itself, big.bin (3 MiB) arrived whole with the
# server's sha256 (a short file is named as such), the listing names big.bin and small.txt, the
# client sent only data commands of the intended kind (active: PORT/EPRT; passive: PASV/EPSV),
# and the control connection carried the helper. A client that cannot do a combination (ncftp
# over IPv6) is a SKIP "not supported by the client: <why>".
# Timeouts (ftp_clients.sh): a client is stopped after FTPALG_INTEROP_STALL_S (40) seconds
# without a byte of progress (file or protocol trace), or after FTPALG_INTEROP_CAP_S (300).
#
# Verdict: the job fails when an ftp-algd cell fails; the kernel helper is the reference, its
# failures are reported and counted in the SUMMARY line but do not fail the job (testbed.sh
# alg_result).
# Output: VM-RESULT <alg>:<server>-<case> PASS|FAIL|SKIP <detail> (console and results.txt), the
# table $FTPALG_RESULTS/interop.tsv (one row per cell, header first), cases/<alg>-<server>-<case>.log
# (client trace, commands, FORWARD counters, conntrack, expectations), servers/<server>-<ns>/
# (the servers' logs and configuration). Exit 0 all ftp-algd cells passed, 1 one failed, 4
# nothing ran.
# Topology, firewall and ALG setup come from testbed.sh.
set -u
VMDIR=${FTPALG_VM_DIR:-$(cd "$(dirname "$0")" && pwd)}
MODES=${1:-kernel+ftp-algd}
shift || true
SERVERS_ARG=${1:-}
shift || true
GLOBS=("$@")
# The case globs become testbed.sh's FILTERS: selected CASE matches a case against them.
# shellcheck source=testbed.sh
source "$VMDIR/testbed.sh"
testbed_init kernel "${GLOBS[@]}"
# shellcheck source=ftp_clients.sh
source "$VMDIR/ftp_clients.sh"
FTPC_PY=$PY
FTPC_STALL_S=${FTPALG_INTEROP_STALL_S:-40}
FTPC_CAP_S=${FTPALG_INTEROP_CAP_S:-300}
CLIENTS=${FTPALG_INTEROP_CLIENTS:-$FTPC_CLIENTS}
PUB4=198.51.100.1
BIG_SIZE=$((3 * 1024 * 1024))
TSV=$RES/interop.tsv

# --- Servers: tests/vm/ftp_servers.sh (the Debian packages unpacked by fetch-ftp-servers.sh) ----
# shellcheck source=ftp_servers.sh
source "$VMDIR/ftp_servers.sh"
ALL_SERVERS=$FTP_SERVER_NAMES

server_version() {  # NAME: one line for docs/interop.md
  if [ "$1" = pyftpdlib ]; then
    "$PY" -c 'import pyftpdlib; print("pyftpdlib", pyftpdlib.__ver__)'
    return
  fi
  # fetch-ftp-servers.sh writes "NAME PACKAGE VERSION" per server.
  awk -v name="$1" '$1 == name { print $2, $3; found = 1 } END { exit !found }' \
    "${FTPALG_VM_CACHE:-/nonexistent}/ftp-servers/versions.txt" 2>/dev/null ||
    echo "$1 (version unknown: no ftp-servers/versions.txt)"
}

# --- The published passive range (pasvaddr cases) ------------------------------------------------
publish_passive_range() {  # add|del
  local op=-A
  [ "$1" = del ] && op=-D
  iptables -t nat $op PREROUTING -i out0 -d $PUB4 -p tcp --dport 1024:65535 \
    -j DNAT --to-destination 192.0.2.10 &&
    iptables $op FORWARD -i out0 -o br0 -d 192.0.2.10 -p tcp --dport 1024:65535 \
      -m conntrack --ctstate NEW --ctorigdst $PUB4 -j ACCEPT
}

# --- One cell --------------------------------------------------------------------------------
tsv_row() { local IFS=$'\t'; echo "$*" >>"$TSV"; }

run_cell() {  # SERVER TOPO FAMILY MODE CLIENT
  local server=$1 topo=$2 v=$3 xmode=$4 client=$5
  local case="$server-$topo-ipv$v-$xmode-$client"
  selected "$case" || return 0
  local ns host dir rc related exp0 exp1 ct cmds size sum listing problems=() notes=()
  if ! ftpc_supported "$client" "$v" "$xmode"; then
    result "$case" SKIP "$FTPC_REASON"
    tsv_row "$MODE" "$server" "$topo" "ipv$v" "$xmode" "$client" UNSUPPORTED - - - - - "$FTPC_REASON"
    return 0
  fi
  if [ "$topo" = masq ]; then
    ns=cli host=198.51.100.2
    [ "$v" = 6 ] && host=2001:db8:2::2
  else
    ns=srv host=$PUB4
    [ "$v" = 6 ] && host=2001:db8:2::1
  fi
  dir=$DL/$case
  trace=$RES/cases/$MODE-$case.log
  rm -rf "$dir"; mkdir -p "$dir"
  : >"$trace"
  conntrack -F >/dev/null 2>&1
  expect_new_count exp0
  ftpc_run "$client" "$ns" "$host" 21 "$xmode" "$dir" "$trace"
  rc=$?
  ftpc_data_commands "$trace" cmds
  echo "### client exit code $rc, ended: $FTPC_END after ${FTPC_SECS}s; data commands: $cmds" \
    >>"$trace"
  fw_related "$v" related
  ct=$(conntrack -L -f "ipv$v" 2>&1)
  echo "### conntrack -L -f ipv$v"$'\n'"$ct" >>"$trace"
  expect_new_count exp1
  { echo "### expectation events"; tail -n +$((exp0 + 1)) "$EXPECT_LOG"; } >>"$trace" 2>&1
  size=$(stat -c %s "$dir/big.bin" 2>/dev/null || echo 0)
  sum=$(sha256sum <"$dir/big.bin" 2>/dev/null)
  sum=${sum%% *}
  listing=
  [ -f "$dir/listing" ] && listing=$(<"$dir/listing")
  echo "### big.bin: $size bytes, sha256 $sum (the server's: $BIG_SIZE, $SHA_BIG)" >>"$trace"
  rm -rf "$dir"   # 3 MiB per cell would fill the guest's memory

  case "$FTPC_END" in
    stalled) problems+=("transfer stalled: no progress for ${FTPC_STALL_S}s") ;;
    cap) problems+=("still running after ${FTPC_CAP_S}s (moving, but too slowly)") ;;
  esac
  [ $rc -eq 0 ] || [ "$FTPC_END" != exit ] || problems+=("client exit code $rc")
  if [ "$size" -ne $BIG_SIZE ]; then
    problems+=("big.bin $size of $BIG_SIZE bytes")
  elif [ "$sum" != "$SHA_BIG" ]; then
    problems+=("big.bin sha256 differs")
  fi
  [[ $listing == *big.bin* && $listing == *small.txt* ]] || problems+=("listing lacks big.bin/small.txt")
  local c want
  if [ "$xmode" = active ]; then want="PORT EPRT LPRT"; else want="PASV EPSV LPSV"; fi
  [ -n "$cmds" ] || problems+=("no data command sent")
  for c in $cmds; do
    [[ " $want " == *" $c "* ]] || { problems+=("sent $c in $xmode mode"); break; }
  done
  [[ $ct == *"helper=$HELPER"* ]] || problems+=("no connection with helper=$HELPER in conntrack -L")
  # Without the published range, a data connection can only have passed as RELATED.
  if [ "$topo" != pasvaddr ] && [ "$size" -gt 0 ] && [ "${related:-0}" -eq 0 ]; then
    problems+=("data arrived but nothing was accepted as RELATED (firewall leak?)")
  fi
  notes+=("cmds=${cmds// /,}" "related=$related" "expectations=$((exp1 - exp0))")
  local verdict=PASS detail
  if [ ${#problems[@]} -gt 0 ]; then
    verdict=FAIL
    detail="$(IFS=';'; echo "${problems[*]}") [$(IFS=' '; echo "${notes[*]}")] ${FTPC_SECS}s (cases/$MODE-$case.log)"
  else
    detail="$(IFS=' '; echo "${notes[*]}") ${FTPC_SECS}s"
  fi
  alg_result "$case" "$verdict" "$detail"
  tsv_row "$MODE" "$server" "$topo" "ipv$v" "$xmode" "$client" "$verdict" "${cmds// /,}" "$size" \
    "$related" "$((exp1 - exp0))" "$FTPC_SECS" "$(IFS=';'; echo "${problems[*]}")"
}

# --- ALG phases --------------------------------------------------------------------------------
alg_setup() {  # MODE -> 0, or 1 with the cells recorded as SKIP
  MODE=$1 HELPER='' HELPER_FAMILIES='' ALG_SKIP='' ALG_PID=''
  case "$1" in
    kernel) alg_setup_kernel ;;
    ftp-algd) alg_setup_ftp_algd ;;
    *) log "unknown mode $1"; exit 2 ;;
  esac
  log "ALG $1: helper='$HELPER' families='$HELPER_FAMILIES' ${ALG_SKIP:+skip: $ALG_SKIP}"
  [ -z "$ALG_SKIP" ]
}
alg_teardown() {
  [ -n "$ALG_SKIP" ] && return
  if [ "$MODE" = ftp-algd ]; then
    alg_teardown_ftp_algd
    cat "$RES/ftp-algd.log" >>"$RES/ftp-algd-interop.log" 2>/dev/null
    cat "$RES/ftp-algd-metrics.txt" >>"$RES/ftp-algd-interop-metrics.txt" 2>/dev/null
  else
    alg_teardown_kernel
  fi
}

# The cells of one phase for one server, against every ALG in turn.
run_phase() {  # SERVER PHASE(main|pasvaddr)
  local server=$1 phase=$2 m topo v xmode client
  for m in "${MODE_LIST[@]}"; do
    if ! alg_setup "$m"; then
      result "$server-$phase" SKIP "$ALG_SKIP"
      continue
    fi
    if [ "$phase" = pasvaddr ]; then
      for client in $CLIENTS; do run_cell "$server" pasvaddr 4 passive "$client"; done
    else
      for topo in masq dnat; do
        for v in 4 6; do
          for xmode in active passive; do
            for client in $CLIENTS; do run_cell "$server" "$topo" "$v" "$xmode" "$client"; done
          done
        done
      done
    fi
    alg_teardown
  done
}

phase_selected() {  # SERVER PHASE(main|pasvaddr): a glob selects one of its cells
  local topo v xmode client
  [ ${#GLOBS[@]} -eq 0 ] && return 0
  for client in $CLIENTS; do
    if [ "$2" = pasvaddr ]; then
      selected "$1-pasvaddr-ipv4-passive-$client" && return 0
      continue
    fi
    for topo in masq dnat; do
      for v in 4 6; do
        for xmode in active passive; do
          selected "$1-$topo-ipv$v-$xmode-$client" && return 0
        done
      done
    done
  done
  return 1
}

SRV_RUNS=()
stop_servers() {
  local entry
  for entry in "${SRV_RUNS[@]}"; do ftp_server_stop "${entry%%:*}" "${entry#*:}"; done
  SRV_RUNS=()
}
start_server() {  # NAME NS [--masquerade ADDR]
  local run=$RES/servers/$1-$2${3:+-masquerade}
  SRV_RUNS+=("$1:$run")
  if ! ftp_server_start "$1" "$2" "$FTPROOT" "$run" "${@:3}" >>"$RES/servers.log" 2>&1; then
    log "$1 did not start in $2 (servers.log, $run)"
    return 1
  fi
}
interop_cleanup() { stop_servers; cleanup; }
trap interop_cleanup EXIT

# --- Main --------------------------------------------------------------------------------------
SERVERS=${SERVERS_ARG:-${ALL_SERVERS// /+}}
IFS=+ read -r -a MODE_LIST <<<"$MODES"
IFS=+ read -r -a SERVER_LIST <<<"$SERVERS"
log "interop: modes $MODES, servers $SERVERS, clients $CLIENTS, kernel $(uname -r)"
mkdir -p "$FTPROOT" "$RES/servers"
start_expect_listener
setup_topology || { log "topology setup failed"; exit 1; }
# Name lookups go nowhere: some clients resolve names even for an address literal (wget and ncftp
# waited 2 x 5 s per run for the guest's nameserver, dropped by the gateway). ip netns exec
# mounts /etc/netns/NS/resolv.conf over /etc/resolv.conf (the guest's overlay, not the host's).
for ns in cli srv isrv; do
  mkdir -p "/etc/netns/$ns"
  echo "nameserver 127.0.0.1" >"/etc/netns/$ns/resolv.conf"
done
fw_base || { log "firewall setup failed"; exit 1; }
make_files
tsv_row alg server topo family mode client verdict commands bytes related expectations seconds problems
{
  echo "kernel $(uname -r)"
  for s in "${SERVER_LIST[@]}"; do echo "server $s: $(server_version "$s" 2>&1)"; done
  for c in $CLIENTS; do echo "client $c: $(ftpc_version "$c" 2>&1)"; done
  echo "ftp-algd: $("$DAEMON" --version 2>&1 | head -n 1)"
} >"$RES/versions.txt"
cat "$RES/versions.txt"

for server in "${SERVER_LIST[@]}"; do
  if [[ " $ALL_SERVERS " != *" $server "* ]]; then
    result "$server" FAIL "unknown server (known: $ALL_SERVERS)"
    continue
  fi
  # A server that could not be fetched on this host (fetch-ftp-servers.sh) is a skip, not a fail.
  if [[ $(server_version "$server") == *"version unknown"* ]]; then
    result "$server" SKIP "not fetched (tests/vm/fetch-ftp-servers.sh)"
    continue
  fi
  if phase_selected "$server" main; then
    if start_server "$server" srv && start_server "$server" isrv; then
      log "$server up in srv and isrv"
      run_phase "$server" main
    else
      result "$server" FAIL "server did not start (servers.log)"
    fi
    stop_servers
  fi
  if phase_selected "$server" pasvaddr; then
    if start_server "$server" isrv --masquerade $PUB4 && publish_passive_range add; then
      log "$server up in isrv with --masquerade $PUB4, passive range published"
      run_phase "$server" pasvaddr
    else
      result "$server-pasvaddr" FAIL "server with --masquerade did not start (servers.log)"
    fi
    publish_passive_range del 2>/dev/null
    stop_servers
  fi
done
conntrack -L expect >"$RES/cases/expect-at-end.txt" 2>&1
summarize_and_exit "$(with_kernel_fails "interop ($MODES; $SERVERS)")"
