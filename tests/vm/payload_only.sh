# payload_only.sh: issue 12's payload-only queueing experiment (docs/workers.md), sourced by
# scenarios.sh after the ALG is set up (run-vm.sh --fw nft --env FTPALG_SETUP_HOOK=<this file>
# ftp-algd, with --payload-only in the daemon's arguments). The helper stays attached to the
# control connections but the daemon keeps it disabled (nfct cannot: it only handles the helpers
# conntrack-tools ships), so the
# kernel's helper hook lets every packet pass (nfnl_userspace_cthelper: NF_ACCEPT for a
# userspace helper without NF_CT_HELPER_F_CONFIGURED); an nft chain after source NAT (the
# helper's own view) queues to the daemon only the segments of helped connections that carry
# payload. Segments without payload are told apart by their lengths: IPv4 (20-byte header)
# total length = 20 + 4 * data offset, IPv6 payload length = 4 * data offset; anything else
# (IPv4 options, IPv6 extension headers) is queued. The control connections are selected by
# their original destination port: nft's `ct helper "NAME"` match (like iptables' -m helper) reads
# the helper of the connection's master (nft_ct_get_eval: ct->master), i.e. it matches the data
# connections a helper expected, never the helped control connection itself (tried: 0 packets).
# The scenarios then show whether
# expectations and the sequence adjustment after length-changing rewrites keep working; the
# counters (gateway-state.txt) and the daemon's queue_packets (ftp-algd-metrics.txt) show how
# many packets stayed in the kernel.
payload_only_setup() {
  local queue doff empty=''
  queue=$(sed -n 's/.*--queue \([0-9]*\).*/\1/p' <<<"$DAEMON_ARGS")
  [[ " $DAEMON_ARGS " == *" --payload-only "* ]] || log "payload-only: the daemon lacks --payload-only"
  for doff in $(seq 5 15); do
    empty+="meta nfproto ipv4 ip hdrlength 5 @th,96,4 $doff ip length $((20 + 4 * doff)) counter name \"empty\" accept"$'\n'
    empty+="meta nfproto ipv6 ip6 nexthdr tcp @th,96,4 $doff ip6 length $((4 * doff)) counter name \"empty\" accept"$'\n'
  done
  nft -f - <<END || log "payload-only: nft rules refused"
table inet payload_only {
  counter empty { }
  counter queued { }
  chain post {
    type filter hook postrouting priority srcnat + 1; policy accept;
    meta l4proto tcp ct original proto-dst 21 jump helped
  }
  chain helped {
$empty
    counter name "queued" queue num ${queue:-0} bypass
  }
}
END
  log "payload-only: helper '$ALGD_HELPER' kept disabled by the daemon; segments with payload queued to ${queue:-0} from postrouting (srcnat + 1)"
  nfct list helper >"$RES/cases/payload-only-helpers.txt" 2>&1
}
payload_only_setup
