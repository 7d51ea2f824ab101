#!/usr/bin/env bash
# make deps-arm64: what building and running arm64 nodes on an amd64 host
# needs, on Debian: qemu user emulation registered with binfmt_misc (with the
# F flag, so containers find the interpreter), Debian's aarch64 C cross
# compiler and libseccomp for arm64 (runc is the one cgo binary).
set -euo pipefail
SUDO=
[[ $(id -u) == 0 ]] || SUDO=sudo

need=()
command -v qemu-aarch64-static >/dev/null || need+=(qemu-user-static binfmt-support)
command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu)
[[ -f /usr/lib/aarch64-linux-gnu/libseccomp.so ]] || need+=(libseccomp-dev:arm64)
if [[ ${#need[@]} -gt 0 ]]; then
  echo "Installing ${need[*]}"
  dpkg --print-foreign-architectures | grep -qx arm64 || $SUDO dpkg --add-architecture arm64
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
# binfmt_misc is not mounted after some restarts of this kind of VM.
[[ -f /proc/sys/fs/binfmt_misc/register ]] || $SUDO mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
$SUDO update-binfmts --enable qemu-aarch64 2>/dev/null || true
grep -q '^flags:.*F' /proc/sys/fs/binfmt_misc/qemu-aarch64 ||
  { echo "qemu-aarch64 is not registered with the F flag: see /proc/sys/fs/binfmt_misc/qemu-aarch64" >&2; exit 1; }
echo "arm64: qemu-aarch64 registered ($(grep '^flags' /proc/sys/fs/binfmt_misc/qemu-aarch64)), $(aarch64-linux-gnu-gcc --version | head -1)"
