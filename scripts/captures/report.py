"""Writes captures.json and README.md for pcaps/ from the records of scripts/captures/analyze.py.

Called by scripts/make-captures.sh with the records file, the staging directory, the gateway rules
and the software versions to name.
"""
import json
import sys
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
    w(f"| `{r['file']}` | {r['mode']} | {r['side']} | {r['client']} | {r['server']} "
      f"| {r['data_connections']} | {r['packets']} | `{r['nat']}` |")
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
    w(f"- seq shift c2s {sh['c2s']['seq']}, ack shift s2c {sh['s2c']['ack']}; "
      f"seq shift s2c {sh['s2c']['seq']}, ack shift c2s {sh['c2s']['ack']}")
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
