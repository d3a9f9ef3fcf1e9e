#!/bin/bash
# install-deps.sh: installs the Debian 12 packages the VM tests need (run as root).
# Host side: qemu-system-x86 busybox-static kmod cpio gzip file util-linux (flock) apt/dpkg.
# Guest side (the guest chroots into the host's root): python3-pyftpdlib curl lftp iptables
# nftables conntrack nfct iproute2 tcpdump.
# The kernel itself is fetched by fetch-kernel.sh (apt-get download, not installed).
set -euo pipefail
PACKAGES=(
  qemu-system-x86 busybox-static kmod cpio gzip file util-linux coreutils
  python3 python3-pyftpdlib curl lftp iptables nftables conntrack nfct iproute2 tcpdump
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages installed"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends "${missing[@]}"; then
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
fi
