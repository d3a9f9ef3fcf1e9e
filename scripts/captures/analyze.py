"""Check one inside/outside capture pair with tshark and emit two manifest records."""
import argparse
import ipaddress
import json
import re
import subprocess
import sys

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
            errors.append(f"{tag}: data SYN {p['src']}:{p['sport']} -> {p['dst']}:{p['dport']} "
                          f"does not match '{a['line']}' ({want[0]} -> {want[1]}:{a['port']})")
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
    errors.append(f"{A.base}: {ins['packets']} packets inside but {outs['packets']} outside "
                  "(every packet should be forwarded once)")

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

    def rel(v):
        return [((x - v[0] + 2**31) % 2**32) - 2**31 for x in v] if v else []

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
