#!/usr/bin/env bash
# The demo behind `make up`: a fresh cluster named "demo", the echo app on it,
# and a request to the app from the host.
set -euo pipefail
cd "$(dirname "$0")/.."
NAME=${DEMO_NAME:-demo}
AGENTS=${DEMO_AGENTS:-3}
EDGECTL=bin/edgectl

if "$EDGECTL" cluster list -o json | grep -q "\"name\": \"${NAME}\""; then
  echo "Replacing the existing ${NAME} cluster"
  "$EDGECTL" cluster delete "$NAME"
fi
"$EDGECTL" cluster create "$NAME" --agents "$AGENTS"

server="edgectl-${NAME}-server-0"
# kubectl: the host's, else bin/kubectl (`make kubectl`, which `make up` runs).
KUBECTL=$(command -v kubectl || echo bin/kubectl)
kubectl() { "$KUBECTL" --context "edgectl-${NAME}" "$@"; }
kubectl get nodes -o wide
kubectl apply -f - < hack/demo/echo.yaml
kubectl rollout status deployment/echo --timeout=180s
kubectl get pods -o wide
ip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$server")
# kube-proxy programs the NodePort a moment after the Service exists: wait
# for it rather than show a refused connection.
for _ in $(seq 1 30); do
  docker exec "$server" bash -c "exec 3<>/dev/tcp/${ip}/30080" 2>/dev/null && break
  sleep 1
done
echo
echo "The demo app answers at http://${ip}:30080 :"
for _ in 1 2 3; do
  docker exec "$server" bash -c "exec 3<>/dev/tcp/${ip}/30080 && printf 'GET / HTTP/1.0\r\n\r\n' >&3 && tail -n1 <&3" || true
done
cat <<MSG

Next:
  ${KUBECTL} --context edgectl-${NAME} get pods -A
  curl http://${ip}:30080
  bin/edgectl cluster delete ${NAME}
MSG
