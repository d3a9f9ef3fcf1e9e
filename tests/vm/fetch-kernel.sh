#!/bin/bash
# fetch-kernel.sh CACHE_DIR
#
# Puts Debian 12's stock kernel (the package linux-image-amd64 depends on) into CACHE_DIR:
#   CACHE_DIR/kernel/<package>/boot/vmlinuz-<kver>
#   CACHE_DIR/kernel/<package>/lib/modules/<kver>/   (depmod already run)
#   CACHE_DIR/kernel.env                              (KVER, KPKG, VMLINUZ, KMODDIR)
# Idempotent: when kernel.env names files that exist, nothing is downloaded.
# Runs `apt-get update` only when the package cannot be found in apt's lists.
#
# Environment: FTPALG_VM_KERNEL_PKG=linux-image-6.1.0-N-amd64 picks a package by name.
# Exit codes: 0 ok, 4 the kernel cannot be had here (callers turn that into a SKIP), 1 other errors.
set -euo pipefail

CACHE_DIR=${1:?usage: fetch-kernel.sh CACHE_DIR}
mkdir -p "$CACHE_DIR"
CACHE_DIR=$(cd "$CACHE_DIR" && pwd)
ENV_FILE=$CACHE_DIR/kernel.env

log() { echo "fetch-kernel: $*" >&2; }
skip() { log "SKIP: $*"; exit 4; }

cached_ok() {
  [ -f "$ENV_FILE" ] || return 1
  # shellcheck disable=SC1090
  (. "$ENV_FILE" && [ -f "$VMLINUZ" ] && [ -f "$KMODDIR/modules.dep" ]
   [ -z "${FTPALG_VM_KERNEL_PKG:-}" ] || [ "$KPKG" = "$FTPALG_VM_KERNEL_PKG" ])
}

# Several CTest tests may start at once: one fetch at a time.
exec 9>"$CACHE_DIR/.fetch.lock"
flock 9

if cached_ok; then
  # shellcheck disable=SC1090
  log "cached: $(. "$ENV_FILE"; echo "$KPKG $KVER")"
  exit 0
fi

for tool in apt-get apt-cache dpkg depmod; do
  command -v "$tool" >/dev/null 2>&1 || skip "$tool not found (Debian tools needed: apt, dpkg, kmod)"
done

# The package name linux-image-amd64 depends on, e.g. linux-image-6.1.0-56-amd64.
kernel_pkg() {
  if [ -n "${FTPALG_VM_KERNEL_PKG:-}" ]; then
    apt-cache show "$FTPALG_VM_KERNEL_PKG" >/dev/null 2>&1 && echo "$FTPALG_VM_KERNEL_PKG"
    return 0
  fi
  apt-cache depends linux-image-amd64 2>/dev/null |
    sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n1
}

PKG=$(kernel_pkg || true)
if [ -z "$PKG" ]; then
  log "kernel package not in apt's lists; running apt-get update"
  apt-get update -qq >&2 || skip "apt-get update failed"
  PKG=$(kernel_pkg || true)
fi
[ -n "$PKG" ] || skip "no linux-image-*-amd64 package known to apt (is this Debian 12 / bookworm?)"
log "package: $PKG"

DEST=$CACHE_DIR/kernel/$PKG
TMP=$(mktemp -d "$CACHE_DIR/.dl.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
chmod 755 "$TMP"  # lets apt's _apt user write there (no sandbox warning)
# apt-get download writes into the current directory; as root it warns about the _apt sandbox.
(cd "$TMP" && apt-get download -q "$PKG" >&2) || {
  log "apt-get download failed; retrying after apt-get update"
  apt-get update -qq >&2 || true
  (cd "$TMP" && apt-get download -q "$PKG" >&2) || skip "cannot download $PKG"
}
DEB=$(ls "$TMP"/*.deb)
rm -rf "$DEST.partial"
mkdir -p "$DEST.partial"
dpkg -x "$DEB" "$DEST.partial"
# Only boot/ and lib/modules/ are needed; the docs go.
rm -rf "$DEST.partial/usr"

VMLINUZ_REL=$(cd "$DEST.partial" && ls boot/vmlinuz-* | head -n1)
[ -n "$VMLINUZ_REL" ] || { log "no boot/vmlinuz-* in $DEB"; exit 1; }
KVER=${VMLINUZ_REL#boot/vmlinuz-}
depmod -b "$DEST.partial" "$KVER"
rm -rf "$DEST"
mv "$DEST.partial" "$DEST"

cat >"$ENV_FILE.tmp" <<EOF
KPKG=$PKG
KVER=$KVER
VMLINUZ=$DEST/boot/vmlinuz-$KVER
KROOT=$DEST
KMODDIR=$DEST/lib/modules/$KVER
EOF
mv "$ENV_FILE.tmp" "$ENV_FILE"
log "cached $PKG ($KVER) in $DEST"
