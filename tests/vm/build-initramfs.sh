#!/bin/bash
# build-initramfs.sh CACHE_DIR
#
# Builds CACHE_DIR/initramfs-<kver>.cpio.gz for the kernel fetch-kernel.sh cached there:
#   /bin/busybox (busybox-static) and its applet links, /init (tests/vm/init.sh),
#   /lib/modules/<kver>/ with the modules of tests/vm/modules.list and their dependencies,
#   /lib/modules/load.list: the order /init loads them in (resolved here with the host's kmod).
# Prints the image's path on stdout. Rebuilds only when an input changed (stamp file).
# Exit codes: 0 ok, 4 a needed tool is missing (callers turn that into a SKIP), 1 other errors.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE_DIR=${1:?usage: build-initramfs.sh CACHE_DIR}
CACHE_DIR=$(cd "$CACHE_DIR" && pwd)

log() { echo "build-initramfs: $*" >&2; }
skip() { log "SKIP: $*"; exit 4; }

[ -f "$CACHE_DIR/kernel.env" ] || { log "no $CACHE_DIR/kernel.env: run fetch-kernel.sh first"; exit 1; }
# shellcheck disable=SC1091
. "$CACHE_DIR/kernel.env"

BUSYBOX=${FTPALG_VM_BUSYBOX:-/bin/busybox}
[ -x "$BUSYBOX" ] || skip "$BUSYBOX not found (Debian package busybox-static)"
if command -v file >/dev/null 2>&1 && ! file -L "$BUSYBOX" | grep -q 'statically linked'; then
  skip "$BUSYBOX is not statically linked (install busybox-static, not busybox)"
fi
for tool in cpio gzip modprobe depmod; do
  command -v "$tool" >/dev/null 2>&1 || skip "$tool not found (packages cpio, gzip, kmod)"
done

OUT=$CACHE_DIR/initramfs-$KVER.cpio.gz
STAMP=$OUT.stamp
want=$( { echo "$KVER"; cat "$0" "$HERE/init.sh" "$HERE/modules.list"; sha256sum <"$BUSYBOX"; } |
        sha256sum | cut -d' ' -f1)

exec 9>"$CACHE_DIR/.initramfs.lock"
flock 9
if [ -f "$OUT" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$want" ]; then
  log "up to date: $OUT"
  echo "$OUT"
  exit 0
fi

STAGE=$(mktemp -d "$CACHE_DIR/.initramfs.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE"/{bin,dev,proc,sys,tmp,run,host,results,newroot,ovl} "$STAGE/lib/modules/$KVER"
cp "$BUSYBOX" "$STAGE/bin/busybox"
for applet in $("$STAGE/bin/busybox" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$STAGE/bin/$applet"
done
ln -s bin "$STAGE/sbin"
cp "$HERE/init.sh" "$STAGE/init"
chmod 755 "$STAGE/init"

# Resolve the load order: for every listed module, its dependencies first (kmod also puts soft
# dependencies first, which busybox modprobe would not), each module once.
LOAD=$STAGE/lib/modules/load.list
: >"$LOAD"
declare -A seen=()
while read -r name _; do
  case "$name" in ''|'#'*) continue ;; esac
  optional=
  case "$name" in '?'*) optional='?'; name=${name#\?} ;; esac
  if ! deps=$(modprobe -d "$KROOT" -S "$KVER" --show-depends "$name" 2>&1); then
    if [ -n "$optional" ]; then log "optional module $name not found, left out"; continue; fi
    log "module $name: $deps"; exit 1
  fi
  while read -r kind path _; do
    case "$kind" in
      builtin) continue ;;
      insmod) ;;
      *) continue ;;
    esac
    rel=${path#"$KMODDIR/"}
    [ -z "${seen[$rel]:-}" ] || continue
    seen[$rel]=1
    mkdir -p "$STAGE/lib/modules/$KVER/$(dirname "$rel")"
    cp "$path" "$STAGE/lib/modules/$KVER/$rel"
    # Only the module named with '?' is optional, not what it pulls in.
    if [ -n "$optional" ] && [ "$(basename "$rel" .ko)" = "$name" ]; then
      echo "?$rel" >>"$LOAD"
    else
      echo "$rel" >>"$LOAD"
    fi
  done <<<"$deps"
done <"$HERE/modules.list"
cp "$KMODDIR"/modules.{order,builtin,builtin.modinfo} "$STAGE/lib/modules/$KVER/" 2>/dev/null || true
# modules.dep for modprobe inside the guest (busybox's before the chroot, kmod's after it).
depmod -b "$STAGE" "$KVER"
echo "$KVER" >"$STAGE/lib/modules/kver"

(cd "$STAGE" && find . -print0 | sort -z | cpio --null -o -H newc --quiet) | gzip -1 >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "$want" >"$STAMP"
log "built $OUT ($(wc -l <"$LOAD") modules, $(du -h "$OUT" | cut -f1))"
echo "$OUT"
