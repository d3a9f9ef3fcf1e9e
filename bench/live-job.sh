#!/bin/bash
# bench/live-job.sh: the guest side of bench/run-live.sh (run by run-vm.sh --job in the test VM's
# chroot, as root, in the gateway's network namespace). Reports, never fails on a figure.
#
# Topology: ns cli 192.0.2.2 -- gw-cli 192.0.2.1 [gateway, MASQUERADE on out0] out0 198.51.100.1
#           -- ns srv 198.51.100.2 (pyftpdlib, port 21) and 198.51.100.3 (fake server, port 21).
# Modes: ftp-algd (-j CT --helper ftp-alg: every session on the daemon's worker 0; FORWARD DROP +
# RELATED), ftp-algd-workers (the same daemon, its W = nproc workers' helpers ftp-alg-0..W-1 taken
# in turn as in rules/workers/), kernel (-j CT --helper ftp; same firewall), none (no helper,
# FORWARD ACCEPT: the floor; passive mode only). One daemon serves both ftp-algd modes, so they
# differ only in how many workers the rules spread the sessions over.
# Phases: 1. workload: for each N in LIVE_SESSIONS, LIVE_REPEAT times, each mode in turn
#            (interleaved, so that the ratios of one alternation share the machine's load): N concurrent
#            ftplib sessions (bench/live_client.py workload); counters of port-21 packets from
#            mangle FORWARD; the daemon's metrics.
#         2. data path: one LIVE_DATA_MB file over PASV with curl, modes none and ftp-algd.
#         3. scale: a fresh daemon; up to LIVE_SCALE control connections to the fake server, each
#            with a pending PORT; conntrack -E expect timestamps; daemon memory.
# Output: $FTPALG_RESULTS/bench/ (raw files; bench/live_report.py on the host makes the tables).
set -u
RES=${FTPALG_RESULTS:?}
OUT=$RES/bench
BENCH=${FTPALG_BENCH_DIR:?FTPALG_BENCH_DIR must name the bench/ directory}
DAEMON=${FTPALG_DAEMON:?}
PY=/usr/bin/python3
SESSIONS=${LIVE_SESSIONS:-"1 50 200"}
TRANSFERS=${LIVE_TRANSFERS:-100}
DURATION=${LIVE_DURATION:-10}
MODES=${LIVE_MODES:-"kernel ftp-algd ftp-algd-workers none"}
REPEAT=${LIVE_REPEAT:-1}
WORKERS=$(nproc)
DATA_MB=${LIVE_DATA_MB:-200}
SCALE=${LIVE_SCALE:-10000}
SCALE_TIME=${LIVE_SCALE_TIME:-150}
DAEMON_ARGS=(--queue 0 --helper-name ftp-alg --expect-timeout 1200 --workers "$WORKERS")
mkdir -p "$OUT"
: >"$OUT/counters.jsonl"
BG=()
now_ms() { local t=${EPOCHREALTIME/./}; printf -v "$1" '%d' $((10#$t / 1000)); }
now_ms T0
log() { local n; now_ms n; echo "live-job[$(( (n - T0) / 1000 ))s]: $*" | tee -a "$OUT/job.log"; }
cleanup() {
  local p
  for p in "${BG[@]}"; do kill "$p" 2>/dev/null; done
  [ -n "${DPID:-}" ] && kill "$DPID" 2>/dev/null
  for p in "${BG[@]}"; do wait "$p" 2>/dev/null; done
}
trap cleanup EXIT
ulimit -n 65536

# --- topology ---------------------------------------------------------------------------------
sysctl -qw net.ipv4.ip_forward=1
sysctl -qw net.netfilter.nf_conntrack_max=262144 2>/dev/null
sysctl -qw net.netfilter.nf_conntrack_expect_max=65536 2>/dev/null ||
  log "could not raise nf_conntrack_expect_max"
echo 65536 >/sys/module/nf_conntrack/parameters/hashsize 2>/dev/null
log "conntrack max $(cat /proc/sys/net/netfilter/nf_conntrack_max), expect max $(cat /proc/sys/net/netfilter/nf_conntrack_expect_max)"
ip netns add cli
ip netns add srv
ip link add gw-cli type veth peer name eth0 netns cli
ip link add out0 type veth peer name eth0 netns srv
ip -batch - <<'END'
link set lo up
addr add 192.0.2.1/24 dev gw-cli
link set gw-cli up
addr add 198.51.100.1/24 dev out0
link set out0 up
END
ip -n cli -batch - <<'END'
link set lo up
addr add 192.0.2.2/24 dev eth0
link set eth0 up
route add default via 192.0.2.1
END
ip -n srv -batch - <<'END'
link set lo up
addr add 198.51.100.2/24 dev eth0
addr add 198.51.100.3/24 dev eth0
link set eth0 up
END
ip netns exec srv sysctl -qw net.core.somaxconn=4096 net.ipv4.tcp_max_syn_backlog=8192
ip netns exec cli sysctl -qw net.ipv4.ip_local_port_range="10240 65000"

# --- servers ----------------------------------------------------------------------------------
FTPROOT=/tmp/ftproot
mkdir -p "$FTPROOT"
for i in {1..20}; do echo "line $i of small.txt, served by the ftp-alg live benchmark"; done >"$FTPROOT/small.txt"
truncate -s "${DATA_MB}M" "$FTPROOT/big.bin"   # sparse: no guest memory
ip netns exec srv "$PY" "$BENCH/live_ftpd.py" "$FTPROOT" /tmp/ftpd.log /tmp/ftpd.ready 198.51.100.2 &
BG+=($!); FTPD_PID=$!
ip netns exec srv "$PY" "$BENCH/live_client.py" fakeserver 198.51.100.3 21 /tmp/fake.ready &
BG+=($!)

# --- firewall ---------------------------------------------------------------------------------
iptables-restore <<'END'
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -m conntrack --ctstate RELATED -m comment --comment related -j ACCEPT
-A FORWARD -m conntrack --ctstate ESTABLISHED -j ACCEPT
-A FORWARD -i gw-cli -o out0 -p tcp --dport 21 -m conntrack --ctstate NEW -j ACCEPT
-A FORWARD -p tcp --syn -m comment --comment dropsyn
-A INPUT -i out0 -p tcp --syn -m comment --comment insyn
COMMIT
*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A FORWARD -p tcp --dport 21 -m comment --comment ctl
-A FORWARD -p tcp --sport 21 -m comment --comment ctl
-A FORWARD -p tcp ! --dport 21 ! --sport 21 -m comment --comment data
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A POSTROUTING -o out0 -j MASQUERADE
COMMIT
END
[ $? -eq 0 ] || { log "iptables-restore failed"; exit 1; }

CUR_MODE=''
set_mode() {  # MODE: helper rule and FORWARD policy
  [ "$1" = "$CUR_MODE" ] && return
  local i
  [ "$CUR_MODE" = none ] && iptables -D FORWARD -j ACCEPT
  iptables -t raw -F PREROUTING   # it holds only the helper rules
  case "$1" in
    kernel) iptables -t raw -A PREROUTING -p tcp --dport 21 -j CT --helper ftp ;;
    ftp-algd) iptables -t raw -A PREROUTING -p tcp --dport 21 -j CT --helper ftp-alg ;;
    ftp-algd-workers)  # as rules/workers/*.iptables, for W workers
      for ((i = 0; i < WORKERS - 1; i++)); do
        iptables -t raw -A PREROUTING -p tcp --dport 21 -m statistic --mode nth --every "$WORKERS" \
          --packet $i -j CT --helper "ftp-alg-$i" || break
      done &&
        iptables -t raw -A PREROUTING -p tcp --dport 21 -j CT --helper "ftp-alg-$((WORKERS - 1))" ;;
    none) iptables -I FORWARD 1 -j ACCEPT ;;   # open firewall (first rule: accept all)
  esac || log "helper rule for $1 failed"
  CUR_MODE=$1
  conntrack -F >/dev/null 2>&1
}

# counters VAR_CTL VAR_DATA VAR_RELATED: read and zero (mangle FORWARD, filter FORWARD)
counters() {
  local _out _line _c=0 _d=0 _r=0 _pk
  DROPSYN=0 INSYN=0   # SYNs the FORWARD policy dropped; SYNs from outside to the gateway itself
  _out=$(iptables -t mangle -nvxL FORWARD -Z; iptables -nvxL -Z)
  while read -r _line; do
    _pk=${_line%% *}
    case "$_line" in
      *"/* ctl */"*) _c=$((_c + _pk)) ;;
      *"/* data */"*) _d=$((_d + _pk)) ;;
      *"/* related */"*) _r=$((_r + _pk)) ;;
      *"/* dropsyn */"*) DROPSYN=$((DROPSYN + _pk)) ;;
      *"/* insyn */"*) INSYN=$((INSYN + _pk)) ;;
    esac
  done <<<"$_out"
  printf -v "$1" %d $_c; printf -v "$2" %d $_d; printf -v "$3" %d $_r
}

metric() {  # NAME -> value from the daemon's metrics (empty if none)
  awk -v n="$1" '$1 == n { print $2 }' /tmp/metrics.txt 2>/dev/null
}
fetch_metrics() { curl -s -m 5 http://127.0.0.1:9477/metrics >/tmp/metrics.txt 2>/dev/null || : >/tmp/metrics.txt; }
vmrss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

start_daemon() {  # LOGFILE
  "$DAEMON" "${DAEMON_ARGS[@]}" >"$1" 2>&1 &
  DPID=$!
  local i
  for i in $(seq 1 100); do
    grep -q "serving helper" "$1" 2>/dev/null && return 0
    sleep 0.2
  done
  log "daemon registered no helper: $(tail -n 3 "$1")"
  return 1
}
stop_daemon() { [ -n "${DPID:-}" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null; DPID=''; }

start_daemon /tmp/ftp-algd-workload.log
log "daemon pid $DPID: $("$DAEMON" --version 2>&1 | head -n1)"
for f in /tmp/ftpd.ready /tmp/fake.ready; do
  for i in $(seq 1 300); do [ -e $f ] && break; sleep 0.3; done
  [ -e $f ] || log "server did not start ($f)"
done
log "servers up"
# Warm-up: one session per mode (first Python/ftplib use, helper modules, ARP).
for m in $MODES; do
  set_mode "$m"
  ip netns exec cli "$PY" "$BENCH/live_client.py" workload --server 198.51.100.2 --sessions 1 \
    --transfers 2 --duration 5 --cmd pasv --out /tmp/warmup.json >/dev/null 2>&1
done
counters _ _ _
dmesg -c >/dev/null

# --- 1. workload ------------------------------------------------------------------------------
for n in $SESSIONS; do
 for ((rep = 1; rep <= REPEAT; rep++)); do
  for m in $MODES; do
    set_mode "$m"
    cmd=mix
    [ "$m" = none ] && cmd=pasv
    fetch_metrics
    p0=$(metric ftpalg_queue_packets_total); p0=${p0:-0}
    pid=$DPID   # in the other modes: the idle daemon's own CPU use
    log "workload $m N=$n ($cmd) alternation $rep/$REPEAT, load $(cut -d' ' -f1-3 /proc/loadavg)"
    ip netns exec cli "$PY" "$BENCH/live_client.py" workload --server 198.51.100.2 --sessions "$n" \
      --transfers "$TRANSFERS" --duration "$DURATION" --cmd $cmd --daemon-pid $pid \
      --out "$OUT/workload-$m-$n-r$rep.json" 2>&1 | tee -a "$OUT/job.log"
    counters ctl data rel
    dmesg -c | grep -iE 'conntrack|ctnetlink|nf_|expect' | tail -n 100 >"$OUT/dmesg-workload-$m-$n-r$rep.txt"
    fetch_metrics
    [ "$m" = ftp-algd-workers ] && grep '^ftpalg_worker_' /tmp/metrics.txt >"$OUT/workers-$n-r$rep.txt"
    p1=$(metric ftpalg_queue_packets_total); p1=${p1:-0}
    rss=$(metric ftpalg_resident_bytes)
    printf '{"phase":"workload","mode":"%s","sessions":%d,"rep":'$rep',"ctl_packets":%d,"data_packets":%d,"related_packets":%d,"dropped_syns":%d,"syns_to_gateway":%d,"daemon_packets":%s,"daemon_rss_bytes":%s,"daemon_vmrss_kb":%s}\n' \
      "$m" "$n" "$ctl" "$data" "$rel" "$DROPSYN" "$INSYN" "$([[ $m = ftp-algd* ]] && echo $((${p1%.*} - ${p0%.*})) || echo null)" \
      "$([[ $m = ftp-algd* ]] && echo "${rss:-null}" || echo null)" "$(vmrss_kb "$DPID" || echo null)" \
      >>"$OUT/counters.jsonl"
  done
 done
done

# --- diagnostics (LIVE_DIAG=1; run-live.sh --diag): where the daemon's CPU goes --------------
# Separate runs, not part of the figures above (strace and perf slow the daemon down).
if [ "${LIVE_DIAG:-0}" = 1 ]; then
  set_mode ftp-algd
  log "diag: strace -c -f on the daemon during N=50 for 5 s"
  strace -c -f -p "$DPID" -o "$OUT/diag-strace.txt" &
  STPID=$!
  sleep 1
  ip netns exec cli "$PY" "$BENCH/live_client.py" workload --server 198.51.100.2 --sessions 50 \
    --transfers 100 --duration 5 --cmd mix --daemon-pid "$DPID" --out "$OUT/diag-strace-workload.json" 2>&1 | tee -a "$OUT/job.log"
  kill -INT $STPID; wait $STPID 2>/dev/null
  log "diag: perf record (cpu-clock) on the daemon during N=50 for 5 s"
  perf record -e cpu-clock -F 499 -g -p "$DPID" -o /tmp/perf.data >/dev/null 2>"$OUT/diag-perf.err" &
  PFPID=$!
  sleep 1
  ip netns exec cli "$PY" "$BENCH/live_client.py" workload --server 198.51.100.2 --sessions 50 \
    --transfers 100 --duration 5 --cmd mix --daemon-pid "$DPID" --out "$OUT/diag-perf-workload.json" 2>&1 | tee -a "$OUT/job.log"
  kill -INT $PFPID; wait $PFPID 2>/dev/null
  perf report -i /tmp/perf.data --stdio --no-children --sort sym 2>/dev/null | grep -v '^$' | head -n 150 >"$OUT/diag-perf.txt"
  perf report -i /tmp/perf.data --stdio --no-children --sort dso -g none 2>/dev/null | grep -v '^$' | head -n 40 >"$OUT/diag-perf-dso.txt"
  counters _ _ _
fi

# --- 2. data path -----------------------------------------------------------------------------
for m in none ftp-algd none ftp-algd; do
  [ "$DATA_MB" -gt 0 ] || break
  set_mode "$m"
  counters _ _ _
  fetch_metrics; p0=$(metric ftpalg_queue_packets_total); p0=${p0:-0}
  log "data path $m: ${DATA_MB} MB over PASV"
  r=$(ip netns exec cli curl -sS --disable-epsv --max-time 200 -o /dev/null \
    -w '%{size_download} %{time_total} %{time_starttransfer}' ftp://198.51.100.2/big.bin 2>&1)
  counters ctl data rel
  fetch_metrics; p1=$(metric ftpalg_queue_packets_total); p1=${p1:-0}
  read -r size total tstart <<<"$r"
  log "  $r (ctl $ctl, data $data, related $rel, daemon packets $((${p1%.*} - ${p0%.*})))"
  printf '{"phase":"data","mode":"%s","bytes":%s,"time_total":%s,"time_starttransfer":%s,"ctl_packets":%d,"data_packets":%d,"related_packets":%d,"daemon_packets":%d}\n' \
    "$m" "${size:-0}" "${total:-0}" "${tstart:-0}" "$ctl" "$data" "$rel" $((${p1%.*} - ${p0%.*})) >>"$OUT/counters.jsonl"
done

# --- 3. scale ---------------------------------------------------------------------------------
# Larger netlink receive buffers (conntrack -E takes the default): fewer lost expectation events.
sysctl -qw net.core.rmem_default=33554432 net.core.rmem_max=33554432
scale_run() {  # MODE SESSIONS SECONDS
  local m=$1 n=$2 secs=$3 helper=ftp rss0= st0= vm0= rss1= st1= vm1= sess= errs= over= nexp
  set_mode "$m"
  if [[ $m = ftp-algd* ]]; then
    helper=ftp-alg   # also matches the workers' ftp-alg-I
    stop_daemon
    start_daemon "/tmp/$m-scale.log"
    CUR_MODE='' && set_mode "$m"   # the fresh daemon's helpers
    sleep 1
    fetch_metrics
    rss0=$(metric ftpalg_resident_bytes); st0=$(metric ftpalg_session_state_bytes); vm0=$(vmrss_kb "$DPID")
  fi
  conntrack -F >/dev/null 2>&1
  conntrack -E expect -o timestamp >"/tmp/expect-scale-$m.txt" 2>&1 &
  local epid=$!
  sleep 1
  rm -f /tmp/scale.ready /tmp/scale.release
  log "scale $m: up to $n sessions with a pending PORT, ${secs}s limit"
  ip netns exec cli "$PY" "$BENCH/live_client.py" scale --server 198.51.100.3 --local 192.0.2.2 \
    --sessions "$n" --concurrency 256 --duration "$secs" --out "$OUT/scale-sessions-$m.tsv" \
    --ready /tmp/scale.ready --release /tmp/scale.release 2>&1 | tee -a "$OUT/job.log" &
  local spid=$!
  for i in $(seq 1 $(( (secs + 120) * 5 ))); do [ -e /tmp/scale.ready ] && break; sleep 0.2; done
  sleep 3   # the last expectation events
  nexp=$(conntrack -L expect 2>/dev/null | grep -c "helper=$helper\b")
  if [[ $m = ftp-algd* ]]; then
    fetch_metrics
    cp /tmp/metrics.txt "$OUT/metrics-scale-$m.txt"
    rss1=$(metric ftpalg_resident_bytes); st1=$(metric ftpalg_session_state_bytes); vm1=$(vmrss_kb "$DPID")
    sess=$(metric ftpalg_sessions_active)
    errs=$(metric ftpalg_expectation_install_errors_total)
    over=$(metric ftpalg_queue_overruns_total)
  fi
  printf '{"phase":"scale","mode":"%s","summary":%s,"sessions_active":%s,"expect_table":%d,"rss0":%s,"rss1":%s,"state0":%s,"state1":%s,"vmrss0_kb":%s,"vmrss1_kb":%s,"install_errors":%s,"queue_overruns":%s}\n' \
    "$m" "$(cat /tmp/scale.ready 2>/dev/null || echo null)" "${sess:-null}" "$nexp" "${rss0:-null}" "${rss1:-null}" \
    "${st0:-null}" "${st1:-null}" "${vm0:-null}" "${vm1:-null}" "${errs:-null}" "${over:-null}" >>"$OUT/counters.jsonl"
  log "scale $m: expectations in the table $nexp, sessions_active ${sess:--}, RSS ${rss0:--} -> ${rss1:--}"
  touch /tmp/scale.release
  wait $spid
  kill $epid 2>/dev/null
  cp "/tmp/expect-scale-$m.txt" "$OUT/"
  conntrack -F >/dev/null 2>&1
}
[ "${LIVE_SCALE_KERNEL:-2000}" -gt 0 ] && [ "$SCALE" -gt 0 ] && scale_run kernel "${LIVE_SCALE_KERNEL:-2000}" 60
[ "$SCALE" -gt 0 ] && scale_run ftp-algd "$SCALE" "$SCALE_TIME"
[ "$SCALE" -gt 0 ] && [[ " $MODES " = *" ftp-algd-workers "* ]] &&
  scale_run ftp-algd-workers "$SCALE" "$SCALE_TIME"

stop_daemon
cp /tmp/ftp-algd-scale.log /tmp/ftp-algd-workers-scale.log "$OUT/" 2>/dev/null
# The workload log can be large: keep its size and tail.
wc -l /tmp/ftp-algd-workload.log >"$OUT/ftp-algd-workload.lines" 2>/dev/null
tail -n 200 /tmp/ftp-algd-workload.log >"$OUT/ftp-algd-workload.tail" 2>/dev/null
grep -c '"event":"log"' /tmp/ftp-algd-workload.log >>"$OUT/ftp-algd-workload.lines" 2>/dev/null
grep '"level":"warn\|"level":"error' /tmp/ftp-algd-workload.log /tmp/ftp-algd*-scale.log | head -n 50 >"$OUT/ftp-algd-warnings.txt"
log "done"
exit 0
