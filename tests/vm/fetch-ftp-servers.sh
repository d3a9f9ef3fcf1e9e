#!/bin/bash
# fetch-ftp-servers.sh CACHE_DIR
#
# Puts Debian 12's vsftpd, ProFTPD and Pure-FTPd into CACHE_DIR without installing them (their
# packages all Provide/Conflict ftp-server, so at most one could be installed):
#   CACHE_DIR/ftp-servers/vsftpd/usr/sbin/vsftpd
#   CACHE_DIR/ftp-servers/proftpd/usr/sbin/proftpd     (+ usr/lib/proftpd/*.so, not loaded)
#   CACHE_DIR/ftp-servers/pure-ftpd/usr/sbin/pure-ftpd
#   CACHE_DIR/ftp-servers/versions.txt                  ("NAME PACKAGE VERSION", one a line)
# `apt-get download` + `dpkg -x`, as fetch-kernel.sh does for the kernel. The binaries use the
# host's shared libraries: scripts/install-deps.sh installs those (libwrap0, libhiredis0.14,
# libmemcached11, libmemcachedutil2, libpcre2-posix3, libsodium23); each unpacked binary is
# checked with ldd. The test VM sees the host's root read-only, so the binaries run there too.
# Idempotent: a server already unpacked (and resolving) is not fetched again. pure-ftpd-common
# (debconf wrapper scripts in perl) is not needed: tests/vm/ftp_servers.sh runs the binary.
# Exit codes: 0 ok, 4 a server cannot be had here (callers turn that into a SKIP), 1 other errors.
set -euo pipefail

CACHE_DIR=${1:?usage: fetch-ftp-servers.sh CACHE_DIR}
mkdir -p "$CACHE_DIR/ftp-servers"
CACHE_DIR=$(cd "$CACHE_DIR" && pwd)
DEST_ROOT=$CACHE_DIR/ftp-servers

log() { echo "fetch-ftp-servers: $*" >&2; }
skip() { log "SKIP: $*"; exit 4; }

# NAME PACKAGE BINARY (relative to the unpacked tree)
SERVERS=(
  "vsftpd vsftpd usr/sbin/vsftpd"
  "proftpd proftpd-core usr/sbin/proftpd"
  "pure-ftpd pure-ftpd usr/sbin/pure-ftpd"
)

# Several CTest tests may start at once: one fetch at a time.
exec 9>"$DEST_ROOT/.fetch.lock"
flock 9

unresolved() {  # BINARY: prints the libraries ldd cannot find (empty = all resolve)
  ldd "$1" 2>&1 | sed -n 's/^[[:space:]]*\([^ ]*\) => not found$/\1/p' | tr '\n' ' '
}

cached_ok() {  # NAME BINARY
  [ -x "$DEST_ROOT/$1/$2" ] && [ -f "$DEST_ROOT/$1/.version" ] && [ -z "$(unresolved "$DEST_ROOT/$1/$2")" ]
}

download() {  # PACKAGE DIR: the .deb into DIR (apt-get update once if apt does not know it)
  (cd "$2" && apt-get download -q "$1" >&2) && return 0
  log "apt-get download $1 failed; retrying after apt-get update"
  apt-get update -qq >&2 || true
  (cd "$2" && apt-get download -q "$1" >&2)
}

fetch_one() {  # NAME PACKAGE BINARY
  local name=$1 pkg=$2 bin=$3 dest=$DEST_ROOT/$1 tmp deb missing
  if cached_ok "$name" "$bin"; then
    log "cached: $name ($(cat "$dest/.version"))"
    return 0
  fi
  tmp=$(mktemp -d "$DEST_ROOT/.dl.XXXXXX")
  chmod 755 "$tmp"  # lets apt's _apt user write there (no sandbox warning)
  if ! download "$pkg" "$tmp"; then rm -rf "$tmp"; skip "cannot download $pkg"; fi
  deb=$(ls "$tmp"/*.deb)
  rm -rf "$dest.partial"
  mkdir -p "$dest.partial"
  dpkg -x "$deb" "$dest.partial"
  dpkg-deb -f "$deb" Package Version | tr '\n' ' ' | sed 's/Package: //; s/ Version: / /; s/ $//' \
    >"$dest.partial/.version"
  rm -rf "$tmp"
  [ -x "$dest.partial/$bin" ] || { log "no $bin in $pkg"; exit 1; }
  missing=$(unresolved "$dest.partial/$bin")
  [ -z "$missing" ] || skip "$name needs libraries not installed here: $missing(scripts/install-deps.sh)"
  rm -rf "$dest"
  mv "$dest.partial" "$dest"
  log "unpacked $pkg ($(cat "$dest/.version")) into $dest"
}

for tool in apt-get dpkg dpkg-deb ldd; do
  command -v "$tool" >/dev/null 2>&1 || skip "$tool not found (Debian tools needed: apt, dpkg)"
done
: >"$DEST_ROOT/versions.txt.tmp"
for entry in "${SERVERS[@]}"; do
  read -r name pkg bin <<<"$entry"
  fetch_one "$name" "$pkg" "$bin"
  echo "$name $(cat "$DEST_ROOT/$name/.version")" >>"$DEST_ROOT/versions.txt.tmp"
done
mv "$DEST_ROOT/versions.txt.tmp" "$DEST_ROOT/versions.txt"
