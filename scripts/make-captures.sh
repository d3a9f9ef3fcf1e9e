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
# IPv6 EPRT. The wrapper canonicalises the address before that check (the bounce check stays on).
cat >"$TMPD/pyftpdlib-canon-eprt.py" <<'PYEOF'
import ipaddress
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.__main__ import main
_make_eport = FTPHandler._make_eport
def make_eport_canonical(self, ip, port):
    try:
        ip = str(ipaddress.ip_address(ip))
    except ValueError:
        pass
    return _make_eport(self, ip, port)
FTPHandler._make_eport = make_eport_canonical
main()
PYEOF

start_ftpd() {   # start_ftpd NS ADDR : pyftpdlib on ADDR:21, polls until it listens
    local ns=$1 a=$2 logf="$TMPD/ftpd-$1-${2//:/_}.log" p i launcher=(-m pyftpdlib)
    [[ $a == *:* ]] && launcher=("$TMPD/pyftpdlib-canon-eprt.py")
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
cat >"$TMPD/analyze.py" <<'PYEOF'
"""Check one inside/outside capture pair with tshark and emit two manifest records."""
import argparse, ipaddress, json, re, subprocess, sys

ap = argparse.ArgumentParser()
for a in ("topology", "family", "mode", "base", "nat", "inside", "outside", "in_client", "in_server",
          "out_client", "out_server", "records", "client_sw", "server_sw"):
    ap.add_argument("--" + a.replace("_", "-"), required=True)
ap.add_argument("--duration", type=float, required=True)
A = ap.parse_args()
errors = []

def norm(a):
    return str(ipaddress.ip_address(a)) if a else ""

def truthy(v):
    return v in ("1", "True", "true")

def tshark(path, fields, dfilter):
    cmd = ["tshark", "-n", "-r", path, "-Y", dfilter, "-T", "fields", "-E", "separator=\t",
           "-E", "occurrence=f"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    rows = []
    for line in out.splitlines():
        parts = line.split("\t")
        parts += [""] * (len(fields) - len(parts))
        rows.append(dict(zip(fields, parts)))
    return rows

F = ["frame.number", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "tcp.stream", "tcp.srcport",
     "tcp.dstport", "tcp.flags.syn", "tcp.flags.ack", "tcp.flags.fin", "tcp.flags.reset",
     "tcp.seq_raw", "tcp.ack_raw", "tcp.len", "tcp.payload"]

FTPF = ["ftp.active.cip", "ftp.passive.ip", "ftp.eprt.ip", "ftp.eprt.ipv6", "ftp.active.port",
        "ftp.passive.port", "ftp.eprt.port", "ftp.epsv.port"]

def load(path, client, server):
    """One tshark pass per file: TCP fields of every frame plus Wireshark's own FTP fields."""
    pk, ws = [], []
    rows = tshark(path, F + FTPF, "frame")
    total = len(rows)
    for r in rows:
        a = r["ftp.active.cip"] or r["ftp.passive.ip"] or r["ftp.eprt.ip"] or r["ftp.eprt.ipv6"]
        p = r["ftp.active.port"] or r["ftp.passive.port"] or r["ftp.eprt.port"] or r["ftp.epsv.port"]
        if p:
            ws.append((norm(a) if a else None, int(p)))
        if not r["tcp.stream"]:
            continue
        pk.append(dict(n=int(r["frame.number"]), src=norm(r["ip.src"] or r["ipv6.src"]),
                       dst=norm(r["ip.dst"] or r["ipv6.dst"]), stream=int(r["tcp.stream"]),
                       sport=int(r["tcp.srcport"]), dport=int(r["tcp.dstport"]),
                       syn=truthy(r["tcp.flags.syn"]), ack=truthy(r["tcp.flags.ack"]),
                       fin=truthy(r["tcp.flags.fin"]), rst=truthy(r["tcp.flags.reset"]),
                       seq=int(r["tcp.seq_raw"]), ackn=int(r["tcp.ack_raw"]), len=int(r["tcp.len"]),
                       payload=bytes.fromhex(r["tcp.payload"].replace(":", ""))))
    side = dict(path=path, client=client, server=server, packets=total, tcp=len(pk), ws=ws)
    ctrl = [p for p in pk if 21 in (p["sport"], p["dport"])]
    side["ctrl_syn"] = [p for p in ctrl if p["syn"] and not p["ack"]]
    side["data_syn"] = []
    seen_streams = set()
    for p in pk:
        if p["syn"] and not p["ack"] and p["dport"] != 21 and p["stream"] not in seen_streams:
            seen_streams.add(p["stream"])
            side["data_syn"].append(p)
    side["rst"] = [p for p in pk if p["rst"]]
    for d, sel in (("c2s", lambda p: p["dport"] == 21), ("s2c", lambda p: p["sport"] == 21)):
        segs, seen = [], set()
        for p in ctrl:
            if sel(p) and p["len"] > 0 and (p["seq"], p["len"]) not in seen:
                seen.add((p["seq"], p["len"]))
                segs.append(p)
        side[d + "_segs"] = segs
        text = b"".join(p["payload"] for p in segs).decode("latin-1")
        side[d] = [l for l in text.split("\r\n")]
        if side[d] and side[d][-1] == "":
            side[d].pop()
        side[d + "_fin"] = any(sel(p) and p["fin"] for p in ctrl)
    return side

def announcements(side):
    out = []
    for line in side["c2s"]:
        m = re.match(r"PORT (\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\s*$", line, re.I)
        if m:
            v = [int(x) for x in m.groups()]
            out.append(dict(kind="PORT", line=line, addr=norm(".".join(map(str, v[:4]))), port=v[4] * 256 + v[5]))
        m = re.match(r"EPRT (.)(\d)\1([^|]+)\1(\d+)\1\s*$", line, re.I)
        if m:
            out.append(dict(kind="EPRT", line=line, addr=norm(m.group(3)), port=int(m.group(4))))
    for line in side["s2c"]:
        m = re.match(r"227 .*?(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)", line)
        if m:
            v = [int(x) for x in m.groups()]
            out.append(dict(kind="227", line=line, addr=norm(".".join(map(str, v[:4]))), port=v[4] * 256 + v[5]))
        m = re.match(r"229 .*\((.)\1\1(\d+)\1\)", line)
        if m:
            out.append(dict(kind="229", line=line, addr=None, port=int(m.group(2))))
    return out

ins = load(A.inside, norm(A.in_client), norm(A.in_server))
outs = load(A.outside, norm(A.out_client), norm(A.out_server))
kind = {"port": "PORT", "eprt": "EPRT", "pasv": "227", "epsv": "229"}[A.mode]
active = A.mode in ("port", "eprt")

for name, s in (("inside", ins), ("outside", outs)):
    tag = f"{A.base}-{name}"
    if len(s["ctrl_syn"]) != 1:
        errors.append(f"{tag}: {len(s['ctrl_syn'])} control SYNs (want 1)")
    else:
        p = s["ctrl_syn"][0]
        if (p["src"], p["dst"]) != (s["client"], s["server"]):
            errors.append(f"{tag}: control connection {p['src']} -> {p['dst']}, want {s['client']} -> {s['server']}")
    ann = announcements(s)
    s["ann"] = ann
    if [a["kind"] for a in ann] != [kind, kind]:
        errors.append(f"{tag}: announcements {[a['line'] for a in ann]}, want two {kind}")
    for a in ann:
        want = s["client"] if active else (s["server"] if kind == "227" else None)
        if a["addr"] != want:
            errors.append(f"{tag}: '{a['line']}' carries {a['addr']}, want {want}")
    ws = s["ws"]   # cross-check with Wireshark's own FTP dissector
    if ws != [(a["addr"], a["port"]) for a in ann]:
        errors.append(f"{tag}: tshark ftp dissector sees {ws}, own parse {[(a['addr'], a['port']) for a in ann]}")
    if len(s["data_syn"]) != 2:
        errors.append(f"{tag}: {len(s['data_syn'])} data connections (want 2)")
    for a, p in zip(ann, s["data_syn"]):
        want = (s["server"], s["client"]) if active else (s["client"], s["server"])
        if (p["src"], p["dst"]) != want or p["dport"] != a["port"]:
            errors.append(f"{tag}: data SYN {p['src']}:{p['sport']} -> {p['dst']}:{p['dport']} does not match '{a['line']}' ({want[0]} -> {want[1]}:{a['port']})")
    codes = [l[:3] for l in s["s2c"]]
    if codes.count("226") != 2 or "230" not in codes or "221" not in codes:
        errors.append(f"{tag}: replies {codes} lack 230 / two 226 / 221")
    if not any(l.upper().startswith("QUIT") for l in s["c2s"]):
        errors.append(f"{tag}: no QUIT")
    if not (s["c2s_fin"] and s["s2c_fin"]):
        errors.append(f"{tag}: control connection not closed by both sides in the capture")
    if s["rst"]:
        errors.append(f"{tag}: {len(s['rst'])} RST segments")

if ins["packets"] != outs["packets"]:
    errors.append(f"{A.base}: {ins['packets']} packets inside but {outs['packets']} outside (every packet should be forwarded once)")

# inside vs outside: same control text except the announcement lines
rewrites = []
for d in ("c2s", "s2c"):
    a, b = ins[d], outs[d]
    if len(a) != len(b):
        errors.append(f"{A.base}: {d} control lines differ in number ({len(a)} inside, {len(b)} outside)")
        continue
    for x, y in zip(a, b):
        if x != y:
            if not re.match(r"(PORT|EPRT) |22[79] ", x, re.I):
                errors.append(f"{A.base}: unexpected difference '{x}' vs '{y}'")
            rewrites.append({"inside": x, "outside": y})
# where the NAT must change the text: snat PORT/EPRT (client address), dnat 227 (server address)
must_change = (A.topology == "snat" and active) or (A.topology == "dnat" and A.mode == "pasv")
if must_change and len(rewrites) != 2:
    errors.append(f"{A.base}: want 2 rewritten lines, got {rewrites}")
if not must_change and rewrites:
    print(f"  note: {A.base}: lines changed although the address did not need translation: {rewrites}")

# sequence/ack shifts on the control connection (outside minus inside)
shift = {}
for d in ("c2s", "s2c"):
    si, so = ins[d + "_segs"], outs[d + "_segs"]
    seqd = [(o["seq"] - i["seq"]) % 2**32 for i, o in zip(si, so)]
    ackd = [(o["ackn"] - i["ackn"]) % 2**32 for i, o in zip(si, so)]
    rel = lambda v: [((x - v[0] + 2**31) % 2**32) - 2**31 for x in v] if v else []
    def runs(v):
        r = []
        for x in v:
            if not r or r[-1] != x:
                r.append(x)
        return r
    shift[d] = {"seq": runs(rel(seqd)), "ack": runs(rel(ackd))}

ports = []
for a, b in zip(ins["ann"], outs["ann"]):
    ports.append({"kind": a["kind"], "inside_port": a["port"], "outside_port": b["port"]})
dataconn = [{"inside": f"{p['src']}:{p['sport']} -> {p['dst']}:{p['dport']}",
             "outside": f"{q['src']}:{q['sport']} -> {q['dst']}:{q['dport']}"}
            for p, q in zip(ins["data_syn"], outs["data_syn"])]

print(f"  {A.base}: inside {ins['packets']} pkts / {len(ins['data_syn'])} data conns, "
      f"outside {outs['packets']} pkts / {len(outs['data_syn'])} data conns, curl {A.duration:.2f} s")
for r in rewrites:
    print(f"    rewritten: {r['inside']!r} -> {r['outside']!r}")
for p in ports:
    if p["inside_port"] != p["outside_port"]:
        print(f"    helper changed port in {p['kind']}: {p['inside_port']} -> {p['outside_port']}")
for dc in dataconn:
    print(f"    data: {dc['inside']}  |  {dc['outside']}")
print(f"    control seq/ack shift (outside-inside, relative): {json.dumps(shift)}")

if errors:
    for e in errors:
        print("  ERROR: " + e, file=sys.stderr)
    sys.exit(1)

with open(A.records, "a") as fh:
    for side, s, other in (("inside", ins, "outside"), ("outside", outs, "inside")):
        fh.write(json.dumps({
            "file": f"{A.base}-{side}.pcap", "topology": A.topology, "family": A.family,
            "mode": A.mode, "side": side, "pair": f"{A.base}-{other}.pcap", "nat": A.nat,
            "data_connections": len(s["data_syn"]), "client": s["client"], "server": s["server"],
            "client_software": A.client_sw, "server_software": A.server_sw,
            "packets": s["packets"],
            "announced": [{"line": a["line"], "addr": a["addr"], "port": a["port"]} for a in s["ann"]],
            "rewrites": rewrites, "data": [d[side] for d in dataconn],
            "control_shift": shift, "curl_seconds": round(A.duration, 2)}) + "\n")
PYEOF

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
    $PY "$TMPD/analyze.py" --topology "$topo" --family "$fam" --mode "$mode" --base "$base" \
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
cat >"$TMPD/report.py" <<'PYEOF'
import json, sys
records_path, stage, rules_snat, rules_dnat, kernel, curl_sw, ftpd_sw, tcpdump_v, tshark_v, secs = sys.argv[1:11]
recs = [json.loads(l) for l in open(records_path)]
manifest = []
for r in recs:
    manifest.append({k: r[k] for k in ("file", "family", "mode", "side", "pair", "nat", "data_connections",
                                       "client", "server", "topology", "packets", "client_software",
                                       "server_software", "announced", "rewrites")})
with open(f"{stage}/captures.json", "w") as fh:
    json.dump(manifest, fh, indent=2)
    fh.write("\n")

def cell(s):
    return s.replace("|", "\\|")

L = []
w = L.append
w("# FTP captures recorded by the project (`scripts/make-captures.sh`)")
w("")
w("Real FTP sessions recorded on both sides of a Linux NAT gateway whose FTP translation is done by")
w("the kernel's own helper (`nf_conntrack_ftp` + `nf_nat_ftp`). They are reference traffic for the")
w("ALG: each `-inside` / `-outside` pair shows the same session before and after the kernel's")
w("translation. Generated files - do not edit by hand; regenerate with")
w("")
w("    sudo scripts/make-captures.sh        # about %.0f s; needs root, see the script header" % float(secs))
w("")
w("Everything runs in throw-away network namespaces joined by veth links; only documentation")
w("addresses are used (192.0.2.0/24, 198.51.100.0/24, 2001:db8::/32) and nothing leaves the")
w("namespaces. Captures are taken in the gateway namespace with")
w("`tcpdump -i <veth> -s 0 -B 32768 -U --immediate-mode -w FILE 'ip and tcp'` (`'ip6 and tcp'` for IPv6),")
w("one capture per side per session, started before and stopped (SIGINT) after the session, so")
w("each file holds exactly one FTP session: control connection (login, RETR, LIST, QUIT) plus two")
w("data connections. Classic pcap, Ethernet link type, full snap length.")
w("")
w(f"Recorded with: kernel {kernel}; client {curl_sw}; server {ftpd_sw}; {tcpdump_v}; {tshark_v}.")
w("")
w("## Topologies")
w("")
w("**snat** (files `ipv4-*`, `ipv6-*`): client inside, server outside, gateway masquerades.")
w("")
w("    client ns 192.0.2.2, 2001:db8:1::2 --(gw-in 192.0.2.1, 2001:db8:1::1 | gateway ns |")
w("    gw-out 198.51.100.1, 2001:db8:2::1)-- server ns 198.51.100.2, 2001:db8:2::2")
w("")
w("**dnat** (files `dnat-*`): server inside, published at the gateway's outside address.")
w("")
w("    server ns 192.0.2.10, 2001:db8:1::10 --(gw-in 192.0.2.1, 2001:db8:1::1 | gateway ns |")
w("    gw-out 198.51.100.1, 2001:db8:2::1)-- client ns 198.51.100.2, 2001:db8:2::2")
w("")
w("`inside` = captured on the gateway's `gw-in` veth (private side), `outside` = on `gw-out`.")
w("The FORWARD chain drops everything except new control connections and `ESTABLISHED,RELATED`,")
w("so every data connection in these files got through only because the kernel helper expected it.")
w("pyftpdlib serves a directory holding `small.txt` (2048 bytes) and `pub/`; login `ftpuser` /")
w("`ftppass`, write-enabled. In the dnat topology pyftpdlib announces its private address in 227")
w("(no masquerade_address); the kernel rewrites it. IPv4 servers are stock `python3 -m pyftpdlib`.")
w("IPv6 servers run the same command line through a small wrapper that canonicalises the EPRT")
w("address before pyftpdlib's anti-bounce check: pyftpdlib compares it with the peer address as a")
w("string, and the kernel writes the translated IPv6 address uncompressed")
w("(`|2|2001:0db8:0002:0000:0000:0000:0000:0001|`), so stock pyftpdlib refuses every NATed IPv6")
w("EPRT (`501 Rejected data connection to foreign address`). The traffic itself is unaffected.")
w("")
w("A capture that lost packets (tcpdump's kernel drop counter) makes the session run again; each")
w("pair was also checked to hold the same number of packets on both sides.")
w("")
for name, path in (("snat", rules_snat), ("dnat", rules_dnat)):
    w(f"Gateway rules, {name} topology (besides `net.ipv4.ip_forward=1`, `net.ipv6.conf.all.forwarding=1`):")
    w("")
    for line in open(path):
        w("    " + line.rstrip())
    w("")
w("Client commands (curl, two URLs in one invocation so both transfers share one control connection):")
w("")
w("| mode | curl options | data connection |")
w("|---|---|---|")
w("| port | `-P - --disable-eprt` | active, `PORT h1,h2,h3,h4,p1,p2` |")
w("| eprt | `-P -` | active, `EPRT \\|af\\|addr\\|port\\|` |")
w("| pasv | `--disable-epsv` | passive, `227 ... (h1,h2,h3,h4,p1,p2)` |")
w("| epsv | (default) | passive, `229 ... (\\|\\|\\|port\\|)` |")
w("")
w("    curl -u ftpuser:ftppass [mode options] ftp://SERVER/small.txt -o small.txt ftp://SERVER/ -o list.txt")
w("")
w("The download is compared (sha256) with the served file and the listing checked; a failure aborts.")
w("")
w("## Files")
w("")
w("`client` / `server` are the addresses of the two ends as they appear in that file.")
w("`data conns` = TCP connections opened with a SYN to a port other than 21 (counted with tshark).")
w("")
w("| file | mode | side | client | server | data conns | packets | nat (ALG option) |")
w("|---|---|---|---|---|---|---|---|")
for r in recs:
    w(f"| `{r['file']}` | {r['mode']} | {r['side']} | {r['client']} | {r['server']} | {r['data_connections']} | {r['packets']} | `{r['nat']}` |")
w("")
w("## What the kernel changed (inside -> outside)")
w("")
w("Control-connection lines that differ between the two files of a pair (tshark-checked: nothing")
w("else differs), the data connections (first SYN) on each side, and the shift of the control")
w("connection's sequence/ack numbers (outside minus inside, relative to the first segment, listed")
w("as the successive values; `[0]` = never shifted). c2s = client to server.")
w("")
for r in recs:
    if r["side"] != "inside":
        continue
    o = next(x for x in recs if x["file"] == r["pair"])
    base = r["file"][:-len("-inside.pcap")]
    w(f"### {base}  (curl took {r['curl_seconds']:.2f} s)")
    w("")
    if r["rewrites"]:
        for x in r["rewrites"]:
            w(f"- `{x['inside']}` -> `{x['outside']}`")
    else:
        w("- control text identical on both sides")
    for a, b in zip(r["data"], o["data"]):
        w(f"- data connection: inside `{a}`, outside `{b}`")
    kept = all(a["port"] == b["port"] for a, b in zip(r["announced"], o["announced"]))
    w("- announced ports: " + ("kept by the kernel" if kept else "changed by the kernel: " + ", ".join(
        f"{a['port']} -> {b['port']}" for a, b in zip(r["announced"], o["announced"]))))
    sh = r["control_shift"]
    w(f"- seq shift c2s {sh['c2s']['seq']}, ack shift s2c {sh['s2c']['ack']}; seq shift s2c {sh['s2c']['seq']}, ack shift c2s {sh['c2s']['ack']}")
    w("")
w("## Manifest (`captures.json`)")
w("")
w("A JSON list, one object per file: `file`, `family` (ipv4|ipv6), `mode` (port|eprt|pasv|epsv),")
w("`side` (inside|outside), `pair` (the other side's file), `nat` (the ALG's NAT option describing")
w("the gateway's translation), `data_connections`, `client`, `server` (addresses as seen in this")
w("file), and extra fields `topology` (snat|dnat), `packets`, `client_software`, `server_software`,")
w("`announced` (the PORT/EPRT/227/229 lines of this file with the address and port they carry) and")
w("`rewrites` (the pair's differing control lines, `{inside, outside}`).")
with open(f"{stage}/README.md", "w") as fh:
    fh.write("\n".join(L) + "\n")
PYEOF

TOTAL=$(awk -v a="$T_START" -v b="$T_END" 'BEGIN{printf "%.1f", b-a}')
$PY "$TMPD/report.py" "$RECORDS" "$STAGE" "$TMPD/rules-snat.txt" "$TMPD/rules-dnat.txt" \
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
