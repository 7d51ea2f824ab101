#!/usr/bin/env bash
# make test-cgroupv2: edgectl on a cgroup v2 host, which is what GitHub- and
# GitLab-hosted runners are. This machine is cgroup v1, so the host is a
# Debian 12 VM under qemu (TCG: KVM does not work here), booted from a disk
# image with Debian's own kernel, systemd (cgroup v2, unified) and Docker.
#
# 1. builds the VM's disk (debootstrap; cached in $OUT until its package list
#    changes) and boots it, with SSH on 127.0.0.1:$SSH_PORT;
# 2. copies edgectl, kubectl and the node image into it;
# 3. creates a 1 server + 1 agent cluster and checks it: both nodes Ready,
#    CoreDNS answering, a Deployment with a pod on each node, and the kubelet's
#    cgroup v2 stats (metrics-server's `kubectl top`); then deletes it;
# 4. does 3 again with Docker and containerd lacking CAP_SYS_RESOURCE, as on
#    this host: the engine refuses --privileged and the nodes take the
#    unprivileged fallback.
#
# Environment: OUT (default _output/vm), SSH_PORT (default 2299), MEM (MiB,
# default 8192), KEEP=1 leaves the VM running. TCG is slow: 16 min here, of which
# 2.5 min build the disk (first run only) and ~5 min each create.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-$ROOT/_output/vm}
SSH_PORT=${SSH_PORT:-2299}
MEM=${MEM:-8192}
IMAGE=${IMAGE:-edgectl/node:dev}
mkdir -p "$OUT"
START=$(date +%s)

step() { printf '\n==> [%4ss] %s\n' "$(($(date +%s) - START))" "$*"; }

need=()
for tool in qemu-system-x86_64:qemu-system-x86 qemu-img:qemu-utils debootstrap:debootstrap mkfs.ext4:e2fsprogs; do
  command -v "${tool%%:*}" >/dev/null || need+=("${tool#*:}")
done
if [[ ${#need[@]} -gt 0 ]]; then
  step "Installing ${need[*]}"
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
(cd "$ROOT" && make -s build)

# --- 1. the disk and the boot -------------------------------------------------

PKGS=systemd,systemd-sysv,udev,dbus,apparmor,openssh-server,iproute2,kmod,procps,ca-certificates,curl,iptables,docker.io,linux-image-cloud-amd64,initramfs-tools
DISK=$OUT/disk.img
if [[ ! -f $OUT/.done || $(cat "$OUT/.done") != "$PKGS" ]]; then
  step "Building the VM's disk: debootstrap of Debian 12 with Docker and the cloud kernel (a few minutes)"
  R=$OUT/rootfs
  rm -rf "$R" "$DISK" "$OUT/.done"
  debootstrap --variant=minbase --include="$PKGS" bookworm "$R" >"$OUT/debootstrap.log" 2>&1 ||
    { tail -20 "$OUT/debootstrap.log"; exit 1; }
  rm -rf "$R"/var/cache/apt/archives/*.deb "$R"/var/lib/apt/lists/*
  echo edgectl-vm >"$R/etc/hostname"
  echo '/dev/vda / ext4 defaults 0 1' >"$R/etc/fstab"
  printf '[Match]\nName=e*\n\n[Network]\nDHCP=yes\n' >"$R/etc/systemd/network/10-eth.network"
  ln -sf /lib/systemd/system/systemd-networkd.service "$R/etc/systemd/system/multi-user.target.wants/systemd-networkd.service"
  ln -sf /dev/null "$R/etc/systemd/system/systemd-networkd-wait-online.service"
  printf 'nameserver 10.0.2.3\n' >"$R/etc/resolv.conf"
  rm -f "$OUT/id_ed25519" "$OUT/id_ed25519.pub"
  ssh-keygen -q -t ed25519 -N '' -f "$OUT/id_ed25519"
  install -d -m 0700 "$R/root/.ssh"
  install -m 0600 "$OUT/id_ed25519.pub" "$R/root/.ssh/authorized_keys"
  cp "$R"/boot/vmlinuz-* "$OUT/vmlinuz"
  cp "$R"/boot/initrd.img-* "$OUT/initrd.img"
  # Room for the node image, its unpacked layers and two clusters' nodes.
  mkfs.ext4 -q -F -L root -d "$R" "$DISK" 16G
  rm -rf "$R"
  echo "$PKGS" >"$OUT/.done"
fi

# Each run boots a copy-on-write layer over the disk, so it starts clean.
RUN=$OUT/run.qcow2
PIDFILE=$OUT/qemu.pid
stop_vm() {
  if [[ -f $PIDFILE ]] && kill "$(cat "$PIDFILE")" 2>/dev/null; then
    sleep 2
  fi
  rm -f "$PIDFILE" "$RUN"
}
stop_vm
trap '[[ ${KEEP:-} == 1 ]] || stop_vm' EXIT
qemu-img create -q -f qcow2 -F raw -b "$DISK" "$RUN"
step "Booting the VM (TCG; console: $OUT/console.log)"
qemu-system-x86_64 -machine q35,accel=tcg -cpu max -smp 2 -m "$MEM" \
  -kernel "$OUT/vmlinuz" -initrd "$OUT/initrd.img" \
  -append "root=/dev/vda rw console=ttyS0 net.ifnames=0" \
  -drive "file=$RUN,if=virtio,format=qcow2" \
  -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$SSH_PORT-:22" -device virtio-net-pci,netdev=n0 \
  -display none -serial "file:$OUT/console.log" -daemonize -pidfile "$PIDFILE"

SSH=(ssh -q -i "$OUT/id_ed25519" -p "$SSH_PORT" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
  -o ConnectTimeout=10 -o ServerAliveInterval=30 root@127.0.0.1)
vm() { "${SSH[@]}" "$@"; }
for i in $(seq 1 120); do
  vm true 2>/dev/null && break
  [[ $i == 120 ]] && { echo "no SSH into the VM within 20 min; see $OUT/console.log" >&2; exit 1; }
  sleep 10
done
step "The VM answers SSH"
vm 'set -e; stat -fc "/sys/fs/cgroup: %T" /sys/fs/cgroup; uname -r; docker version --format "Docker {{.Server.Version}}"; docker info --format "cgroup {{.CgroupVersion}}, driver {{.CgroupDriver}}"'
[[ $(vm stat -fc %T /sys/fs/cgroup) == cgroup2fs ]] || { echo "the VM is not on cgroup v2" >&2; exit 1; }

# --- 2. edgectl, kubectl and the node image --------------------------------------

step "Copying edgectl, kubectl and $IMAGE into the VM"
vm 'cat >/usr/local/bin/edgectl && chmod +x /usr/local/bin/edgectl' <"$ROOT/bin/edgectl"
vm 'cat >/usr/local/bin/kubectl && chmod +x /usr/local/bin/kubectl' <"$(command -v kubectl)"
docker save "$IMAGE" | vm docker load -q

# --- 3 and 4. a cluster, checked -------------------------------------------------

# check runs in the VM: a 1+1 cluster named $1, its checks, its delete.
check() {
  vm CLUSTER="$1" WANT="$2" bash -s <<'EOF'
set -euo pipefail
k() { kubectl --context "edgectl-$CLUSTER" "$@"; }
edgectl cluster create "$CLUSTER" --agents 1 --image edgectl/node:dev --wait 10m  # TCG: ~5 min
got=$(docker inspect -f '{{.HostConfig.Privileged}}' "edgectl-$CLUSTER-server-0")
echo "nodes privileged: $got"
[[ $got == "$WANT" ]] || { echo "expected privileged=$WANT" >&2; exit 1; }
k wait --for=condition=Ready node --all --timeout=10m
k -n kube-system rollout status deployment/coredns --timeout=10m
k create deployment echo --image=ghcr.io/edgectl/echo:dev --replicas=2 --port=8080
k patch deployment echo --type=merge -p '{"spec":{"template":{"spec":{"topologySpreadConstraints":[{"maxSkew":1,"topologyKey":"kubernetes.io/hostname","whenUnsatisfiable":"DoNotSchedule","labelSelector":{"matchLabels":{"app":"echo"}}}]}}}}'
k rollout status deployment/echo --timeout=10m
nodes=$(k get pods -l app=echo -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}' | sort -u | wc -l)
echo "echo pods run on $nodes node(s)"
[[ $nodes == 2 ]] || { k get pods -o wide; exit 1; }
k expose deployment echo --type=NodePort --port=80 --target-port=8080 --overrides='{"spec":{"ports":[{"port":80,"targetPort":8080,"nodePort":30090}]}}'
# Through the NodePort of each node: kube-proxy, flannel across nodes, CoreDNS-free.
for ip in $(k get nodes -o jsonpath='{range .items[*]}{.status.addresses[?(@.type=="InternalIP")].address}{" "}{end}'); do
  for i in $(seq 1 30); do
    body=$(curl -fsS -m 3 "http://$ip:30090/" 2>/dev/null) && break
    [[ $i == 30 ]] && { echo "NodePort on $ip never answered" >&2; exit 1; }
    sleep 2
  done
  echo "NodePort on $ip: $body"
done
# The kubelet's stats come from the nodes' cgroup v2 files.
for i in $(seq 1 60); do
  k top pods -n kube-system --no-headers 2>/dev/null | grep -q coredns && break
  [[ $i == 60 ]] && { echo "kubectl top never answered (cgroup v2 stats)" >&2; k top pods -A || true; exit 1; }
  sleep 10
done
k top nodes
edgectl cluster delete "$CLUSTER"
left=$(docker ps -aq --filter "label=io.edgectl.cluster=$CLUSTER" | wc -l)
[[ $left == 0 ]] || { echo "delete left $left container(s)" >&2; exit 1; }
EOF
}

step "Cluster on cgroup v2, privileged nodes"
check cg2 true
step "Privileged pass done"

step "Dropping CAP_SYS_RESOURCE from Docker and containerd, as on this host"
vm 'set -e; for s in docker containerd; do mkdir -p /etc/systemd/system/$s.service.d; printf "[Service]\nCapabilityBoundingSet=~CAP_SYS_RESOURCE\n" >/etc/systemd/system/$s.service.d/10-no-sys-resource.conf; done
systemctl daemon-reload; systemctl restart containerd docker; docker info >/dev/null'
step "Cluster on cgroup v2, unprivileged fallback"
check cg2u false
step "cgroup v2: both passes succeeded in $(($(date +%s) - START)) s"
