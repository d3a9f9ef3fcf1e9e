#!/bin/sh
# Regenerates tests/unit/rulesets/: what `nft -j list ruleset` and `iptables-save` /
# `ip6tables-save` print after the project's own rules/ files (and a few deliberately wrong
# variants of them) were loaded, for the unit tests of the ruleset reader (src/settings/ruleset).
#
# Each file is loaded in a throwaway network namespace. The kernel refuses a rule or ct helper
# object naming a helper it does not know, and a machine without nfnetlink_cthelper cannot register
# "ftp-alg", so the files are loaded with the helper name replaced by the kernel's own "ftp"; the
# tests read these outputs as a daemon whose helper is named "ftp". The outputs are otherwise
# exactly what the tools printed (the date lines of iptables-save removed).
# Needs root, nft, iptables-restore/ip6tables-restore (nf_tables or legacy).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
out="$here/tests/unit/rulesets"
mkdir -p "$out"
ns="ftpalg-fixtures-$$"
cleanup() { ip netns del "$ns" 2>/dev/null || true; }
trap cleanup EXIT INT TERM

fresh_namespace() {
  cleanup
  ip netns add "$ns"
  ip netns exec "$ns" ip link add lan0 type veth peer name wan0
}

to_kernel_helper() { sed -e 's/"ftp-alg"/"ftp"/' -e 's/--helper ftp-alg/--helper ftp/' "$1"; }

# nft FILE-TEXT-ON-STDIN NAME
nft_fixture() {
  fresh_namespace
  ip netns exec "$ns" nft -f - </dev/stdin
  ip netns exec "$ns" nft -j list ruleset >"$out/$1.nft.json"
}

# iptables TOOL NAME (rules on stdin)
iptables_fixture() {
  fresh_namespace
  ip netns exec "$ns" "$1-restore" </dev/stdin
  ip netns exec "$ns" "$1-save" | grep -v '^# \(Generated\|Completed\)' >"$out/$2.$1-save"
}

for topology in nat-gateway published-server firewall; do
  to_kernel_helper "$here/rules/$topology.nft" | nft_fixture "$topology"
  to_kernel_helper "$here/rules/$topology.iptables" | iptables_fixture iptables "$topology"
  to_kernel_helper "$here/rules/$topology.ip6tables" | iptables_fixture ip6tables "$topology"
done
# Wrong: the helper object is there, no rule sets it.
to_kernel_helper "$here/rules/nat-gateway.nft" | grep -v 'ct helper set' |
  nft_fixture forgets-helper
# Wrong for IPv6: the same rules in an "ip" table (IPv4 only).
to_kernel_helper "$here/rules/nat-gateway.nft" |
  sed -e 's/table inet ftp_alg/table ip ftp_alg/' -e 's/l3proto inet/l3proto ip/' |
  nft_fixture ipv4-only
# Wrong for IPv6 too: an inet table whose helper object is for IPv4 only (l3proto ip).
to_kernel_helper "$here/rules/nat-gateway.nft" | sed -e 's/l3proto inet/l3proto ip/' |
  nft_fixture ipv4-helper-only
# For a published server, the helper set in a chain that runs after conntrack but before DNAT
# (priority dstnat - 10), and in one that runs before conntrack (priority raw, -300).
to_kernel_helper "$here/rules/published-server.nft" |
  sed -e '/chain helpers/,/}/s/priority filter/priority dstnat - 10/' |
  nft_fixture before-dnat
to_kernel_helper "$here/rules/published-server.nft" |
  sed -e '/chain helpers/,/}/s/priority filter/priority raw/' |
  nft_fixture before-conntrack
# The workers' form (rules/workers/, ftp-algd --workers 2): a numgen map to one ct helper object
# per worker. Loaded with both objects of type "ftp"; the output's object types are then set back
# to the workers' helper names ("ftp-0", "ftp-1": the daemon's name "ftp" plus the worker index),
# which is the only edit of this fixture.
sed -e 's/"ftp-alg-[0-9]*"/"ftp"/' "$here/rules/workers/nat-gateway.nft" | nft_fixture workers
python3 - "$out/workers.nft.json" <<'PY'
import json, sys
path = sys.argv[1]
doc = json.load(open(path))
for item in doc["nftables"]:
    obj = item.get("ct helper")
    if obj and obj["name"].startswith("ftp_worker_"):
        obj["type"] = "ftp-" + obj["name"][len("ftp_worker_"):]
json.dump(doc, open(path, "w"))
PY
echo "fixtures written to $out"
