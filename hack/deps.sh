#!/usr/bin/env bash
# Installs what edgectl needs on a fresh Debian machine and starts the Docker
# engine if none is running. Idempotent; needs root (or sudo) to install.
set -euo pipefail

SUDO=""
[[ $(id -u) -eq 0 ]] || SUDO=sudo

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
command -v iptables >/dev/null 2>&1 || need+=(iptables)
[[ -f /usr/include/seccomp.h ]] || need+=(libseccomp-dev)
command -v gcc >/dev/null 2>&1 || need+=(gcc)
# Podman is the second engine (e2e: TestPodman, through its Docker API).
command -v podman >/dev/null 2>&1 || need+=(podman)
# The e2e test of --datastore-endpoint runs a throwaway PostgreSQL server.
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
# ... and a throwaway MySQL-compatible server (MariaDB); the package starts
# no server where no init system runs, as here.
[[ -x /usr/sbin/mariadbd ]] || need+=(mariadb-server)
if ((${#need[@]})); then
  echo "Installing: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

# Every node holds 16-27 inotify instances and all of the host's root
# processes share fs.inotify.max_user_instances (128 by default): with more
# than ~6 nodes on the host, components fail with "too many open files".
if (( $(cat /proc/sys/fs/inotify/max_user_instances) < 8192 )); then
  $SUDO sysctl -qw fs.inotify.max_user_instances=8192
fi
if (( $(cat /proc/sys/fs/inotify/max_user_watches) < 524288 )); then
  $SUDO sysctl -qw fs.inotify.max_user_watches=524288
fi

if ! docker info >/dev/null 2>&1; then
  echo "Starting dockerd (log: /var/log/dockerd.log)"
  $SUDO sh -c 'nohup dockerd >/var/log/dockerd.log 2>&1 &'
  for _ in $(seq 1 120); do
    docker info >/dev/null 2>&1 && break
    sleep 0.5
  done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start: see /var/log/dockerd.log" >&2; exit 1; }
fi
# Podman's Docker-compatible API: edgectl talks to it with DOCKER_HOST set to
# this socket.
if ! podman --remote --url unix:///run/podman/podman.sock info >/dev/null 2>&1; then
  echo "Starting podman system service (log: /var/log/podman-service.log)"
  $SUDO mkdir -p /run/podman && $SUDO rm -f /run/podman/podman.sock  # a stale socket blocks the bind
  $SUDO sh -c 'nohup podman system service --time=0 unix:///run/podman/podman.sock >/var/log/podman-service.log 2>&1 &'
  for _ in $(seq 1 60); do
    podman --remote --url unix:///run/podman/podman.sock info >/dev/null 2>&1 && break
    sleep 0.5
  done
  podman --remote --url unix:///run/podman/podman.sock info >/dev/null 2>&1 || { echo "podman service did not start: see /var/log/podman-service.log" >&2; exit 1; }
fi
command -v go >/dev/null 2>&1 || { echo "Go is needed (https://go.dev/dl); put it on PATH" >&2; exit 1; }
