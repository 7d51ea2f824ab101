#!/bin/sh
# uninstall.sh (installed as /usr/local/sbin/edgelet-uninstall): stops
# edgelet and everything it started, and removes what install.sh installed
# and what the node made: its data and config, pod mounts, network
# interfaces and packet-filter rules. The host is left as before install.
set -u
LIST=/var/lib/edgelet/bundle-files
# The bundle's host tools, for a host that has none of its own.
PATH=$PATH:/usr/local/lib/edgelet/tools/bin
# stop: SIGTERM to every process that runs a program of ours, containerd
# and its shims in /usr/local/bin (from /proc: a minimal host has no pkill;
# a host's own containerd is elsewhere and left alone).
stop() {
  for p in /proc/[0-9]*; do
    case $(readlink "$p/exe" 2>/dev/null) in
      /usr/local/bin/containerd*) kill "${p#/proc/}" 2>/dev/null ;;
    esac
  done
}
[ "$(id -u)" = 0 ] || { echo "uninstall: run as root" >&2; exit 1; }

systemctl disable --now edgelet >/dev/null 2>&1
# Pod processes outlive the unit (KillMode=mixed leaves the shims).
stop
sleep 1
# Mounts of pods and of the runtime, deepest first.
awk '$2 ~ "^(/var/lib/(kubelet|edgelet|containerd)|/run/(containerd|netns|edgelet))" {print $2}' /proc/mounts |
  sort -r | while read -r m; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
for link in cni0 flannel.1 kube-ipvs0 edgelet0; do ip link delete "$link" 2>/dev/null; done
# kube-proxy's and flannel's rules; the host's own are kept.
for t in iptables ip6tables; do
  command -v "$t-save" >/dev/null 2>&1 || continue
  "$t-save" | grep -v -E -e '-j (KUBE|FLANNEL|CNI|EDGELET)' -e '^:(KUBE|FLANNEL|CNI|EDGELET)' -e '-A (KUBE|FLANNEL|CNI|EDGELET)' | "$t-restore" 2>/dev/null
  # Checked here, while the bundle's tools are still installed.
  left=$("$t-save" 2>/dev/null | grep -c -E '^:(KUBE|FLANNEL|CNI|EDGELET)')
  [ "$left" = 0 ] || echo "uninstall: $left chains of edgelet's are still in $t" >&2
done
if command -v nft >/dev/null 2>&1; then
  for fam in ip ip6; do nft delete table "$fam" kube-proxy 2>/dev/null; done
fi
if [ -f "$LIST" ]; then
  while read -r f; do rm -f "$f"; done <"$LIST"
fi
rm -rf /usr/local/lib/edgelet /etc/edgelet /var/lib/edgelet /var/lib/kubelet /var/lib/containerd /run/edgelet /run/containerd /run/flannel \
  /etc/cni/net.d/10-flannel.conflist /var/log/pods /var/log/containers
rmdir /opt/cni/bin /opt/cni /etc/cni/net.d /etc/cni 2>/dev/null
systemctl daemon-reload
echo "edgelet removed"
