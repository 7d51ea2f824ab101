#!/bin/sh
# install.sh: installs this edgectl board bundle on a Debian or Raspberry Pi
# OS host with systemd: edgelet, containerd, runc, the CNI plugins, the
# offline system images, the host tools edgelet runs (iptables, nft, ip, tc,
# conntrack, ethtool: for a host without them, so no package is needed) and
# the edgelet unit. Nothing is downloaded. The
# node starts once it has a role and a config (/etc/edgelet/role and
# /etc/edgelet/config.yaml), which joining a cluster writes. Run it again to
# upgrade in place; uninstall.sh (also installed as
# /usr/local/sbin/edgelet-uninstall) removes everything.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
LIST=/var/lib/edgelet/bundle-files

die() { echo "install.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root"
want=$(sed -n 's|^platform linux/||p' "$HERE/VERSION")
case $(uname -m) in
  x86_64) have=amd64 ;;
  aarch64 | arm64) have=arm64 ;;
  *) have=$(uname -m) ;;
esac
[ "$have" = "$want" ] || die "this bundle is for linux/$want; this host is linux/$have: use the $have bundle"
[ -d /run/systemd/system ] || die "systemd is not running here: edgelet runs as a systemd service"
mkdir -p /usr/local/bin /usr/local/sbin /opt/cni/bin /usr/local/lib/edgelet/tools/bin /usr/local/lib/edgelet/tools/libexec /usr/local/lib/edgelet/tools/lib/xtables /var/lib/edgelet/agent/images /etc/edgelet
: >"$LIST.tmp"
put() { # SRC DST MODE
  install -m "$3" "$1" "$2.edgectl-new" && mv -f "$2.edgectl-new" "$2"
  echo "$2" >>"$LIST.tmp"
}
link() { # TARGET NAME
  ln -sfn "$1" "$2"
  echo "$2" >>"$LIST.tmp"
}
for b in edgelet containerd containerd-shim-runc-v2 runc; do put "$HERE/bin/$b" "/usr/local/bin/$b" 0755; done
# An agent bundle's edgelet has no server in it, and no kubectl.
[ "$(sed -n 's|^role ||p' "$HERE/VERSION")" = agent ] || link edgelet /usr/local/bin/kubectl
link containerd /usr/local/bin/ctr
for p in "$HERE"/cni/*; do put "$p" "/opt/cni/bin/$(basename "$p")" 0755; done
for i in "$HERE"/images/*.tar; do put "$i" "/var/lib/edgelet/agent/images/$(basename "$i")" 0644; done
# The host tools: edgelet's unit puts their bin/ last on its PATH, so the
# host's own iptables (and the rest) come first where it has them.
TOOLS=/usr/local/lib/edgelet/tools
for d in bin libexec lib lib/xtables; do
  for f in "$HERE/tools/$d"/*; do [ -f "$f" ] && put "$f" "$TOOLS/$d/$(basename "$f")" 0755; done
done
own=""; ours=""
for t in "$TOOLS"/bin/*; do
  t=$(basename "$t")
  if PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin command -v "$t" >/dev/null 2>&1; then own="$own $t"; else ours="$ours $t"; fi
done
put "$HERE/systemd/edgelet.service" /etc/systemd/system/edgelet.service 0644
put "$HERE/uninstall.sh" /usr/local/sbin/edgelet-uninstall 0755
put "$HERE/VERSION" /var/lib/edgelet/bundle-version 0644
sort -u "$LIST.tmp" >"$LIST" && rm -f "$LIST.tmp"
systemctl daemon-reload
echo "Installed: $(/usr/local/bin/edgelet version)"
[ -z "$ours" ] || echo "Host tools from the bundle (this host has none of its own):$ours"
[ -z "$own" ] || echo "Host tools of this host's own:$own"
echo "edgelet starts once this host joins a cluster (it needs /etc/edgelet/role and /etc/edgelet/config.yaml)."
