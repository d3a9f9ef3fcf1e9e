#!/bin/bash
# package.sh ftp-algd DEBDIR   (a run-vm.sh --job script: runs INSIDE the test VM)
#
#   tests/vm/run-vm.sh --build-dir build --job tests/vm/package.sh ftp-algd build/package/src
#
# The Debian package (scripts/build-deb.sh) on the stock kernel, in the guest's writable overlay
# of the host root (nothing changes on the host). Cases:
#   package-install  dpkg -i of the .deb in DEBDIR: installed, /etc/ftp-alg/ftp-algd.conf a
#                    conffile, the unit passes `systemd-analyze verify`, man finds ftp-algd(8).
#   package-service  the daemon started as the installed unit starts it (its ExecStartPre= and
#                    ExecStart= lines, run as written), the helper attached by a raw-table rule,
#                    a PORT and a PASV transfer through the masquerade topology (1 KB + 3 MB +
#                    listing each, sha256), SIGTERM, then the unit's ExecStopPost= line.
#   package-purge    dpkg -r keeps only the conffile; dpkg -P removes it and /etc/ftp-alg; no
#                    file of the package is left.
# Output: VM-RESULT ftp-algd:package-<case> PASS|FAIL <detail>; logs in cases/package-*.log.
set -u
VMDIR=${FTPALG_VM_DIR:-$(cd "$(dirname "$0")" && pwd)}
# shellcheck source=testbed.sh
source "$VMDIR/testbed.sh"
testbed_init "${1:-ftp-algd}"
DEB=$(ls "${2:-/nonexistent}"/ftp-alg_*.deb 2>/dev/null | head -n 1)
UNIT=/lib/systemd/system/ftp-algd.service
PKG=ftp-alg

unit_line() {  # KEY: the value of KEY= in the installed unit (first occurrence)
  sed -n "s/^$1=//p" "$UNIT" | head -n 1
}
run_unit_line() {  # KEY: runs the unit's KEY= command line as systemd would (no shell)
  local line words
  line=$(unit_line "$1")
  [ -n "$line" ] || return 127
  read -ra words <<<"$line"
  echo "### $1: ${words[*]}" >>"$trace"
  "${words[@]}" >>"$trace" 2>&1
}

case_install() {
  local name=package-install t0 problems=() conffiles
  trace=$RES/cases/$name.log; : >"$trace"
  now_ms t0
  # man-db's dpkg trigger rebuilds the whole manual index, which over the guest's 9p root takes
  # minutes under TCG (install 284 s, purge 424 s, 2026-12-07); without this file (Debian's
  # switch for it, here in the guest's overlay only) the trigger does nothing.
  rm -f /var/lib/man-db/auto-update
  dpkg -i "$DEB" >>"$trace" 2>&1 || problems+=("dpkg -i failed")
  dpkg-query -W -f='${Status}\n' $PKG 2>>"$trace" | grep -q "install ok installed" ||
    problems+=("not installed")
  dpkg -L $PKG >"$RES/cases/package-files.txt" 2>&1
  conffiles=$(dpkg-query -W -f='${Conffiles}\n' $PKG 2>/dev/null)
  echo "### conffiles: $conffiles" >>"$trace"
  [[ $conffiles == *" /etc/ftp-alg/ftp-algd.conf "* ]] || problems+=("ftp-algd.conf is not a conffile")
  local f
  for f in /usr/sbin/ftp-algd /usr/bin/ftp-alg-replay "$UNIT" /usr/share/doc/$PKG/rules/nat-gateway.nft; do
    [ -e "$f" ] || problems+=("$f missing")
  done
  systemd-analyze verify "$UNIT" >>"$trace" 2>&1 || problems+=("systemd-analyze verify failed")
  [ -L /etc/systemd/system/multi-user.target.wants/ftp-algd.service ] ||
    problems+=("the unit is not enabled (dh_installsystemd)")
  man -w ftp-algd >>"$trace" 2>&1 || problems+=("no man page ftp-algd")
  /usr/sbin/ftp-algd --version >>"$trace" 2>&1 || problems+=("ftp-algd --version failed")
  finish $name "$t0" problems "installed $(wc -l <"$RES/cases/package-files.txt") paths, unit verified"
}

case_service() {
  local name=package-service t0 problems=() pid cmd dir sums ok=0
  trace=$RES/cases/$name.log; : >"$trace"
  now_ms t0
  run_unit_line ExecStartPre || problems+=("ExecStartPre failed")
  local line words
  line=$(unit_line ExecStart)
  read -ra words <<<"$line"
  echo "### ExecStart: ${words[*]}" >>"$trace"
  "${words[@]}" >"$RES/ftp-algd.log" 2>&1 &
  pid=$!
  BG_PIDS+=("$pid")
  wait_for 30 sh -c "nfct list helper 2>/dev/null | grep -q ftp-alg" || problems+=("no helper registered in 30 s")
  attach_helper ftp-alg
  [[ " $HELPER_FAMILIES " == *" 4 "* ]] || problems+=("helper rule refused")
  for cmd in PORT PASV; do
    dir=$DL/$name-$cmd
    rm -rf "$dir"; mkdir -p "$dir"
    curl_fetch cli ftp://198.51.100.2 "$cmd" "$dir" 60 "small big list" || problems+=("$cmd: curl failed")
    sums=$(cd "$dir" && sha256sum small.txt big.bin 2>/dev/null)
    if [[ $sums == *"$SHA_SMALL  small.txt"* && $sums == *"$SHA_BIG  big.bin"* ]] &&
       grep -q big.bin "$dir/listing" 2>/dev/null; then
      ok=$((ok + 1))
    else
      problems+=("$cmd: downloads differ or listing missing")
    fi
  done
  grep -q '"event":"rewrite"' "$RES/ftp-algd.log" || problems+=("the daemon logged no rewrite")
  detach_helper
  kill -TERM "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  echo "### ftp-algd exit status $?" >>"$trace"
  run_unit_line ExecStopPost || problems+=("ExecStopPost failed")
  finish $name "$t0" problems "$ok/2 transfers (PORT, PASV) through the unit's daemon"
}

case_purge() {
  local name=package-purge t0 problems=() left=0 f
  trace=$RES/cases/$name.log; : >"$trace"
  now_ms t0
  dpkg -r $PKG >>"$trace" 2>&1 || problems+=("dpkg -r failed")
  [ -e /usr/sbin/ftp-algd ] && problems+=("ftp-algd left after remove")
  [ -e /etc/ftp-alg/ftp-algd.conf ] || problems+=("the conffile went with remove (policy keeps it)")
  dpkg -P $PKG >>"$trace" 2>&1 || problems+=("dpkg -P failed")
  [ -e /etc/ftp-alg ] && problems+=("/etc/ftp-alg left after purge")
  # dh_installsystemd enabled the unit at install (a symlink dpkg does not list); purge removes it.
  [ -e /etc/systemd/system/multi-user.target.wants/ftp-algd.service ] &&
    problems+=("the unit's enablement symlink left after purge")
  dpkg-query -W $PKG >/dev/null 2>&1 && problems+=("dpkg still knows the package")
  while read -r f; do
    # Directories the package shares with others (/usr, /usr/share/doc...) stay.
    [ -d "$f" ] && continue
    [ -e "$f" ] && { echo "### left: $f" >>"$trace"; left=$((left + 1)); }
  done <"$RES/cases/package-files.txt"
  [ $left -eq 0 ] || problems+=("$left files of the package left")
  finish $name "$t0" problems "removed, conffile kept; purged, nothing left"
}

log "package: kernel $(uname -r), $DEB"
if [ -z "$DEB" ] || [ ! -f "$DEB" ]; then
  result package SKIP "no ftp-alg_*.deb in ${2:-(no directory given)}: scripts/build-deb.sh"
  exit 4
fi
testbed_up
case_install
case_service
case_purge
summarize_and_exit "package"
