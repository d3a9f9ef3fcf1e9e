#!/bin/bash
# faults.sh [MODE] [CASE-GLOB...]   (a run-vm.sh --job script: runs INSIDE the test VM)
#
#   tests/vm/run-vm.sh --build-dir build --job tests/vm/faults.sh ftp-algd ['fault-*']
#
# Faults of the daemon on the masquerade topology (client cli -> server srv), MODE must be
# ftp-algd ($FTPALG_DAEMON $FTPALG_DAEMON_ARGS, as testbed.sh). Cases:
#   fault-sigkill    kill -9 during a rate-limited 16 MB active-mode download: the download
#                    completes (sha256), the control connection still answers a NOOP after it
#                    (curl -Q -NOOP) and QUIT; the daemon restarted with the same arguments takes
#                    the stale registration over and serves a NEW session (PORT, 2 files).
#   fault-queue-flood  --queue-maxlen 16, daemon SIGSTOPped, 40 parallel logins: they pass
#                    (fail-open), the queue stays at its limit without drops; after SIGCONT the
#                    daemon serves a PORT transfer.
#   fault-sighup     SIGHUP every 1.5 s during 6 sequential transfers (PORT/PASV, 2 files each):
#                    every transfer passes, "configuration reloaded" once per signal,
#                    ftpalg_reloads_total counts them.
#   fault-many-sessions  50 control connections with a PORT each (to a fake server that answers
#                    200 and does not connect: 50 pending expectations), closed at once: no
#                    expectation left and ftpalg_sessions_active back to 0 within 30 s.
#   fault-slow-metrics  a metrics client that sends one byte every 190 ms and never ends its
#                    request (reconnecting whenever it is cut off) for 25 s, while PORT and PASV
#                    transfers run: they pass, each of its connections is cut within 5 s (the
#                    server allows 1 s), and the endpoint answers afterwards (the endpoint once
#                    ran on the packet loop). Meanwhile a status client connects to the status
#                    socket and never reads (reconnecting every 3 s): the transfers still pass,
#                    and `ftp-algd status` answers afterwards.
#   fault-restart-sessions  three control connections open across kill -9 + restart (issue 11
#                    part 2, restart_probe.py): A logged in (one rewritten PORT before the kill)
#                    then PORT and PASV transfers after it (sha256, QUIT answered); B not logged
#                    in, then HTTP + PORT (NAT slipstreaming); C a failed login, then PORT. B and
#                    C must open nothing (no expectation, no connection reaches their port): the
#                    restarted daemon resumes each session from the conntrack's helper data.
# Output: VM-RESULT ftp-algd:fault-<case> PASS|FAIL <detail>; logs in cases/fault-*.log.
# Topology, firewall, servers and ALG functions come from testbed.sh.
set -u
VMDIR=${FTPALG_VM_DIR:-$(cd "$(dirname "$0")" && pwd)}
# shellcheck source=testbed.sh
source "$VMDIR/testbed.sh"
testbed_init "${1:-ftp-algd}" "${@:2}"
[ "$MODE" = ftp-algd ] || { echo "faults.sh: only mode ftp-algd" >&2; exit 2; }

ALOG=$RES/ftp-algd.log
METRICS_URL=http://127.0.0.1:9477/metrics
STATUS_SOCKET=/run/ftp-algd/status.sock
SRVURL=ftp://198.51.100.2

count_in() {  # VAR FILE TEXT: lines of FILE containing TEXT
  local n=0 line
  while IFS= read -r line; do [[ $line == *"$3"* ]] && n=$((n + 1)); done <"$2"
  printf -v "$1" '%d' $n
}
metric() {  # VAR NAME: the value of ftpalg_NAME (empty if unreachable)
  local out line
  out=$(curl -sS --max-time 5 "$METRICS_URL" 2>/dev/null)
  printf -v "$1" '%s' ''
  while read -r line; do
    [[ $line == "ftpalg_$2 "* ]] && { printf -v "$1" '%s' "${line#* }"; break; }
  done <<<"$out"
}
algd_start() {  # [EXTRA-ARGS...]: appends to ftp-algd.log; waits for "serving helper"
  local before after
  count_in before "$ALOG" "serving helper"
  # shellcheck disable=SC2086
  "$DAEMON" $DAEMON_ARGS "$@" >>"$ALOG" 2>&1 &
  ALG_PID=$!
  BG_PIDS+=("$ALG_PID")
  local i
  for i in $(seq 100); do
    count_in after "$ALOG" "serving helper"
    [ "$after" -gt "$before" ] && return 0
    kill -0 "$ALG_PID" 2>/dev/null || return 1
    sleep 0.2
  done
  return 1
}
algd_stop() {
  [ -n "$ALG_PID" ] || return 0
  kill "$ALG_PID" 2>/dev/null
  wait "$ALG_PID" 2>/dev/null
  ALG_PID=''
}
# transfer NAME CMD FILES...: curl in cli, each file's sha256 compared with the source's.
transfer() {
  local name=$1 cmd=$2 opts=() args=() f
  shift 2
  case "$cmd" in PORT) opts=(-P - --disable-eprt) ;; PASV) opts=(--disable-epsv --no-ftp-skip-pasv-ip) ;; esac
  rm -rf "$DL/$name"; mkdir -p "$DL/$name"
  for f in "$@"; do args+=("$SRVURL/$f" -o "$DL/$name/$f"); done
  in_ns cli curl -v -sS --fail-early --connect-timeout 6 --max-time 60 "${opts[@]}" "${args[@]}" >>"$trace" 2>&1 || return 1
  for f in "$@"; do
    [ "$(sha256sum <"$DL/$name/$f")" = "$(sha256sum <"$FTPROOT/$f")" ] || { echo "### sha256 of $f differs" >>"$trace"; return 1; }
  done
}
begin() {  # NAME: selected? sets trace, flushes conntrack
  selected "$1" || return 1
  trace=$RES/cases/$1.log
  : >"$trace"
  conntrack -F >/dev/null 2>&1
  log "case $1"
}

# --- a: SIGKILL during a transfer ------------------------------------------------------------
case_sigkill() {
  local name=fault-sigkill t0 problems=() notes=() cpid rc size=0 i
  begin $name || return 0
  now_ms t0
  rm -rf "$DL/$name"; mkdir -p "$DL/$name"
  # Active mode, rate-limited: ~10 s; -Q -NOOP: a NOOP on the control connection after the
  # transfer (curl fails if it is not answered 2xx), then curl's QUIT.
  in_ns cli curl -v -sS --connect-timeout 6 --max-time 45 --limit-rate 1500K -P - --disable-eprt \
    -Q -NOOP "$SRVURL/huge.bin" -o "$DL/$name/huge.bin" >>"$trace" 2>&1 &
  cpid=$!
  for i in $(seq 100); do
    size=$(stat -c %s "$DL/$name/huge.bin" 2>/dev/null || echo 0)
    [ "$size" -ge 2000000 ] && break
    sleep 0.2
  done
  echo "### [+$(secs_since "$t0")s] kill -9 $ALG_PID at $size bytes" >>"$trace"
  kill -9 "$ALG_PID"; wait "$ALG_PID" 2>/dev/null; ALG_PID=''
  # While the daemon is down: is the queue gone, and does a NEW control connection pass (the
  # README's fail-open promise: the helper's packets are queued with the kernel's bypass flag)?
  { echo "### nfnetlink_queue after the kill:"; cat /proc/net/netfilter/nfnetlink_queue; } >>"$trace" 2>&1
  echo "### new login while the daemon is down (curl -I, 8 s)" >>"$trace"
  if in_ns cli curl -v -sS -I --connect-timeout 4 --max-time 8 "$SRVURL/small.txt" >>"$trace" 2>&1; then
    notes+=("new login while down: ok")
  else
    problems+=("a new control connection did not pass while the daemon was down (not fail-open)")
  fi
  [ "$size" -ge 2000000 ] && [ "$size" -lt $((16 * 1024 * 1024)) ] ||
    problems+=("download not in progress at the kill ($size bytes)")
  notes+=("killed at $((size / 1024)) KiB")
  wait "$cpid"; rc=$?
  echo "### [+$(secs_since "$t0")s] curl exit $rc" >>"$trace"
  [ $rc -eq 0 ] || problems+=("download after the kill: curl exit $rc")
  [ "$(sha256sum <"$DL/$name/huge.bin" 2>/dev/null)" = "$(sha256sum <"$FTPROOT/huge.bin")" ] ||
    problems+=("huge.bin sha256 differs")
  TRACE_TEXT=$'\n'$(<"$trace")
  [[ $TRACE_TEXT == *$'\n> NOOP'* ]] || problems+=("no NOOP sent after the transfer")
  [[ $TRACE_TEXT == *$'\n< 221'* ]] && notes+=("QUIT answered 221")
  nfct list helper >>"$trace" 2>&1
  # The same arguments again: the registration left by the killed process is taken over.
  if algd_start; then
    notes+=("restart ok")
    { echo "### nfnetlink_queue after the restart:"; cat /proc/net/netfilter/nfnetlink_queue; } >>"$trace" 2>&1
    transfer "$name-new" PORT small.txt big.bin || problems+=("new PORT session after the restart failed")
  else
    problems+=("restart failed: $(tail -n 3 "$ALOG" | tr '\n' ' ')")
  fi
  finish $name "$t0" problems "${notes[@]}"
}

# --- b: queue flood while the daemon is stopped ----------------------------------------------
queue_line() {  # VAR: queue 0's line of /proc/net/netfilter/nfnetlink_queue
  local l
  printf -v "$1" '%s' ''
  while read -r l; do [[ $l == "0 "* ]] && printf -v "$1" '%s' "$l"; done </proc/net/netfilter/nfnetlink_queue
}
case_queue_flood() {
  local name=fault-queue-flood t0 problems=() notes=() ppid ql qmax=0 tstop tcont n=40 ov0 ov1 out
  begin $name || return 0
  now_ms t0
  algd_stop
  algd_start --queue-maxlen 16 || { problems+=("daemon with --queue-maxlen 16 did not start"); finish $name "$t0" problems; return; }
  metric ov0 queue_overruns_total
  kill -STOP "$ALG_PID"
  now_ms tstop
  echo "### SIGSTOP at $tstop ms" >>"$trace"
  in_ns cli "$PY" "$VMDIR/alg_probe.py" logins $n 198.51.100.2 >"$RES/cases/$name.logins" 2>&1 &
  ppid=$!
  # Keep it stopped up to 40 s, or until every login is done; watch the queue meanwhile.
  local i
  for i in $(seq 200); do
    queue_line ql
    echo "### queue: $ql" >>"$trace"
    set -- $ql
    [ "${3:-0}" -gt "$qmax" ] && qmax=$3
    kill -0 "$ppid" 2>/dev/null || break
    sleep 0.2
  done
  queue_line ql
  echo "### queue before SIGCONT: $ql (queue_num portid total copy_mode copy_range dropped user_dropped id 1)" >>"$trace"
  kill -CONT "$ALG_PID"
  now_ms tcont
  echo "### SIGCONT at $tcont ms" >>"$trace"
  wait "$ppid"
  out=$(<"$RES/cases/$name.logins")
  echo "$out" >>"$trace"
  local ok=0 during=0 line
  while read -r line; do
    [[ $line == "login "*" ok "* ]] || continue
    ok=$((ok + 1))
    set -- $line
    [ $((10#${5/./})) -lt "$tcont" ] && during=$((during + 1))   # login's end (ms) < SIGCONT
  done <<<"$out"
  [[ $out == *"logins $n $n"* ]] || problems+=("$ok of $n logins succeeded")
  [ $during -gt 0 ] || problems+=("no login completed while the daemon was stopped (not fail-open?)")
  set -- $ql
  notes+=("$ok/$n logins ok, $during while stopped" "queue max $qmax/16" "kernel dropped=${6:-?} user_dropped=${7:-?}")
  [ "${6:-0}" = 0 ] || problems+=("the kernel dropped ${6} packets (fail-open expected)")
  sleep 1
  metric ov1 queue_overruns_total
  notes+=("ftpalg_queue_overruns_total ${ov0:-?} -> ${ov1:-?}")
  kill -0 "$ALG_PID" 2>/dev/null || problems+=("daemon died after SIGCONT")
  transfer "$name-after" PORT small.txt big.bin || problems+=("PORT transfer after SIGCONT failed")
  queue_line ql
  echo "### queue at the end: $ql" >>"$trace"
  algd_stop
  algd_start || problems+=("daemon restart with the default arguments failed")
  finish $name "$t0" problems "${notes[@]}"
}

# --- c: SIGHUP under load --------------------------------------------------------------------
case_sighup() {
  local name=fault-sighup t0 problems=() r0 r1 l0 l1 hpid i ok=0 sent
  begin $name || return 0
  now_ms t0
  metric r0 reloads_total
  count_in l0 "$ALOG" "configuration reloaded"
  rm -f /tmp/hup.stop /tmp/hup.count
  ( n=0
    while [ ! -e /tmp/hup.stop ] && [ $n -lt 12 ]; do
      sleep 1.5; kill -HUP "$ALG_PID" && n=$((n + 1)); echo $n >/tmp/hup.count
    done ) &
  hpid=$!
  for i in 1 2 3 4 5 6; do
    local cmd=PORT
    [ $((i % 2)) = 0 ] && cmd=PASV
    if transfer "$name-$i" $cmd small.txt big.bin; then ok=$((ok + 1)); else problems+=("transfer $i ($cmd) failed"); fi
  done
  touch /tmp/hup.stop
  wait "$hpid"
  sent=$(cat /tmp/hup.count 2>/dev/null || echo 0)
  sleep 1.5
  metric r1 reloads_total
  count_in l1 "$ALOG" "configuration reloaded"
  [ "$sent" -ge 3 ] || problems+=("only $sent SIGHUPs sent during the transfers")
  [ $((l1 - l0)) -eq "$sent" ] || problems+=("$((l1 - l0)) 'configuration reloaded' lines for $sent SIGHUPs")
  [ "${r1:-0}" = "$(( ${r0:-0} + sent ))" ] || problems+=("ftpalg_reloads_total ${r0:-?} -> ${r1:-?} for $sent SIGHUPs")
  kill -0 "$ALG_PID" 2>/dev/null || problems+=("daemon gone")
  finish $name "$t0" problems "$ok/6 transfers" "$sent SIGHUPs" "reloaded lines +$((l1 - l0))" "ftpalg_reloads_total ${r0:-?} -> ${r1:-?}"
}

# --- d: many sessions ending at once ---------------------------------------------------------
expect_count() {  # VAR
  # No process substitution: the guest has no /dev/fd.
  local n=0 line out
  out=$(conntrack -L expect 2>/dev/null)
  while read -r line; do [[ $line == *proto=6* ]] && n=$((n + 1)); done <<<"$out"
  printf -v "$1" '%d' $n
}
case_many_sessions() {
  local name=fault-many-sessions t0 problems=() n=50 ppid out e0 s0 e1 s1 tclose t_e='' t_s='' i
  begin $name || return 0
  now_ms t0
  rm -f /tmp/sessions.done
  # A fake server on a second address of srv answers PORT without connecting (pyftpdlib
  # connects at once and so uses the expectation up).
  ip -n srv addr add 198.51.100.3/24 dev eth0 2>/dev/null
  "$PY" "$VMDIR/alg_probe.py" sessions $n 198.51.100.3 /tmp/sessions.done >"$RES/cases/$name.out" 2>&1 &
  ppid=$!
  wait_for 90 grep -q '^ready' "$RES/cases/$name.out" || problems+=("clients not ready in 90 s: $(tail -n 2 "$RES/cases/$name.out")")
  out=$(<"$RES/cases/$name.out")
  expect_count e0
  metric s0 sessions_active
  conntrack -L expect >>"$trace" 2>&1
  [[ $out == *"ready $n $n"* ]] || problems+=("PORT answers: ${out%%$'\n'*} (want ready $n $n)")
  [ "$e0" -ge $n ] || problems+=("$e0 expectations before the close (want $n)")
  touch /tmp/sessions.done
  now_ms tclose
  wait "$ppid"
  for i in $(seq 60); do
    expect_count e1
    metric s1 sessions_active
    [ -z "$t_e" ] && [ "$e1" -eq 0 ] && t_e=$(secs_since "$tclose")
    [ -z "$t_s" ] && [ "${s1:-1}" = 0 ] && t_s=$(secs_since "$tclose")
    [ -n "$t_e" ] && [ -n "$t_s" ] && break
    sleep 0.5
  done
  echo "### after the close: expectations $e1, sessions_active $s1" >>"$trace"
  conntrack -L expect >>"$trace" 2>&1
  [ -n "$t_e" ] || problems+=("$e1 expectations left 30 s after the close")
  [ -n "$t_s" ] || problems+=("ftpalg_sessions_active ${s1:-?} 30 s after the close")
  finish $name "$t0" problems "$n sessions, $e0 expectations, sessions_active $s0 before" \
    "expectations 0 after ${t_e:-never}s, sessions_active 0 after ${t_s:-never}s"
}

# --- e: a slow metrics client ----------------------------------------------------------------
case_slow_metrics() {
  local name=fault-slow-metrics t0 problems=() spid stuck_pid out longest value i cmd
  begin $name || return 0
  now_ms t0
  "$PY" "$VMDIR/slow_client.py" 127.0.0.1 9477 25 >"$RES/cases/$name.out" 2>&1 &
  spid=$!
  "$PY" "$VMDIR/stuck_unix_client.py" "$STATUS_SOCKET" 25 3 >"$RES/cases/$name.status.out" 2>&1 &
  stuck_pid=$!
  sleep 1
  for i in 1 2 3 4; do
    cmd=PORT
    [ $((i % 2)) = 0 ] && cmd=PASV
    transfer "$name-$i" $cmd small.txt big.bin || problems+=("transfer $i ($cmd) failed while the slow client ran")
  done
  wait "$spid"
  wait "$stuck_pid"
  echo "### stuck status client: $(<"$RES/cases/$name.status.out")" >>"$trace"
  [[ $(<"$RES/cases/$name.status.out") == connections* ]] ||
    problems+=("stuck status client: $(<"$RES/cases/$name.status.out")")
  "$DAEMON" --status-socket "$STATUS_SOCKET" status >>"$trace" 2>&1 ||
    problems+=("ftp-algd status did not answer after the stuck client")
  out=$(<"$RES/cases/$name.out")
  echo "### slow client: $out" >>"$trace"
  longest=${out##*longest-hold }
  longest=${longest%s}
  [[ $out == connections* ]] || problems+=("slow client: $out")
  [[ ${longest%.*} =~ ^[0-9]+$ ]] && [ "${longest%.*}" -lt 5 ] || problems+=("a slow connection was held ${longest}s")
  metric value sessions_active
  [ -n "$value" ] || problems+=("metrics unreachable after the slow client")
  kill -0 "$ALG_PID" 2>/dev/null || problems+=("daemon gone")
  finish $name "$t0" problems "4/4 transfers with $out"
}

# --- f: sessions that live through a restart --------------------------------------------------
case_restart_sessions() {
  local name=fault-restart-sessions t0 problems=() ppid out fake=198.51.100.3 go=/tmp/restart.go
  local resumed writes
  begin $name || return 0
  now_ms t0
  rm -f "$go"
  ip -n srv addr add $fake/24 dev eth0 2>/dev/null
  "$PY" "$VMDIR/restart_probe.py" "$FTPROOT" $fake "$go" >"$RES/cases/$name.out" 2>&1 &
  ppid=$!
  wait_for 60 grep -q '^ready' "$RES/cases/$name.out" ||
    problems+=("sessions not ready in 60 s: $(tail -n 2 "$RES/cases/$name.out")")
  { echo "### conntrack before the kill:"; conntrack -L -p tcp --dport 21; } >>"$trace" 2>&1
  # The cost of keeping the snapshots: writes per queued packet over every case since the last
  # restart (docs/faults.md).
  curl -sS --max-time 5 "$METRICS_URL" >"$RES/cases/$name-metrics-before-kill.txt" 2>&1
  echo "### [+$(secs_since "$t0")s] kill -9 $ALG_PID" >>"$trace"
  kill -9 "$ALG_PID"; wait "$ALG_PID" 2>/dev/null; ALG_PID=''
  # As systemd's Restart= would: the same arguments; the release guard has disabled the helper.
  sleep 1
  algd_start || problems+=("restart failed: $(tail -n 3 "$ALOG" | tr '\n' ' ')")
  touch "$go"
  wait "$ppid"
  out=$(<"$RES/cases/$name.out")
  cat "$RES/cases/$name.out" >>"$trace"
  [[ $out == *$'\nA PORT ok'* ]] || problems+=("A: PORT after the restart: $(grep '^A PORT' <<<"$out")")
  [[ $out == *$'\nA PASV ok'* ]] || problems+=("A: PASV after the restart: $(grep '^A PASV' <<<"$out")")
  [[ $out == *$'\nA QUIT 221'* ]] || problems+=("A: QUIT not answered 221")
  [[ $out == *$'\nB CLOSED expectations=0'* ]] || problems+=("B (not logged in, HTTP + PORT): $(grep '^B ' <<<"$out")")
  [[ $out == *$'\nC CLOSED expectations=0'* ]] || problems+=("C (failed login, PORT): $(grep '^C ' <<<"$out")")
  metric resumed sessions_resumed_total
  metric writes session_state_writes_verdict_total
  finish $name "$t0" problems "A PORT+PASV after the restart, B and C opened nothing;" \
    "sessions_resumed ${resumed:-?}, snapshots written with verdicts ${writes:-?} (since the restart)"
}

# --- Main ------------------------------------------------------------------------------------
log "faults: kernel $(uname -r)"
testbed_up
head -c $((16 * 1024 * 1024)) /dev/urandom >"$FTPROOT/huge.bin"
if [ -z "$DAEMON" ] || [ ! -x "$DAEMON" ]; then
  result faults SKIP "ftp-algd not built (${DAEMON:-FTPALG_DAEMON unset})"
  exit 4
fi
: >"$ALOG"
algd_start || { log "ftp-algd did not start: $(tail -n 5 "$ALOG")"; exit 1; }
attach_helper "$ALGD_HELPER"
log "servers up, ftp-algd pid $ALG_PID, helper families '$HELPER_FAMILIES'"

case_sigkill
case_queue_flood
case_sighup
case_many_sessions
case_slow_metrics
case_restart_sessions

curl -sS --max-time 5 "$METRICS_URL" >"$RES/ftp-algd-metrics.txt" 2>&1
algd_stop
summarize_and_exit "faults"
