#!/usr/bin/env bash
# scripts/make-captures.sh - record the project's own real FTP captures into pcaps/.
#
# NEEDS
#   * root (network namespaces, veth, iptables/ip6tables, tcpdump, conntrack);
#   * a Linux kernel with netfilter NAT for IPv4 and IPv6 and the kernel's own FTP helpers
#     nf_conntrack_ftp + nf_nat_ftp (loadable modules or built in), xt_CT, MASQUERADE, DNAT;
#   * Debian packages (installed with apt-get if missing, after apt-get update):
#     iproute2 iptables tcpdump tshark curl python3-pyftpdlib conntrack.
#
# WHAT IT DOES
#   Builds throw-away network namespaces (names ftpcap-<pid>-*) joined by veth links, addresses
#   only from the documentation ranges (192.0.2.0/24, 198.51.100.0/24, 2001:db8::/32), runs
#   real FTP sessions (curl client, pyftpdlib server) through a gateway namespace whose NAT is
#   done by the kernel (MASQUERADE or DNAT + the kernel `ftp` helper), and records every session
#   with tcpdump on both sides of the gateway:
#     topology "snat": client 192.0.2.2 / 2001:db8:1::2 inside, server 198.51.100.2 /
#        2001:db8:2::2 outside, gateway masquerades to 198.51.100.1 / 2001:db8:2::1;
#        files pcaps/<family>-<mode>-{inside,outside}.pcap
#     topology "dnat": server 192.0.2.10 / 2001:db8:1::10 inside, published by the gateway at
#        198.51.100.1:21 / [2001:db8:2::1]:21, client 198.51.100.2 / 2001:db8:2::2 outside;
#        files pcaps/dnat-<family>-<mode>-{inside,outside}.pcap
#   Every session logs in, downloads a 2048-byte file (compared with the source), lists the
#   directory (a second data connection on the same control connection) and QUITs. The script
#   then checks each pair with tshark (the two sides differ exactly in the translated address/
#   port, data connections go where the control connection announced) and writes
#   pcaps/captures.json (manifest) and pcaps/README.md. Any failed transfer or check aborts the
#   run and leaves pcaps/ untouched (files are staged and moved in only at the end).
#
#   The host's own network configuration is never touched: everything happens inside the
#   namespaces, which an EXIT trap deletes together with every process the script started.
#   Rerunnable: namespaces left behind by a killed earlier run (ftpcap-<pid>-* whose <pid> is
#   gone) are removed at start; output files are overwritten.
#
# USAGE: sudo scripts/make-captures.sh [OUTDIR]        (default OUTDIR: <repo>/pcaps)
#        KEEP_TMP=1 keeps the work directory (logs, curl traces) for debugging.
set -Eeuo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$SCRIPT_DIR/.." && pwd)
OUTDIR=${1:-$REPO_DIR/pcaps}
PY=/usr/bin/python3            # the distribution python (python3-pyftpdlib lives there)
FTPUSER=ftpuser
FTPPASS=ftppass
SMALL=small.txt
T_START=$EPOCHREALTIME

log()  { printf '[make-captures] %s\n' "$*" >&2; }
die()  { printf '[make-captures] FAIL: %s\n' "$*" >&2; exit 1; }

if [[ ${1:-} == -h || ${1:-} == --help ]]; then sed -n '2,40p' "$0"; exit 0; fi

log "needs: root; kernel NAT + nf_conntrack_ftp/nf_nat_ftp; packages iproute2 iptables tcpdump tshark curl python3-pyftpdlib conntrack"
[[ $(id -u) -eq 0 ]] || die "must run as root (network namespaces, iptables, tcpdump)"

# ---------------------------------------------------------------- packages
need_pkgs=()
for pair in ip:iproute2 ss:iproute2 iptables:iptables ip6tables:iptables tcpdump:tcpdump \
            tshark:tshark curl:curl conntrack:conntrack sha256sum:coreutils; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || need_pkgs+=("${pair#*:}")
done
{ [[ -x $PY ]] && $PY -c 'import pyftpdlib' 2>/dev/null; } || need_pkgs+=(python3 python3-pyftpdlib)
if ((${#need_pkgs[@]})); then
    mapfile -t need_pkgs < <(printf '%s\n' "${need_pkgs[@]}" | sort -u)
    log "installing missing packages: ${need_pkgs[*]}"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need_pkgs[@]}"
fi

# ---------------------------------------------------------------- kernel helper
for m in nf_conntrack_ftp nf_nat_ftp; do
    if modprobe "$m" 2>/dev/null; then
        log "kernel: module $m loaded"
    elif [[ -d /sys/module/$m ]] || { [[ -r /proc/config.gz ]] &&
            zcat /proc/config.gz | grep -x "CONFIG_NF_$(tr '[:lower:]' '[:upper:]' <<<"${m#nf_}")=y" >/dev/null; }; then
        log "kernel: $m is built in (modprobe not needed)"
    else
        die "kernel lacks $m (modprobe failed and it is not built in)"
    fi
done

# ---------------------------------------------------------------- bookkeeping + cleanup
PREFIX="ftpcap-$$"
TMPD=$(mktemp -d /tmp/ftpcap.XXXXXX)
chmod 755 "$TMPD"
STAGE=$TMPD/out
mkdir -p "$STAGE"
PIDS=()      # background processes this script started (removed when stopped)
NSS=()       # namespaces this script created

forget_pid() { local p=$1 i; for i in "${!PIDS[@]}"; do [[ ${PIDS[$i]} == "$p" ]] && unset 'PIDS[i]'; done; return 0; }

stop_pid() {   # stop_pid PID [SIGNAL]: signal, wait up to 5 s, then SIGKILL; reaps it
    local p=$1 sig=${2:-INT} i
    kill -"$sig" "$p" 2>/dev/null || { wait "$p" 2>/dev/null || true; forget_pid "$p"; return 0; }
    for ((i = 0; i < 100; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
    kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null || true
    forget_pid "$p"
}

cleanup() {
    local rc=$? p ns
    set +e
    trap - EXIT INT TERM
    for p in "${PIDS[@]}"; do stop_pid "$p" INT; done
    for ns in "${NSS[@]}"; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
        ip netns del "$ns" 2>/dev/null
    done
    if [[ ${KEEP_TMP:-0} == 1 ]]; then log "work directory kept: $TMPD"; else rm -rf "$TMPD"; fi
    ((rc == 0)) || log "exit status $rc (namespaces and processes cleaned up)"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# namespaces of an earlier run of this script that was killed before its trap ran
for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^ftpcap-[0-9]+-' || true); do
    owner=${ns#ftpcap-}; owner=${owner%%-*}
    if ! kill -0 "$owner" 2>/dev/null; then
        log "removing stale namespace $ns (its run, pid $owner, is gone)"
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
        ip netns del "$ns" 2>/dev/null || true
    fi
done

nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
# Background jobs of a non-interactive shell start with SIGINT ignored; give them back the default
# disposition so that SIGINT stops them cleanly (tcpdump then flushes its file and prints stats).
# Use only as `bgx NS CMD... &`: the exec makes $! the pid of CMD itself.
bgx() { local ns=$1; shift; exec ip netns exec "$ns" env --default-signal=INT "$@"; }

mkns() {
    ip netns add "$1"
    NSS+=("$1")
    ip -n "$1" link set lo up
    # no DAD (addresses usable at once), no router discovery noise
    nsx "$1" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
        net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0 \
        net.ipv6.conf.default.router_solicitations=0
}

# link NS_A:IF_A <-> NS_B:IF_B, created directly inside the namespaces
mklink() { ip -n "$1" link add "$2" type veth peer name "$4" netns "$3";
           ip -n "$1" link set "$2" up; ip -n "$3" link set "$4" up; }
addr()   { ip -n "$1" addr add "$3" dev "$2" nodad 2>/dev/null || ip -n "$1" addr add "$3" dev "$2"; }

# ---------------------------------------------------------------- served files
SRVDIR=$TMPD/srv
mkdir -p "$SRVDIR/pub"
for i in $(seq -w 1 32); do printf '%-63s\n' "ftp-alg capture payload, line $i of 32"; done >"$SRVDIR/$SMALL"
printf 'read me\n' >"$SRVDIR/pub/README"
touch -d '2024-01-01 00:00:00 UTC' "$SRVDIR/$SMALL" "$SRVDIR/pub/README" "$SRVDIR/pub"
[[ $(stat -c %s "$SRVDIR/$SMALL") == 2048 ]] || die "test file is not 2048 bytes"
SMALL_SHA=$(sha256sum "$SRVDIR/$SMALL" | cut -d' ' -f1)

# IPv6 servers run the same pyftpdlib command line with one fix: pyftpdlib 1.5.7 checks the EPRT
# address against the peer with a *string* comparison, and the kernel's nf_nat_ftp writes the
# rewritten IPv6 address in full uncompressed form (|2|2001:0db8:0002:0000:0000:0000:0000:0001|),
# so stock pyftpdlib answers "501 Rejected data connection to foreign address" to every NATed
# IPv6 EPRT. The wrapper (scripts/captures/pyftpdlib_canon_eprt.py) canonicalises the address
# before that check (the bounce check stays on).
start_ftpd() {   # start_ftpd NS ADDR : pyftpdlib on ADDR:21, polls until it listens
    local ns=$1 a=$2 logf="$TMPD/ftpd-$1-${2//:/_}.log" p i launcher=(-m pyftpdlib)
    [[ $a == *:* ]] && launcher=("$SCRIPT_DIR/captures/pyftpdlib_canon_eprt.py")
    bgx "$ns" "$PY" "${launcher[@]}" -i "$a" -p 21 -w -d "$SRVDIR" -u "$FTPUSER" -P "$FTPPASS" \
        >"$logf" 2>&1 &
    p=$!; PIDS+=("$p")
    for ((i = 0; i < 600; i++)); do
        nsx "$ns" ss -Hltn 'sport = :21' | grep -qF -- "$a" && { log "pyftpdlib listening on $a:21 in $ns (pid $p)"; return 0; }
        kill -0 "$p" 2>/dev/null || { cat "$logf" >&2; die "pyftpdlib on $a exited"; }
        sleep 0.05
    done
    cat "$logf" >&2; die "pyftpdlib on $a did not listen within 30 s"
}

gateway_rules() {   # gateway_rules NS : forwarding, kernel ftp helper, stateful FORWARD filter
    local g=$1 ipt
    nsx "$g" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
    for ipt in iptables ip6tables; do
        nsx "$g" "$ipt" -t raw -A PREROUTING -p tcp --dport 21 -j CT --helper ftp
        # Only connections the helper made RELATED may pass besides the control connection, so
        # every data connection in the captures is proof that the kernel helper handled it.
        nsx "$g" "$ipt" -P FORWARD DROP
        nsx "$g" "$ipt" -A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
    done
}

# ---------------------------------------------------------------- topology "snat"
C=$PREFIX-cli; G=$PREFIX-gw; S=$PREFIX-srv
build_snat() {
    mkns "$C"; mkns "$G"; mkns "$S"
    mklink "$G" gw-in "$C" eth0
    mklink "$G" gw-out "$S" eth0
    addr "$C" eth0 192.0.2.2/24;     addr "$C" eth0 2001:db8:1::2/64
    addr "$G" gw-in 192.0.2.1/24;    addr "$G" gw-in 2001:db8:1::1/64
    addr "$G" gw-out 198.51.100.1/24; addr "$G" gw-out 2001:db8:2::1/64
    addr "$S" eth0 198.51.100.2/24;  addr "$S" eth0 2001:db8:2::2/64
    ip -n "$C" route add 198.51.100.0/24 via 192.0.2.1
    ip -n "$C" -6 route add 2001:db8:2::/64 via 2001:db8:1::1
    gateway_rules "$G"
    local ipt
    for ipt in iptables ip6tables; do
        nsx "$G" "$ipt" -t nat -A POSTROUTING -o gw-out -j MASQUERADE
        nsx "$G" "$ipt" -A FORWARD -i gw-in -o gw-out -p tcp --dport 21 -m conntrack --ctstate NEW -j ACCEPT
    done
    start_ftpd "$S" 198.51.100.2
    start_ftpd "$S" 2001:db8:2::2
    dump_rules "$G" snat
}

# ---------------------------------------------------------------- topology "dnat"
DC=$PREFIX-dcli; DG=$PREFIX-dgw; DS=$PREFIX-dsrv
build_dnat() {
    mkns "$DC"; mkns "$DG"; mkns "$DS"
    mklink "$DG" gw-in "$DS" eth0
    mklink "$DG" gw-out "$DC" eth0
    addr "$DS" eth0 192.0.2.10/24;    addr "$DS" eth0 2001:db8:1::10/64
    addr "$DG" gw-in 192.0.2.1/24;    addr "$DG" gw-in 2001:db8:1::1/64
    addr "$DG" gw-out 198.51.100.1/24; addr "$DG" gw-out 2001:db8:2::1/64
    addr "$DC" eth0 198.51.100.2/24;  addr "$DC" eth0 2001:db8:2::2/64
    ip -n "$DS" route add 198.51.100.0/24 via 192.0.2.1
    ip -n "$DS" -6 route add 2001:db8:2::/64 via 2001:db8:1::1
    gateway_rules "$DG"
    nsx "$DG" iptables -t nat -A PREROUTING -i gw-out -p tcp --dport 21 -j DNAT --to-destination 192.0.2.10:21
    nsx "$DG" ip6tables -t nat -A PREROUTING -i gw-out -p tcp --dport 21 -j DNAT --to-destination '[2001:db8:1::10]:21'
    nsx "$DG" iptables -A FORWARD -i gw-out -o gw-in -p tcp -d 192.0.2.10 --dport 21 -m conntrack --ctstate NEW -j ACCEPT
    nsx "$DG" ip6tables -A FORWARD -i gw-out -o gw-in -p tcp -d 2001:db8:1::10 --dport 21 -m conntrack --ctstate NEW -j ACCEPT
    start_ftpd "$DS" 192.0.2.10        # announces its private address in 227 (no -n / masquerade_address)
    start_ftpd "$DS" 2001:db8:1::10
    dump_rules "$DG" dnat
}

dump_rules() {   # keep the gateway's rules for the README
    local g=$1 topo=$2 ipt t
    for ipt in iptables ip6tables; do
        for t in raw nat filter; do nsx "$g" "$ipt" -t "$t" -S | sed "s/^/$ipt -t $t /"; done
    done | grep -vE -- ' -N [A-Z]| -P (PREROUTING|INPUT|OUTPUT|POSTROUTING) ACCEPT' >"$TMPD/rules-$topo.txt"
}

# ---------------------------------------------------------------- capture helpers
start_tcpdump() {   # start_tcpdump NS IF FILE FILTER -> echoes pid; waits until it listens
    local ns=$1 ifc=$2 f=$3 filt=$4 p i
    # -B: with -s 0 each ring block is 512 KiB, so the default 2 MiB ring has only 4 blocks and a
    # tcpdump that is not scheduled for a few ms (busy machine) loses packets; 32 MiB = 64 blocks.
    bgx "$ns" tcpdump -i "$ifc" -s 0 -B 32768 -U --immediate-mode -n -Z root -w "$f" "$filt" 2>"$f.log" &
    p=$!; PIDS+=("$p")
    for ((i = 0; i < 400; i++)); do
        grep -q 'listening on' "$f.log" 2>/dev/null && { TCPDUMP_PID=$p; return 0; }
        kill -0 "$p" 2>/dev/null || { cat "$f.log" >&2; die "tcpdump on $ns/$ifc exited"; }
        sleep 0.05
    done
    die "tcpdump on $ns/$ifc did not start"
}

stop_tcpdump() {   # stop_tcpdump PID FILE : SIGINT, wait; returns 1 if the kernel dropped packets
    local p=$1 f=$2
    stop_pid "$p" INT
    [[ -s $f ]] || die "empty capture $f"
    grep -q '^0 packets dropped by kernel' "$f.log" && return 0
    log "tcpdump lost packets for ${f##*/}: $(grep -E 'captured|received|dropped' "$f.log" | paste -sd, -)"
    return 1
}

wait_quiet() {   # until no TCP socket in the given namespaces is between SYN and close (ignoring LISTEN/TIME-WAIT)
    local i ns busy
    for ((i = 0; i < 200; i++)); do
        busy=0
        for ns in "$@"; do
            [[ -n $(nsx "$ns" ss -Htan state syn-sent state syn-recv state established state fin-wait-1 \
                    state fin-wait-2 state close-wait state last-ack state closing) ]] && busy=1
        done
        ((busy)) || return 0
        sleep 0.05
    done
    log "warning: TCP sockets still open after 10 s in $*"
}

# ---------------------------------------------------------------- analysis (tshark)

RECORDS=$TMPD/records.jsonl
: >"$RECORDS"
CURL_SW=$(curl --version | awk 'NR==1{print $1" "$2}')
FTPD_SW=$(dpkg-query -W -f '${Version}' python3-pyftpdlib 2>/dev/null || echo '?')
FTPD_SW="pyftpdlib ${FTPD_SW%-*}"

# run_session TOPO FAMILY MODE : up to 3 attempts when a capture lost packets (busy machine)
run_session() {
    local attempt rc
    for attempt in 1 2 3; do
        rc=0; run_session_once "$@" || rc=$?
        ((rc == 0)) && return 0
        ((rc == 2)) || die "session $*: failed"
        log "session $*: capture incomplete, repeating (attempt $attempt of 3)"
    done
    die "session $*: captures lost packets three times"
}

# run_session_once TOPO FAMILY MODE : 0 = ok, 2 = a capture lost packets (retry), dies otherwise
run_session_once() {
    local topo=$1 fam=$2 mode=$3 gw cns sns host base nat filt inc inn outc outs
    if [[ $topo == snat ]]; then
        gw=$G; cns=$C; sns=$S; base=$fam-$mode
        if [[ $fam == ipv4 ]]; then
            host=198.51.100.2; nat="--snat 192.0.2.0/24=198.51.100.1"
            inc=192.0.2.2; inn=198.51.100.2; outc=198.51.100.1; outs=198.51.100.2
        else
            host='[2001:db8:2::2]'; nat="--snat 2001:db8:1::/64=2001:db8:2::1"
            inc=2001:db8:1::2; inn=2001:db8:2::2; outc=2001:db8:2::1; outs=2001:db8:2::2
        fi
    else
        gw=$DG; cns=$DC; sns=$DS; base=dnat-$fam-$mode
        if [[ $fam == ipv4 ]]; then
            host=198.51.100.1; nat="--dnat 198.51.100.1:21=192.0.2.10:21"
            inc=198.51.100.2; inn=192.0.2.10; outc=198.51.100.2; outs=198.51.100.1
        else
            host='[2001:db8:2::1]'; nat="--dnat [2001:db8:2::1]:21=[2001:db8:1::10]:21"
            inc=2001:db8:2::2; inn=2001:db8:1::10; outc=2001:db8:2::2; outs=2001:db8:2::1
        fi
    fi
    [[ $fam == ipv4 ]] && filt='ip and tcp' || filt='ip6 and tcp'
    local modeopt=()
    case $mode in
        port) modeopt=(-P - --disable-eprt) ;;
        eprt) modeopt=(-P -) ;;
        pasv) modeopt=(--disable-epsv) ;;
        epsv) modeopt=() ;;
    esac
    local work=$TMPD/$base; mkdir -p "$work"
    local fin=$STAGE/$base-inside.pcap fout=$STAGE/$base-outside.pcap tin tout ctp
    nsx "$gw" conntrack -F >/dev/null 2>&1 || true          # fresh conntrack state per session
    bgx "$gw" conntrack -E expect -o timestamp >"$work/expect-events.txt" 2>&1 &
    ctp=$!; PIDS+=("$ctp")
    start_tcpdump "$gw" gw-in "$fin" "$filt"; tin=$TCPDUMP_PID
    start_tcpdump "$gw" gw-out "$fout" "$filt"; tout=$TCPDUMP_PID

    log "session $base: curl ${modeopt[*]:-(default: EPSV)} ftp://$host/$SMALL + ftp://$host/"
    local t0=$EPOCHREALTIME rc=0
    nsx "$cns" curl -sS -v --stderr "$work/curl.log" -g --connect-timeout 5 --max-time 20 \
        -u "$FTPUSER:$FTPPASS" "${modeopt[@]}" \
        "ftp://$host/$SMALL" -o "$work/$SMALL" "ftp://$host/" -o "$work/list.txt" || rc=$?
    local t1=$EPOCHREALTIME
    wait_quiet "$cns" "$sns"
    local lost=0
    stop_tcpdump "$tin" "$fin" || lost=1
    stop_tcpdump "$tout" "$fout" || lost=1
    stop_pid "$ctp" INT
    if ((rc != 0)); then
        sed 's/^/    curl: /' "$work/curl.log" >&2
        die "session $base: curl failed with exit status $rc"
    fi
    [[ $(sha256sum <"$work/$SMALL" | cut -d' ' -f1) == "$SMALL_SHA" ]] || die "session $base: downloaded file differs from the source"
    if ! grep -q " $SMALL\$" "$work/list.txt" || ! grep -q ' pub$' "$work/list.txt"; then
        cat "$work/list.txt" >&2; die "session $base: listing incomplete"
    fi
    ((lost == 0)) || return 2
    local dur; dur=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}')
    grep -v '^$' "$work/expect-events.txt" | sed "s/^/    expect event: /" >&2 || true
    $PY "$SCRIPT_DIR/captures/analyze.py" --topology "$topo" --family "$fam" --mode "$mode" --base "$base" \
        --nat "$nat" --inside "$fin" --outside "$fout" --in-client "$inc" --in-server "$inn" \
        --out-client "$outc" --out-server "$outs" --records "$RECORDS" --duration "$dur" \
        --client-sw "$CURL_SW" --server-sw "$FTPD_SW" >&2 \
        || die "session $base: capture check failed (see ERROR lines above)"
    rm -f "$fin.log" "$fout.log"
}

# ---------------------------------------------------------------- run
log "topology snat: namespaces $C $G $S"
build_snat
for s in "ipv4 port" "ipv4 eprt" "ipv4 pasv" "ipv4 epsv" "ipv6 eprt" "ipv6 epsv"; do
    # shellcheck disable=SC2086
    run_session snat $s
done

log "topology dnat: namespaces $DC $DG $DS"
build_dnat
for s in "ipv4 pasv" "ipv4 epsv" "ipv4 port" "ipv6 epsv"; do
    # shellcheck disable=SC2086
    run_session dnat $s
done

# ---------------------------------------------------------------- manifest + README
T_END=$EPOCHREALTIME

TOTAL=$(awk -v a="$T_START" -v b="$T_END" 'BEGIN{printf "%.1f", b-a}')
$PY "$SCRIPT_DIR/captures/report.py" "$RECORDS" "$STAGE" "$TMPD/rules-snat.txt" "$TMPD/rules-dnat.txt" \
    "$(uname -r)" "$CURL_SW" "$FTPD_SW" "$(tcpdump --version 2>&1 | head -1)" \
    "$(tshark --version 2>/dev/null | awk 'NR==1{print $1" "$3}')" "$TOTAL"

# move into place: only our own file names are replaced
mkdir -p "$OUTDIR"
rm -f "$OUTDIR"/ipv[46]-*-inside.pcap "$OUTDIR"/ipv[46]-*-outside.pcap \
      "$OUTDIR"/dnat-ipv[46]-*-inside.pcap "$OUTDIR"/dnat-ipv[46]-*-outside.pcap
cp "$STAGE"/*.pcap "$STAGE/captures.json" "$STAGE/README.md" "$OUTDIR"/
chmod 644 "$OUTDIR"/*.pcap "$OUTDIR/captures.json" "$OUTDIR/README.md"
chown --reference="$OUTDIR" "$OUTDIR"/*.pcap "$OUTDIR/captures.json" "$OUTDIR/README.md" 2>/dev/null || true
log "done in $TOTAL s: $(find "$STAGE" -name '*.pcap' | wc -l) captures, captures.json and README.md in $OUTDIR"
