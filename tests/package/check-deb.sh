#!/bin/bash
# check-deb.sh OUTDIR: builds the Debian package (scripts/build-deb.sh OUTDIR) and checks it:
# lintian (errors and warnings fail; pedantic and info tags are shown, overrides with their
# reasons in debian/ftp-alg.lintian-overrides), the paths an operator relies on, dependencies
# computed by dpkg-shlibdeps, and a unit that names the installed binary. The .deb stays in
# OUTDIR/src/ for the live install test (tests/vm/package.sh). Exit 4 (skip) without the tools.
set -uo pipefail
OUT=${1:?usage: check-deb.sh OUTDIR}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
for tool in dpkg-buildpackage dh lintian; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed (scripts/install-deps.sh)"; exit 4; }
done
DEB=$("$ROOT/scripts/build-deb.sh" "$OUT" | tail -n 1) || exit 1
echo "built $DEB"
problems=0
fail() { echo "FAIL: $*"; problems=$((problems + 1)); }

# lintian refuses nothing as root but says so; its verdict is the exit code.
lintian --fail-on error,warning --display-info --pedantic "${DEB%.deb}.changes" 2>&1 |
  grep -v 'running with root privileges' | tee "$OUT/lintian.txt"
[ "${PIPESTATUS[0]}" -eq 0 ] || fail "lintian reports errors or warnings ($OUT/lintian.txt)"

contents=$(dpkg-deb -c "$DEB" | awk '{print $6}')
for path in ./usr/sbin/ftp-algd ./usr/bin/ftp-alg-replay ./lib/systemd/system/ftp-algd.service \
            ./etc/ftp-alg/ftp-algd.conf ./usr/share/doc/ftp-alg/rules/nat-gateway.nft \
            ./usr/share/doc/ftp-alg/rules/published-server.iptables \
            ./usr/share/doc/ftp-alg/rules/workers/nat-gateway.nft \
            ./usr/share/doc/ftp-alg/examples/ha/conntrackd.conf \
            ./usr/share/doc/ftp-alg/examples/ha/keepalived.conf \
            ./usr/share/doc/ftp-alg/examples/ha/ha-notify.sh \
            ./usr/share/man/man8/ftp-algd.8.gz ./usr/share/man/man5/ftp-algd.conf.5.gz \
            ./usr/share/man/man1/ftp-alg-replay.1.gz ./usr/share/doc/ftp-alg/copyright; do
  grep -qxF "$path" <<<"$contents" || fail "$path not in the package"
done
depends=$(dpkg-deb -f "$DEB" Depends)
echo "Depends: $depends"
for lib in libmnl0 libnetfilter-queue1 libpcap0.8 libstdc++6; do
  [[ $depends == *"$lib "* || $depends == *"$lib," ]] || fail "Depends lacks $lib (dpkg-shlibdeps)"
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dpkg-deb -x "$DEB" "$tmp"
grep -qx 'ExecStart=/usr/sbin/ftp-algd --config /etc/ftp-alg/ftp-algd.conf' \
  "$tmp/lib/systemd/system/ftp-algd.service" || fail "the unit does not start /usr/sbin/ftp-algd"
grep -Eq "^(Exec[A-Za-z]*|Documentation)=.*/usr/local" "$tmp/lib/systemd/system/ftp-algd.service" &&
  fail "the unit names /usr/local"
"$tmp/usr/bin/ftp-alg-replay" --help >/dev/null || fail "ftp-alg-replay --help failed"
[ $problems -eq 0 ] && echo "package OK: $DEB"
exit $((problems > 0))
