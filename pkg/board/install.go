package board

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/template"

	"github.com/edgectl/edgectl/internal/remote"
)

// Join is what a host is given to run a node.
type Join struct {
	Cluster string
	Node    string
	Arch    string
	Config  []byte // the node config (YAML)
	Token   string
	Role    string // agent
}

// BundleFile is the name a join script looks for next to itself.
func (j Join) BundleFile() string { return "edgectl-bundle-linux-" + j.Arch + "-" + j.Role + ".tar.gz" }

var joinScript = template.Must(template.New("join").Parse(`#!/bin/sh
# Joins this host to edgectl cluster {{.Cluster}} as node {{.Node}} (linux/{{.Arch}}).
# Written by ` + "`edgectl node join --print`" + `. It holds the cluster's join token: keep it private.
# Run it as root next to the bundle (or set BUNDLE=FILE):
#   edgectl bundle build --platform linux/{{.Arch}} --role {{.Role}} -o {{.BundleFile}}
# Running it again re-installs and restarts the node, with the same identity.
set -eu
BUNDLE=${BUNDLE:-$(dirname "$0")/{{.BundleFile}}}
[ "$(id -u)" = 0 ] || { echo "join: run as root" >&2; exit 1; }
[ -f "$BUNDLE" ] || { echo "join: no bundle at $BUNDLE" >&2; exit 1; }
work=$(mktemp -d /var/tmp/edgectl-join.XXXXXX)
trap 'rm -rf "$work"' EXIT
tar -xzf "$BUNDLE" -C "$work"
"$work/edgectl-bundle-linux-{{.Arch}}/install.sh"
umask 077
mkdir -p /etc/edgelet
cat >/etc/edgelet/config.yaml.new <<'EDGECTL_CONFIG'
{{printf "%s" .Config}}EDGECTL_CONFIG
printf '%s\n' '{{.Token}}' >/etc/edgelet/token.new
printf 'EDGELET_ROLE=%s\n' '{{.Role}}' >/etc/edgelet/role.new
for f in config.yaml token role; do mv -f "/etc/edgelet/$f.new" "/etc/edgelet/$f"; done
systemctl enable edgelet >/dev/null 2>&1
systemctl restart edgelet
echo "edgelet started: node {{.Node}} is joining cluster {{.Cluster}} (journalctl -u edgelet -f)"
`))

// Script is the join as one shell script, run as root next to the bundle.
func (j Join) Script() (string, error) {
	if strings.ContainsAny(j.Token, "'\n") || strings.Contains(string(j.Config), "\nEDGECTL_CONFIG") {
		return "", fmt.Errorf("join token or config cannot be quoted")
	}
	var b strings.Builder
	err := joinScript.Execute(&b, struct {
		Join
		BundleFile string
	}{j, j.BundleFile()})
	return b.String(), err
}

// remoteBundle is where an SSH join puts the bundle while it runs.
const remoteBundle = "/var/tmp/edgectl-join-bundle.tar.gz"

// Install copies the bundle to the host over SSH and runs the join script
// there; the copy is removed afterwards.
func Install(ctx context.Context, h *remote.Host, j Join, bundle string) error {
	script, err := j.Script()
	if err != nil {
		return err
	}
	f, err := os.Open(bundle)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := h.Run(ctx, "umask 077 && cat >"+remoteBundle, f); err != nil {
		return fmt.Errorf("copy the bundle to %s: %w", h.Target, err)
	}
	defer h.Run(context.WithoutCancel(ctx), "rm -f "+remoteBundle, nil) //nolint:errcheck
	if _, err := h.Run(ctx, "BUNDLE="+remoteBundle+" sh -s", strings.NewReader(script)); err != nil {
		return fmt.Errorf("install on %s: %w", h.Target, err)
	}
	return nil
}

// Uninstall removes the node from the host (the bundle's uninstall script),
// when it is installed, and returns what is still left.
func Uninstall(ctx context.Context, h *remote.Host) ([]string, error) {
	if _, err := h.Run(ctx, "if [ -x /usr/local/sbin/edgelet-uninstall ]; then /usr/local/sbin/edgelet-uninstall; fi", nil); err != nil {
		return nil, fmt.Errorf("uninstall on %s: %w", h.Target, err)
	}
	return Leftovers(ctx, h)
}

// leftoversScript lists what a node leaves on a host, one per line: a
// process, a unit, a data or config dir, an interface, a chain, a mount.
const leftoversScript = `
for p in edgelet containerd containerd-shim-runc-v2 kubelet flanneld; do pgrep -x "$p" >/dev/null 2>&1 && echo "process $p"; done
for u in /etc/systemd/system/edgelet.service /etc/systemd/system/multi-user.target.wants/edgelet.service; do [ -e "$u" ] && echo "unit $u"; done
for d in /var/lib/edgelet /etc/edgelet /var/lib/kubelet /var/lib/containerd /run/containerd /run/flannel /opt/cni/bin /usr/local/bin/edgelet /etc/cni/net.d/10-flannel.conflist; do [ -e "$d" ] && echo "file $d"; done
for l in cni0 flannel.1 flannel-wg edgelet0; do ip link show "$l" >/dev/null 2>&1 && echo "interface $l"; done
for t in iptables ip6tables; do command -v "$t-save" >/dev/null 2>&1 && "$t-save" 2>/dev/null | sed -n 's/^:\(KUBE[^ ]*\|FLANNEL[^ ]*\|CNI[^ ]*\|EDGELET[^ ]*\) .*/chain \1/p'; done
nft list tables 2>/dev/null | grep -w kube-proxy | sed 's/^/nft /'
awk '$2 ~ "^(/var/lib/(kubelet|edgelet|containerd)|/run/(containerd|netns|edgelet))" {print "mount " $2}' /proc/mounts
true
`

// Leftovers lists what of a node is still on the host.
func Leftovers(ctx context.Context, h *remote.Host) ([]string, error) {
	out, err := h.Run(ctx, "sh -s", strings.NewReader(leftoversScript))
	if err != nil {
		return nil, fmt.Errorf("check %s: %w", h.Target, err)
	}
	var left []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			left = append(left, l)
		}
	}
	return left, nil
}

// ErrTokenRejected is a join the cluster refused: edgelet exited for good
// (its exit status 3) because its join token was wrong or expired.
var ErrTokenRejected = errors.New("the cluster rejected the join token")

// Stopped returns an error when edgelet on the host has stopped for good,
// with the last lines of its log; nil while it runs or restarts.
func Stopped(ctx context.Context, h *remote.Host) error {
	out, err := h.Run(ctx, "systemctl show edgelet -p ActiveState -p ExecMainStatus", nil)
	if err != nil {
		return nil // a dropped connection is not the node's failure
	}
	f := ParseFacts(out)
	if f["ActiveState"] != "failed" {
		return nil
	}
	log, _ := h.Run(ctx, "journalctl -u edgelet -n 5 --no-pager -o cat", nil)
	if f["ExecMainStatus"] == "3" {
		return fmt.Errorf("%w:\n%s", ErrTokenRejected, strings.TrimSpace(log))
	}
	return fmt.Errorf("edgelet on %s failed (exit status %s):\n%s", h.Target.Host, f["ExecMainStatus"], strings.TrimSpace(log))
}
