#!/usr/bin/env bash
# The main job, live: build ftp-alg, boot Debian 12's stock kernel under QEMU (the test bed of
# tests/vm/), start ftp-algd on the guest's NAT gateway with the project's operator rules
# (rules/nat-gateway.iptables, rules/published-server.iptables), run one active (PORT) and one
# passive (PASV, DNAT-published server) FTP session through it, and print in plain words what
# ftp-algd rewrote and which data connections it announced to the kernel, the transfer results
# and the daemon's metrics.
#
# When no VM can be had (no qemu, no virtio-9p, the kernel package cannot be downloaded, not
# x86_64) or FTPALG_DEMO_VM=0, it falls back to the offline part: the engine replays captures
# the project made of real FTP sessions through a NAT gateway (pcaps/, see pcaps/README.md).
# Environment: FTPALG_DEMO_VM=0 (offline only), FTPALG_VM_CACHE (kernel + initramfs cache, default
# build/vm-cache), JOBS (build parallelism, default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh >&2
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"${JOBS:-2}" --target ftp-alg-replay ftp-algd >/dev/null

show() {
  local title=$1 capture=$2
  shift 2
  printf '\n### %s\n$ ftp-alg-replay pcaps/%s %s\n' "$title" "$capture" "$*"
  build/ftp-alg-replay "pcaps/$capture" "$@"
}

offline() {
  show "Active FTP (PORT) from an inside client through a masquerading gateway" \
    ipv4-port-inside.pcap --snat 192.0.2.0/24=198.51.100.1
  show "Active FTP over IPv6 (EPRT) through a masquerading gateway" \
    ipv6-eprt-inside.pcap --snat 2001:db8:1::/64=2001:db8:2::1
  show "Passive FTP (PASV) to an inside server published with DNAT" \
    dnat-ipv4-pasv-inside.pcap --dnat 198.51.100.1:21=192.0.2.10:21
}

# --- The live part --------------------------------------------------------------------------
live() {  # returns run-vm.sh's code: 0 pass, 4 no VM here, else failure
  local out=build/demo-vm.txt t0 rc=0
  echo "demo: booting Debian 12's stock kernel under QEMU (about 1 minute; console in $out)" >&2
  t0=$SECONDS
  tests/vm/run-vm.sh --build-dir build --cache-dir "$CACHE" --daemon "$PWD/build/ftp-algd" --fw rules-iptables --timeout 300 \
    --daemon-args "--queue 0 --helper-name ftp-alg --log-format text" \
    ftp-algd masq-ipv4-PORT-curl dnat-ipv4-PASV-curl >"$out" 2>&1 || rc=$?
  RUN=$(sed -n 's/^run-vm.sh: .* run dir \(.*\)$/\1/p' "$out" | tail -n1)
  if [ "$rc" = 4 ]; then
    SKIP_REASON=$( { sed -n 's/^run-vm.sh: SKIP: //p; /^fetch-kernel: cached/d; s/^fetch-kernel: //p' "$out"
                     sed -n 's/^VM-RESULT [^ ]* SKIP //p' "$out"; } | head -n1)
    return 4
  fi
  if [ -z "$RUN" ] || [ ! -d "$RUN" ]; then tail -n 20 "$out"; return 1; fi
  report "$RUN" "$((SECONDS - t0))"
  return "$rc"
}

daemon_lines() {  # RUN PATTERN: the daemon's decisions for one control connection
  grep -E "$2" "$1/ftp-algd.log" | grep -E 'rewrote|expect data' | sed 's/^[0-9.]* */    /' || true
}

case_summary() {  # RUN CASE
  local run=$1 case=$2 line
  line=$(grep -h "^VM-RESULT [^ ]*:$case " "$run/results.txt" || echo "VM-RESULT ?:$case FAIL (no result)")
  echo "  Result: ${line#VM-RESULT *:"$case" }"
  # The downloads against the server's files.
  awk '/^### sha256 of the downloads/ {
         n = split($0, f, " "); small = f[n-3]; big = f[n-1]; getline a; getline b;
         split(a, x, " "); split(b, y, " ");
         printf "  small.txt (1 KB): %s\n", (x[1] == small ? "sha256 ok" : "sha256 DIFFERS");
         printf "  big.bin (3 MB):   %s\n", (y[1] == big ? "sha256 ok" : "sha256 DIFFERS") }' \
    "$run/cases/$case.log" 2>/dev/null
  line=$(grep -m1 'helper=ftp-alg' "$run/cases/$case.log" 2>/dev/null | sed 's/  */ /g' || true)
  [ -z "$line" ] || echo "  conntrack -L (control connection): $line"
}

report() {  # RUN SECONDS
  local run=$1 secs=$2
  cat <<END

=== Live demo: ftp-algd on a NAT gateway (Debian 12 stock kernel $(sed -n "s/^KVER=//p" "$CACHE/kernel.env" 2>/dev/null), QEMU) ===
Gateway rules: the project's rules/nat-gateway.iptables and rules/published-server.iptables
(+ .ip6tables), lan0/wan0 renamed to the test bed's br0/out0 (copies in $run/rules/).

  inside  192.0.2.0/24:  client 192.0.2.2, FTP server 192.0.2.10
  gateway 192.0.2.1 | 198.51.100.1 (public; masquerades, publishes 192.0.2.10:21 on :21)
  outside 198.51.100.0/24: FTP server and client 198.51.100.2

### 1. Active FTP (PORT): inside client 192.0.2.2 -> outside server 198.51.100.2
The client announces its private address in PORT. ftp-algd rewrote each PORT to the gateway's
public address and told the kernel to expect the server's data connection to that address and
port, translated back to the client:
END
  daemon_lines "$run" '192\.0\.2\.2:[0-9]+ -> 198\.51\.100\.2:21'
  case_summary "$run" masq-ipv4-PORT-curl
  cat <<END

### 2. Passive FTP (PASV): outside client 198.51.100.2 -> 198.51.100.1:21, DNAT to server 192.0.2.10
The inside server answers PASV with its private address (227 ... 192,0,2,10,...). ftp-algd
rewrote each 227 to the public address and expected the client's data connection to it, with
DNAT to the server:
END
  daemon_lines "$run" '198\.51\.100\.2:[0-9]+ -> 198\.51\.100\.1:21'
  case_summary "$run" dnat-ipv4-PASV-curl
  echo
  echo "### ftp-algd's metrics (curl 127.0.0.1:9477/metrics in the guest, excerpt)"
  if [ -s "$run/ftp-algd-metrics.txt" ]; then
    grep -E '^ftpalg_(rewrites|expectations|sessions|queue_packets|packets|refus)[a-z_]*(\{[^}]*\})? ' \
      "$run/ftp-algd-metrics.txt" | grep -v ' 0$' | head -n 10 | sed 's/^/  /'
  else
    echo "  (not collected)"
  fi
  echo
  echo "VM run: ${secs}s; logs: $run (console.log, ftp-algd.log, cases/*.log)"
}

RUN='' SKIP_REASON=''
CACHE=${FTPALG_VM_CACHE:-build/vm-cache}
if [ "${FTPALG_DEMO_VM:-1}" = 0 ]; then
  echo "demo: FTPALG_DEMO_VM=0: no VM; offline replay of recorded captures instead."
  offline
  exit 0
fi
rc=0
live || rc=$?
case "$rc" in
  0) exit 0 ;;
  4)
    echo "demo: NO LIVE DEMO: no VM can be had here (${SKIP_REASON:-see build/demo-vm.txt})."
    echo "demo: showing the OFFLINE fallback instead: ftp-alg's engine replaying captures of real"
    echo "demo: FTP sessions through a NAT gateway (nothing runs on a live gateway here)."
    offline
    exit 0 ;;
  *)
    echo "demo: the live demo FAILED (see build/demo-vm.txt${RUN:+ and $RUN}); the offline replay follows."
    offline
    exit 1 ;;
esac
