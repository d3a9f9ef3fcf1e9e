#!/bin/bash
# servers-check.sh [MODE] [SERVER...]   (a run-vm.sh --job script: runs INSIDE the test VM)
#
#   tests/vm/run-vm.sh --build-dir build --job tests/vm/servers-check.sh none
#
# Proves the servers library (ftp_servers.sh) before other jobs depend on it: each server of
# SERVER... (default: all of FTP_SERVER_NAMES) is started by ftp_server_start in namespace srv
# and must serve, with no NAT and no ALG in between (client ns cli on the same link), an
# anonymous curl session per command PORT, EPRT, PASV, EPSV over IPv4 and EPRT, EPSV over IPv6:
# a 3 MB file byte-compared with the source and a listing naming it. MODE is ignored (run-vm.sh
# needs one). For development it also runs on a host in a throwaway namespace:
#   ip netns add chk; ip netns exec chk env FTPALG_IN_VM=1 FTPALG_RESULTS=/tmp/res \
#     FTP_SERVERS_DIR=build/vm-cache/ftp-servers tests/vm/servers-check.sh; ip netns del chk
# Output: VM-RESULT servers:<server>-ipv<4|6>-<command> PASS|FAIL <detail>, then a SUMMARY.
set -u
VMDIR=${FTPALG_VM_DIR:-$(cd "$(dirname "$0")" && pwd)}
shift || true
# shellcheck source=testbed.sh
source "$VMDIR/testbed.sh"
testbed_init none
# shellcheck source=ftp_servers.sh
source "$VMDIR/ftp_servers.sh"
SERVERS=("$@")
[ ${#SERVERS[@]} -gt 0 ] || read -r -a SERVERS <<<"$FTP_SERVER_NAMES"
MODE=servers
RUN_DIR=$RES/servers
CURRENT=''
stop_current() { [ -z "$CURRENT" ] || ftp_server_stop "$CURRENT" "$RUN_DIR/$CURRENT"; CURRENT=''; }
trap 'stop_current; cleanup' EXIT

check_case() {  # SERVER FAMILY CMD
  local server=$1 v=$2 cmd=$3 name="$1-ipv$2-$3" base dir listing problems=()
  base=ftp://192.0.2.10
  [ "$v" = 4 ] || base='ftp://[2001:db8:1::10]'
  dir=$DL/servers/$name
  trace=$RES/cases/servers-$name.log
  rm -rf "$dir"; mkdir -p "$dir"
  : >"$trace"
  curl_fetch cli "$base" "$cmd" "$dir" 60 "big list" || problems+=("curl exit code $?")
  TRACE_TEXT=$'\n'$(<"$trace")
  sent "$cmd" || problems+=("curl did not send $cmd")
  cmp -s "$FTPROOT/big.bin" "$dir/big.bin" || problems+=("big.bin differs from the source")
  listing=
  [ -f "$dir/listing" ] && listing=$(<"$dir/listing")
  [[ $listing == *big.bin* ]] || problems+=("listing lacks big.bin")
  if [ ${#problems[@]} -eq 0 ]; then
    result "$name" PASS "3 MB + listing"
  else
    result "$name" FAIL "$(IFS=';'; echo "${problems[*]}") (cases/servers-$name.log)"
  fi
}

ip netns add cli && ip netns add srv || exit 1
ip link add eth0 netns cli type veth peer name eth0 netns srv
ip -n cli -batch - <<'END'
link set lo up
addr add 192.0.2.2/24 dev eth0
addr add 2001:db8:1::2/64 dev eth0 nodad
link set eth0 up
END
ip -n srv -batch - <<'END'
link set lo up
addr add 192.0.2.10/24 dev eth0
addr add 2001:db8:1::10/64 dev eth0 nodad
link set eth0 up
END
mkdir -p "$FTPROOT" "$RES/cases" "$RUN_DIR"
make_files
for server in "${SERVERS[@]}"; do
  CURRENT=$server
  if ! ftp_server_start "$server" srv "$FTPROOT" "$RUN_DIR/$server" 2>"$RES/cases/servers-$server.start"; then
    result "$server-start" FAIL "$(tail -n 3 "$RES/cases/servers-$server.start")"
    CURRENT=''
    continue
  fi
  log "$server started"
  for c in 4:PORT 4:EPRT 4:PASV 4:EPSV 6:EPRT 6:EPSV; do check_case "$server" "${c%%:*}" "${c#*:}"; done
  stop_current
done
summarize_and_exit "servers (${SERVERS[*]})"
