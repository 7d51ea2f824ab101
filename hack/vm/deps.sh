#!/usr/bin/env bash
# What `make test-vm` needs besides `make deps-arm64`: qemu's system
# emulators for amd64 and arm64 VMs, qemu-img and mkfs.ext4 for their disks,
# and qemu-arm registered with binfmt_misc for the armhf machine container.
set -euo pipefail
SUDO=
[[ $(id -u) == 0 ]] || SUDO=sudo

need=()
for tool in qemu-system-x86_64:qemu-system-x86 qemu-system-aarch64:qemu-system-arm qemu-img:qemu-utils mkfs.ext4:e2fsprogs debootstrap:debootstrap; do
  command -v "${tool%%:*}" >/dev/null || need+=("${tool#*:}")
done
if [[ ${#need[@]} -gt 0 ]]; then
  echo "Installing ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
$SUDO update-binfmts --enable qemu-arm 2>/dev/null || true
grep -q '^flags:.*F' /proc/sys/fs/binfmt_misc/qemu-arm ||
  { echo "qemu-arm is not registered with the F flag: see /proc/sys/fs/binfmt_misc/qemu-arm" >&2; exit 1; }
echo "vm: $(qemu-system-x86_64 --version | head -1); qemu-arm registered"
