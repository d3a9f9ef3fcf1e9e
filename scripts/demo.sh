#!/usr/bin/env bash
# The main job where no gateway is at hand: build ftp-alg and replay captures the project made of
# real FTP sessions through a NAT gateway (pcaps/, see pcaps/README.md), printing in plain words
# what was rewritten and which data connections were predicted.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh >&2
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"${JOBS:-2}" --target ftp-alg-replay >/dev/null

show() {
  local title=$1 capture=$2
  shift 2
  printf '\n### %s\n$ ftp-alg-replay pcaps/%s %s\n' "$title" "$capture" "$*"
  build/ftp-alg-replay "pcaps/$capture" "$@"
}

show "Active FTP (PORT) from an inside client through a masquerading gateway" \
  ipv4-port-inside.pcap --snat 192.0.2.0/24=198.51.100.1
show "Active FTP over IPv6 (EPRT) through a masquerading gateway" \
  ipv6-eprt-inside.pcap --snat 2001:db8:1::/64=2001:db8:2::1
show "Passive FTP (PASV) to an inside server published with DNAT" \
  dnat-ipv4-pasv-inside.pcap --dnat 198.51.100.1:21=192.0.2.10:21
