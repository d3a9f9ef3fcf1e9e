#!/bin/sh
# keepalived's notify script for an active/backup pair of ftp-alg gateways: keepalived runs it with
# primary | backup | fault when the VRRP sync group changes state (notify_master/_backup/_fault in
# keepalived.conf). Install as /etc/ftp-alg/ha-notify.sh (root-owned, not writable by others).
#
# It does what conntrack-tools' own primary-backup.sh does (doc/sync/primary-backup.sh), with
# ftp-algd in mind:
#   primary: conntrackd -c   commit the primary's connections (external cache) into this kernel:
#                             control connections keep their helper ("ftp-alg": ftp-algd must be
#                             running here, registered under the same name, or the commit of those
#                             entries fails), NAT bindings and the sequence adjustment of earlier
#                             rewrites, data connections, pending expectations (ExpectationSync);
#            conntrackd -f   flush the internal and external caches;
#            conntrackd -R   resync the internal cache with the kernel table (now the truth);
#            conntrackd -B   send it in bulk to the other gateway (now the backup).
#   backup:  conntrackd -s   is it running? (else start it: conntrackd -d)
#            conntrackd -t   shorten the kernel timers: this gateway's own entries go soon;
#            conntrackd -n   ask the primary for a full resync into the external cache.
#   fault:   conntrackd -t
# ftp-algd itself needs nothing: it runs on both gateways all the time and picks up the sessions it
# first sees mid-stream (docs/ha.md says what that means).
#
# Each transition is logged (logger) and appended, with the time, to $FTPALG_HA_STATE_FILE
# (default /run/ftp-alg-ha.state), which monitoring (and the project's test, tests/vm/ha.sh) reads.

CONNTRACKD=${CONNTRACKD:-/usr/sbin/conntrackd}
CONFIG=${CONNTRACKD_CONFIG:-/etc/conntrackd/conntrackd.conf}
LOCK=${CONNTRACKD_LOCK:-/var/lock/conntrack.lock}
STATE_FILE=${FTPALG_HA_STATE_FILE:-/run/ftp-alg-ha.state}

note() {
  logger -t ftp-alg-ha "$*" 2>/dev/null
  echo "$(date +%s.%N) $*" >>"$STATE_FILE"
}

ctd() {  # one conntrackd request; a failure is logged, the next step still runs
  if ! "$CONNTRACKD" -C "$CONFIG" "$@"; then
    note "ERROR: conntrackd $* failed"
    return 1
  fi
}

case "$1" in
  primary)
    note "STATE primary: committing"
    ctd -c
    ctd -f
    ctd -R
    ctd -B
    note "STATE primary: committed"
    ;;
  backup)
    note "STATE backup"
    if ! "$CONNTRACKD" -C "$CONFIG" -s >/dev/null 2>&1; then
      if [ -f "$LOCK" ]; then
        note "WARNING: conntrackd was not stopped cleanly; removing $LOCK"
        rm -f "$LOCK"
      fi
      ctd -d || exit 1
    fi
    ctd -t
    ctd -n
    ;;
  fault)
    note "STATE fault"
    ctd -t
    ;;
  *)
    echo "usage: ha-notify.sh primary|backup|fault" >&2
    exit 1
    ;;
esac
exit 0
