#!/bin/bash
# transfers.sh [MODE] [CASE-GLOB...]   (a run-vm.sh --job script: runs INSIDE the test VM)
#
#   tests/vm/run-vm.sh --build-dir build --job tests/vm/transfers.sh ftp-algd
#
# ftp-algd's transfer log (docs/transfer-log.md) on the masquerade topology (client cli ->
# server srv through the gateway's MASQUERADE), MODE must be ftp-algd. The daemon runs with
# --transfer-log FILE; conntrack accounting is on (net.netfilter.nf_conntrack_acct=1) and TIME_WAIT
# is 2 s (nf_conntrack_tcp_timeout_time_wait) so that the data connections' destroy events come
# within seconds, not two minutes. Cases:
#   transfer-log       RETR of the 3 MB big.bin (PORT) and of small.txt (PASV) as anonymous from
#                      198.51.100.2, STOR of a 1 MB file (PORT) and a 200000-byte file (PASV) as
#                      alice to a writable pyftpdlib on 198.51.100.3: one record each with the
#                      user, command, name, mode, final reply 226, the inside client on the data
#                      connection, and conntrack's bytes in the file's direction between the size
#                      and the size plus 5% (retransmissions) plus 100 bytes a packet (whole IP
#                      packets are counted); the uploads arrive byte for byte.
#   transfer-log-noacct  the same RETR (PASV) with accounting off: its record has
#                      "to_server":null,"to_client":null.
# Output: VM-RESULT ftp-algd:transfer-log... PASS|FAIL <detail>; logs in cases/transfer-log*.log.
set -u
VMDIR=${FTPALG_VM_DIR:-$(cd "$(dirname "$0")" && pwd)}
# shellcheck source=testbed.sh
source "$VMDIR/testbed.sh"
testbed_init "${1:-ftp-algd}" "${@:2}"
[ "$MODE" = ftp-algd ] || { echo "transfers.sh: only mode ftp-algd" >&2; exit 2; }

ALOG=$RES/ftp-algd.log
TLOG=$RES/transfers.jsonl
UPROOT=/tmp/uploads
UPSRC=/tmp/upload-src

records() {  # VAR: transfer records in the log so far
  local count=0 line
  while IFS= read -r line; do
    [[ $line == *'"event":"transfer"'* ]] && count=$((count + 1))
  done <"$TLOG"
  printf -v "$1" '%d' $count
}
# Waits until the log holds WANT records (at most 60 s). A conntrack listing reaps entries whose
# timeout ran out (ctnetlink's dump evicts expired ones), so the destroy events do not wait for
# the garbage collector's next pass.
wait_records() {  # WANT
  local n _
  for _ in $(seq 60); do
    conntrack -L >/dev/null 2>&1
    records n
    [ "$n" -ge "$1" ] && return 0
    sleep 1
  done
  return 1
}
curl_in_cli() {  # CURL-ARGS...: into the case's trace
  in_ns cli curl -v -sS --connect-timeout 6 --max-time 60 "$@" >>"$trace" 2>&1
}
begin() {  # NAME
  selected "$1" || return 1
  trace=$RES/cases/$1.log
  : >"$trace"
  log "case $1"
}

case_transfer_log() {
  local name=transfer-log t0 problems=() before small f out
  begin $name || return 0
  now_ms t0
  records before
  small=$(stat -c %s "$FTPROOT/small.txt")
  rm -rf "${DL:?}/$name"; mkdir -p "$DL/$name"
  curl_in_cli -P - --disable-eprt ftp://198.51.100.2/big.bin -o "$DL/$name/big.bin" ||
    problems+=("RETR big.bin (PORT) failed")
  curl_in_cli --disable-epsv --no-ftp-skip-pasv-ip ftp://198.51.100.2/small.txt \
    -o "$DL/$name/small.txt" || problems+=("RETR small.txt (PASV) failed")
  curl_in_cli -P - --disable-eprt -T "$UPSRC/up-active.bin" ftp://alice:secret@198.51.100.3/ ||
    problems+=("STOR up-active.bin (PORT) failed")
  curl_in_cli --disable-epsv --no-ftp-skip-pasv-ip -T "$UPSRC/up-passive.bin" \
    ftp://alice:secret@198.51.100.3/ || problems+=("STOR up-passive.bin (PASV) failed")
  for f in up-active.bin up-passive.bin; do
    cmp -s "$UPSRC/$f" "$UPROOT/$f" || problems+=("$f did not arrive intact")
  done
  wait_records $((before + 4)) || problems+=("fewer than 4 records within 60 s")
  {
    echo "### transfer log:"; cat "$TLOG"
    echo "### check:"
  } >>"$trace"
  out=$("$PY" "$VMDIR/transfer_log_check.py" "$TLOG" \
    "anonymous:RETR:big.bin:active:$((3 * 1024 * 1024)):192.0.2.2" \
    "anonymous:RETR:small.txt:passive:$small:192.0.2.2" \
    "alice:STOR:up-active.bin:active:1048576:192.0.2.2" \
    "alice:STOR:up-passive.bin:passive:200000:192.0.2.2" 2>&1) ||
    problems+=("records differ: $(grep -c FAIL <<<"$out") of 4")
  echo "$out" >>"$trace"
  finish $name "$t0" problems "4 records: 2 RETR + 2 STOR, active and passive, bytes as conntrack counts"
}

case_transfer_log_noacct() {
  local name=transfer-log-noacct t0 problems=() before line
  begin $name || return 0
  now_ms t0
  sysctl -qw net.netfilter.nf_conntrack_acct=0
  records before
  curl_in_cli --disable-epsv --no-ftp-skip-pasv-ip ftp://198.51.100.2/small.txt -o /dev/null ||
    problems+=("RETR small.txt (PASV) failed")
  wait_records $((before + 1)) || problems+=("no record within 60 s")
  line=$(grep '"event":"transfer"' "$TLOG" | tail -n 1)
  echo "### last record: $line" >>"$trace"
  [[ $line == *'"to_server":null,"to_client":null'* ]] || problems+=("counters not null")
  [[ $line == *'"reply":226'* && $line == *'"name":"small.txt"'* ]] || problems+=("record wrong")
  sysctl -qw net.netfilter.nf_conntrack_acct=1
  finish $name "$t0" problems "counters null without accounting"
}

# --- Main ------------------------------------------------------------------------------------
log "transfers: kernel $(uname -r)"
# Before any connection exists: the accounting extension is added when a conntrack is created.
sysctl -qw net.netfilter.nf_conntrack_acct=1 net.netfilter.nf_conntrack_tcp_timeout_time_wait=2
testbed_up
if [ -z "$DAEMON" ] || [ ! -x "$DAEMON" ]; then
  result transfers SKIP "ftp-algd not built (${DAEMON:-FTPALG_DAEMON unset})"
  exit 4
fi
mkdir -p "$UPROOT" "$UPSRC"
head -c 1048576 /dev/urandom >"$UPSRC/up-active.bin"
head -c 200000 /dev/urandom >"$UPSRC/up-passive.bin"
ip -n srv addr add 198.51.100.3/24 dev eth0
in_ns srv "$PY" "$VMDIR/ftpd.py" --user alice:secret "$UPROOT" "$RES/ftpd-upload.log" \
  /tmp/ftpd-upload.ready 198.51.100.3 &
BG_PIDS+=($!)
: >"$TLOG"
# shellcheck disable=SC2086
"$DAEMON" $DAEMON_ARGS --transfer-log "$TLOG" >"$ALOG" 2>&1 &
ALG_PID=$!
BG_PIDS+=("$ALG_PID")
wait_for 20 grep -q "serving helper" "$ALOG" || { log "ftp-algd did not start: $(tail -n 5 "$ALOG")"; exit 1; }
attach_helper "$ALGD_HELPER"
wait_for 90 test -e /tmp/ftpd-upload.ready || { log "upload server did not start"; exit 1; }
log "servers up, ftp-algd pid $ALG_PID"

case_transfer_log
case_transfer_log_noacct

curl -sS --max-time 5 http://127.0.0.1:9477/metrics >"$RES/ftp-algd-metrics.txt" 2>&1
kill "$ALG_PID" 2>/dev/null
wait "$ALG_PID" 2>/dev/null
summarize_and_exit "transfers"
