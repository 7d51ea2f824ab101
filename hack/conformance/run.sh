#!/usr/bin/env bash
# make test-conformance: the upstream Kubernetes conformance suite of the
# version edgelet runs, against a 1 server + 2 agent edgectl cluster, offline.
#
# 1. builds e2e.test and ginkgo from Go modules (hack/conformance/go.mod);
# 2. builds every image the [Conformance] tests use, under the names and tags
#    the suite expects: agnhost, sample-apiserver, etcd and nonewprivs from
#    the same Go modules; busybox, nginx and the DNS tools from Debian
#    packages (debootstrap). No registry is involved;
# 3. creates the cluster, imports the images into every node;
# 4. runs the [Conformance] tests that are not [Serial] or [Disruptive]
#    (SERIAL=1: the [Serial] ones alone, one at a time), writes JUnit and a
#    summary to $OUT, and deletes the cluster (KEEP=1 keeps it).
#
# Environment: OUT (default _output/conformance), PROCS (ginkgo processes,
# default 4), FOCUS / SKIP (regexps that replace the default selection).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/hack/conformance
OUT=${OUT:-$ROOT/_output/conformance}
PROCS=${PROCS:-4}
CLUSTER=${CLUSTER:-conformance}
E2E=registry.k8s.io/e2e-test-images
export PATH=/usr/local/go/bin:$PATH
mkdir -p "$OUT/bin" "$OUT/images"

step() { printf '\n==> %s\n' "$*"; }

step "Building e2e.test, ginkgo and the image programs (cached after the first run)"
(
  cd "$HERE"
  go test -c -o "$OUT/bin/e2e.test" k8s.io/kubernetes/test/e2e
  go build -o "$OUT/bin/ginkgo" github.com/onsi/ginkgo/v2/ginkgo
  export CGO_ENABLED=0
  go build -o "$OUT/images/agnhost" k8s.io/kubernetes/test/images/agnhost
  go build -o "$OUT/images/nnp" k8s.io/kubernetes/test/images/nonewprivs
  go build -o "$OUT/images/sample-apiserver" k8s.io/sample-apiserver
  go build -o "$OUT/images/etcd" ./etcd
)
(cd "$ROOT" && make -s build)
EDGECTL=$ROOT/bin/edgectl

# The base of the images: Debian with the tools the tests call (dig, curl, nc,
# ip, nginx). /bin/sh is bash: dash and Debian's busybox 1.35 ash drop
# environment variables whose names have a '-', which upstream's images keep.
BASE=$OUT/rootfs
PKGS=busybox-static,bash-static,dnsutils,curl,netcat-openbsd,iproute2,iperf,bash,nginx-light,ca-certificates,procps
if [[ ! -f $BASE/.done || $(cat "$BASE/.done") != "$PKGS" ]]; then
  step "debootstrap of the test images' base (a minute or two)"
  rm -rf "$BASE"
  debootstrap --variant=minbase --include="$PKGS" bookworm "$BASE" >"$OUT/debootstrap.log" 2>&1 ||
    { tail -20 "$OUT/debootstrap.log"; exit 1; }
  rm -rf "$BASE"/var/cache/apt/archives/*.deb "$BASE"/var/lib/apt/lists/*
  echo "$PKGS" >"$BASE/.done"
fi

step "Building the test images"
BB=$OUT/busybox
rm -rf "$BB" && mkdir -p "$BB/bin" "$BB/etc" "$BB/tmp" "$BB/root"
cp "$BASE/bin/busybox" "$BB/bin/busybox"
for applet in $("$BB/bin/busybox" --list); do
  [[ $applet == busybox ]] || ln -s busybox "$BB/bin/$applet"
done
cp "$BASE/bin/bash-static" "$BB/bin/bash"
ln -sf bash "$BB/bin/sh"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' >"$BB/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\n' >"$BB/etc/group"
tar -C "$BB" -c . | docker import -c 'CMD ["sh"]' -c 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' - "$E2E/busybox:1.37.0-1" >/dev/null

ln -sf bash "$BASE/bin/sh"
tar -C "$BASE" --exclude=./.done -c . |
  docker import -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - edgectl-conformance/base:dev >/dev/null

K8S=$(cd "$HERE" && go list -m -f '{{.Dir}}' k8s.io/kubernetes)
build() { # build TAG DOCKERFILE (context: $OUT/images)
  printf '%s\n' "$2" | docker build -q -t "$1" -f - "$OUT/images" >/dev/null
}
mkdir -p "$OUT/images/kitten" "$OUT/images/nautilus"
# agnhost serves its test certificate: probes of test-webserver ask for it.
cp "$K8S/test/images/agnhost/porter/localhost."{crt,key} "$OUT/images/"
cp "$K8S/test/images/kitten/html/"* "$OUT/images/kitten/"
cp "$K8S/test/images/nautilus/html/"* "$OUT/images/nautilus/"
AGNHOST='FROM edgectl-conformance/base:dev
COPY agnhost localhost.crt localhost.key /
RUN ln -s agnhost /agnhost-2 && mkdir -p /uploads && \
    groupadd -g 50000 group-defined-in-image && \
    useradd -u 1000 -M -s /bin/sh -G group-defined-in-image user-defined-in-image
ENTRYPOINT ["/agnhost"]
CMD ["pause"]'
build "$E2E/agnhost:2.59" "$AGNHOST"
docker tag "$E2E/agnhost:2.59" "$E2E/agnhost:2.55"
build "$E2E/kitten:1.7" "FROM $E2E/agnhost:2.59
COPY kitten/ /
CMD [\"test-webserver\"]"
build "$E2E/nautilus:1.7" "FROM $E2E/agnhost:2.59
COPY nautilus/ /
CMD [\"test-webserver\"]"
build "$E2E/jessie-dnsutils:1.7" 'FROM edgectl-conformance/base:dev'
NGINX='FROM edgectl-conformance/base:dev
RUN ln -sf /dev/stdout /var/log/nginx/access.log && ln -sf /dev/stderr /var/log/nginx/error.log
CMD ["nginx", "-g", "daemon off;"]'
build "$E2E/nginx:1.14-4" "$NGINX"
build "$E2E/nginx:1.15-4" "$NGINX"
build "$E2E/nonroot:1.4" 'FROM edgectl-conformance/base:dev
USER 1234'
build "$E2E/nonewprivs:1.3" 'FROM edgectl-conformance/base:dev
COPY nnp /usr/local/bin/nnp
RUN chmod +s /usr/local/bin/nnp
CMD ["nnp"]'
build "$E2E/sample-apiserver:1.29.2" 'FROM edgectl-conformance/base:dev
COPY sample-apiserver /sample-apiserver
ENTRYPOINT ["/sample-apiserver"]'
build registry.k8s.io/etcd:3.6.6-0 'FROM edgectl-conformance/base:dev
COPY etcd /usr/local/bin/etcd'
IMAGES=("$E2E/busybox:1.37.0-1" "$E2E/agnhost:2.59" "$E2E/agnhost:2.55" "$E2E/kitten:1.7"
  "$E2E/nautilus:1.7" "$E2E/jessie-dnsutils:1.7" "$E2E/nginx:1.14-4" "$E2E/nginx:1.15-4"
  "$E2E/nonroot:1.4" "$E2E/nonewprivs:1.3" "$E2E/sample-apiserver:1.29.2" registry.k8s.io/etcd:3.6.6-0)

KUBECONFIG_FILE=$OUT/kubeconfig
cleanup() {
  if [[ ${KEEP:-} != 1 ]]; then
    "$EDGECTL" cluster delete "$CLUSTER" --kubeconfig "$KUBECONFIG_FILE" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT
step "Creating cluster $CLUSTER (1 server, 2 agents)"
"$EDGECTL" cluster delete "$CLUSTER" --kubeconfig "$KUBECONFIG_FILE" >/dev/null 2>&1 || true
"$EDGECTL" cluster create "$CLUSTER" --agents 2 --kubeconfig "$KUBECONFIG_FILE"
"$EDGECTL" image import -c "$CLUSTER" "${IMAGES[@]}"

if [[ ${SERIAL:-} == 1 ]]; then
  FOCUS=${FOCUS:-'\[Conformance\].*\[Serial\]|\[Serial\].*\[Conformance\]'}
  SKIP=${SKIP:-'\[Disruptive\]'}
  PROCS=1
else
  FOCUS=${FOCUS:-'\[Conformance\]'}
  SKIP=${SKIP:-'\[Serial\]|\[Disruptive\]'}
  # The one test the stand-in images cannot pass: it wants busybox ash's
  # exact error message, and the stand-in's /bin/sh is bash (docs/status.md,
  # "Conformance"). STANDIN_SKIP=0 runs it too.
  if [[ ${STANDIN_SKIP:-1} == 1 ]]; then
    SKIP="$SKIP|read only busybox container should not write to root filesystem"
  fi
fi
REPORT=$OUT/report
rm -rf "$REPORT" && mkdir -p "$REPORT"
step "Running the conformance tests ($PROCS at a time; log: $OUT/e2e.log)"
start=$(date +%s)
rc=0
"$OUT/bin/ginkgo" --procs="$PROCS" --focus="$FOCUS" --skip="$SKIP" --no-color --timeout=3h \
  --junit-report="$REPORT/junit.xml" --json-report="$REPORT/report.json" \
  "$OUT/bin/e2e.test" -- --kubeconfig="$KUBECONFIG_FILE" --provider=skeleton \
  --report-dir="$REPORT" --e2e-output-dir="$REPORT" >"$OUT/e2e.log" 2>&1 || rc=$?
secs=$(($(date +%s) - start))
(cd "$HERE" && go run ./summary "$REPORT/report.json" "$secs") | tee "$OUT/summary.txt"
if ((rc != 0)); then
  "$EDGECTL" export logs "$CLUSTER" "$OUT/logs" >/dev/null 2>&1 || true
fi
exit "$rc"
