#!/usr/bin/env bash
# Installs every Debian 12 package the project needs to build, test and demo. Idempotent: when all
# are present it does nothing (no network), otherwise it runs apt-get update first.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake pkg-config clang libclang-rt-14-dev clang-format clang-tidy
  libpcap-dev libmnl-dev libnetfilter-queue-dev zlib1g-dev
  libgtest-dev libgmock-dev libbenchmark-dev nlohmann-json3-dev libcli11-dev
  # captures, test hosts, real FTP peers
  tshark tcpdump python3 python3-pyftpdlib curl lftp iproute2 iptables nftables conntrack nfct
  # the interop matrix (tests/vm/interop.sh): more real FTP clients (the servers conflict with
  # each other as packages: tests/vm/fetch-ftp-servers.sh unpacks them instead)
  wget ncftp tnftp
  # the Debian package (scripts/build-deb.sh, tests/package/check-deb.sh) and its live test
  # (tests/vm/package.sh: systemd-analyze verify, man)
  debhelper dpkg-dev fakeroot lintian systemd man-db
  # the shared libraries of those unpacked servers (vsftpd: libwrap0; proftpd-core: libhiredis0.14,
  # libmemcached11, libmemcachedutil2, libpcre2-posix3; pure-ftpd: libsodium23)
  libwrap0 libhiredis0.14 libmemcached11 libmemcachedutil2 libpcre2-posix3 libsodium23
  # the stock-kernel test bed
  qemu-system-x86 busybox-static kmod cpio file
  # the HA failover test (tests/vm/run-ha.sh): the gateways' VRRP and connection sync
  keepalived conntrackd
  # benchmarks: the live benchmark's plot (bench/run-live.sh)
  gnuplot-nox
  # linters for the project's Python (tests/lint/python-lint.sh, CTest lint_python)
  python3-pyflakes python3-pycodestyle
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: need root to install: ${missing[*]}" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; the default (no) is fine.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -q
# The FTP servers are started by the tests inside network namespaces with their own settings:
# keep their packages' init scripts from starting them on this machine (policy-rc.d, 101 = no).
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  created_policy=1
fi
trap '[ "$created_policy" = 1 ] && rm -f "$policy"' EXIT
apt-get install -y -q --no-install-recommends "${missing[@]}"
