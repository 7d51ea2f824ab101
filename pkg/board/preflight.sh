#!/bin/sh
# The join preflight: facts about this host, one key=value per line, read by
# edgectl (pkg/board). It changes nothing.
set -u
has() { command -v "$1" >/dev/null 2>&1; }
kv() { printf '%s=%s\n' "$1" "$2"; }
kv arch "$(uname -m)"
kv kernel "$(uname -r)"
kv hostname "$(hostname 2>/dev/null || cat /etc/hostname)"
kv os "$( (. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-$ID}") || echo unknown)"
kv time "$(date +%s)"
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  kv cgroup v2
  kv controllers "$(cat /sys/fs/cgroup/cgroup.controllers)"
else
  kv cgroup v1
  kv controllers "$(awk '!/^#/ && $4 == 1 {printf "%s ", $1}' /proc/cgroups)"
fi
feature() { # NAME: loaded, built in, or a loadable module of this kernel
  if [ -d "/sys/module/$1" ]; then echo yes; return; fi
  if grep -qs "/$1.ko" "/lib/modules/$(uname -r)/modules.builtin" "/lib/modules/$(uname -r)/modules.dep"; then echo yes; return; fi
  echo no
}
ov=$(grep -qw overlay /proc/filesystems && echo yes || feature overlay)
kv overlay "$ov"
kv br_netfilter "$([ -d /proc/sys/net/bridge ] && echo yes || feature br_netfilter)"
kv vxlan "$(feature vxlan)"
kv tun "$([ -c /dev/net/tun ] && echo yes || feature tun)"
kv swap "$(awk 'NR > 1 {n++} END {print n + 0}' /proc/swaps)"
# kubelet reads the kernel log: a container "board" may lack /dev/kmsg.
kv kmsg "$( (exec 3</dev/kmsg) 2>/dev/null && echo yes || echo no)"
# kube-proxy writes conntrack sysctls: an LXC or Docker "board" may mount
# /proc/sys read-only (test -w fails with EROFS there, even for root).
kv proc_sys "$([ -w /proc/sys/net/ipv4/ip_forward ] && echo rw || echo ro)"
# containerd's snapshots are overlay mounts in /var/lib/containerd: an
# overlay root cannot hold them ("overlay ... invalid argument"). Mount a
# test overlay where they will be (the directory itself once it exists),
# and remove it again, with the directory's times as they were.
ovl_test() {
  base=/var/lib/containerd
  [ -d "$base" ] || base=/var/lib
  ref=$(mktemp) && touch -r "$base" "$ref"
  d=$(mktemp -d "$base/.edgectl-preflight.XXXXXX" 2>/dev/null) || { rm -f "$ref"; echo "no (cannot write $base)"; return; }
  mkdir "$d/l" "$d/u" "$d/w" "$d/m" && echo x >"$d/l/f"
  if err=$(mount -t overlay overlay -o "lowerdir=$d/l,upperdir=$d/u,workdir=$d/w" "$d/m" 2>&1); then
    umount "$d/m"; echo yes
  else
    echo "no (in $base: $(echo "$err" | head -n 1))"
  fi
  rm -rf "$d"
  touch -r "$ref" "$base"; rm -f "$ref"
}
if [ "$ov" = yes ] && has mount; then kv overlay_mount "$(ovl_test)"; fi
kv mem_available_kb "$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)"
kv disk_free_kb "$(df -Pk /var/lib | awk 'NR == 2 {print $4}')"
kv systemd "$([ -d /run/systemd/system ] && echo yes || echo no)"
# The bundle carries iptables, nft, ip, tc, conntrack and ethtool (install.sh
# says which are the host's own); what it cannot carry is what its scripts run.
missing=""
for pair in mount:mount tar:tar gzip:gzip; do
  has "${pair%%:*}" || missing="$missing ${pair#*:}"
done
kv missing_packages "${missing# }"
# Listening TCP ports, from /proc (a minimal host has no ss): 10250, 10256
# and 10249 are 280A, 2810 and 2809 in hex.
busy=$(cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk '$4 == "0A" {n = split($2, a, ":"); p = a[n]
  if (p == "280A") b[10250] = 1; if (p == "2810") b[10256] = 1; if (p == "2809") b[10249] = 1}
  END {for (k in b) printf "%s ", k}')
kv ports_in_use "${busy% }"
# running NAME: a process runs program NAME (from /proc: no pgrep needed).
running() {
  for c in /proc/[0-9]*/comm; do [ "$(cat "$c" 2>/dev/null)" = "$1" ] && return 0; done
  return 1
}
others=""
if has k3s || [ -e /etc/systemd/system/k3s.service ] || [ -e /etc/systemd/system/k3s-agent.service ] || running k3s-server || running k3s-agent || running k3s; then others="$others k3s"; fi
if running kubelet || [ -e /etc/systemd/system/kubelet.service ] || [ -e /lib/systemd/system/kubelet.service ]; then others="$others kubelet"; fi
if [ ! -e /var/lib/edgelet/bundle-version ] && running containerd; then others="$others containerd"; fi
kv other_kubernetes "${others# }"
kv edgelet "$(sed -n 's/^edgelet //p' /var/lib/edgelet/bundle-version 2>/dev/null)"
kv edgelet_server "$(sed -n 's/^server: *//p' /etc/edgelet/config.yaml 2>/dev/null)"
if [ -n "${EDGECTL_API:-}" ]; then
  kv api_address "$EDGECTL_API"
  # bash's /dev/tcp: every Debian has bash and coreutils (socat it may not).
  if ! has bash || ! has timeout; then kv api unknown
  elif timeout 5 bash -c 'exec 3<>"/dev/tcp/${1%:*}/${1##*:}"' _ "$EDGECTL_API" 2>/dev/null; then kv api reachable
  else kv api unreachable; fi
fi
kv sudo ok
