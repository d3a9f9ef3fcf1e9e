#!/usr/bin/env bash
# Checks every rule set in rules/ with the kernel's own parsers: `nft -c -f` and
# `iptables-restore --test` / `ip6tables-restore --test`, inside a throw-away network namespace.
# This kernel cannot register the "ftp-alg" userspace helper (no nfnetlink_cthelper), so the check
# names the kernel's own "ftp" helper in its place; everything else is checked as written. The
# stock-kernel test bed (tests/vm) loads the files unchanged with ftp-algd registered.
# Exit 4 (CTest: skipped) when not root or the tools are missing.
set -euo pipefail
RULES=${1:?usage: check_rules.sh RULES_DIR}
if [ "$(id -u)" -ne 0 ]; then echo "SKIP: needs root (network namespaces, nft)"; exit 4; fi
for tool in nft iptables-restore ip6tables-restore ip; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 4; }
done
NS=ftpalg-rules-$$
cleanup() { ip netns del "$NS" 2>/dev/null || true; }
trap cleanup EXIT
ip netns add "$NS"
failures=0
checked=0
for file in "$RULES"/*.nft; do
  if sed 's/type "ftp-alg"/type "ftp"/' "$file" | ip netns exec "$NS" nft -c -f - ; then
    echo "ok   $(basename "$file")"
  else
    echo "FAIL $(basename "$file")"; failures=$((failures + 1))
  fi
  checked=$((checked + 1))
done
for file in "$RULES"/*.iptables "$RULES"/*.ip6tables; do
  restore=iptables-restore
  [[ $file == *.ip6tables ]] && restore=ip6tables-restore
  if sed 's/--helper ftp-alg/--helper ftp/' "$file" | ip netns exec "$NS" "$restore" --test; then
    echo "ok   $(basename "$file")"
  else
    echo "FAIL $(basename "$file")"; failures=$((failures + 1))
  fi
  checked=$((checked + 1))
done
# Every topology comes in all three forms, and every rule set attaches the helper and admits
# related connections.
for topology in nat-gateway published-server firewall; do
  for ext in nft iptables ip6tables; do
    [ -f "$RULES/$topology.$ext" ] || { echo "FAIL missing $topology.$ext"; failures=$((failures + 1)); }
  done
  grep -q 'ct helper set' "$RULES/$topology.nft" || { echo "FAIL $topology.nft: no helper"; failures=$((failures + 1)); }
  grep -q 'ct state related accept' "$RULES/$topology.nft" || { echo "FAIL $topology.nft: no related"; failures=$((failures + 1)); }
  grep -q -- '--helper ftp-alg' "$RULES/$topology.iptables" || { echo "FAIL $topology.iptables: no helper"; failures=$((failures + 1)); }
done
echo "$checked rule files checked, $failures failures"
[ "$failures" -eq 0 ]
