package board

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"unicode/utf8"

	"github.com/edgectl/edgectl/internal/remote"
	nodev1 "github.com/edgectl/edgectl/pkg/apis/node/v1alpha1"
)

// Join is what a host is given to run a node.
type Join struct {
	Cluster string
	Node    string
	Arch    string
	Config  []byte // the node config (YAML)
	Token   string
	Role    string // server or agent
	// Files are more files for the host, by path (a server's manifests).
	Files map[string][]byte
}

// Node files on a host: edgelet's defaults, and the role its unit reads.
const (
	ConfigFile = nodev1.DefaultConfigPath
	TokenFile  = nodev1.DefaultTokenFile
	RoleFile   = "/etc/edgelet/role"
	// ToolsDir holds the host tools a bundle carries (iptables, nft, ip,
	// ...) for a host without them; edgelet's unit puts its bin/ last on
	// PATH, so a host's own tools come first.
	ToolsDir = "/usr/local/lib/edgelet/tools"
)

// BundleFile is the name a join script looks for next to itself.
func (j Join) BundleFile() string { return "edgectl-bundle-linux-" + j.Arch + "-" + j.Role + ".tar.gz" }

// HostFiles are the files the node's host gets, by path: its config, its
// token, its role, and the extra Files.
func (j Join) HostFiles() map[string][]byte {
	files := map[string][]byte{
		ConfigFile: j.Config,
		TokenFile:  []byte(j.Token + "\n"),
		RoleFile:   []byte("EDGELET_ROLE=" + j.Role + "\n"),
	}
	maps.Copy(files, j.Files)
	return files
}

var joinScript = template.Must(template.New("join").Parse(`#!/bin/sh
# Joins this host to edgectl cluster {{.Cluster}} as node {{.Node}} (linux/{{.Arch}}).
# Written by ` + "`edgectl node join --print` or `edgectl promote bundle`" + `. It holds the cluster's join token: keep it private.
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
{{.Write}}systemctl enable edgelet >/dev/null 2>&1
systemctl restart edgelet
echo "edgelet started: node {{.Node}} is joining cluster {{.Cluster}} (journalctl -u edgelet -f)"
`))

// Script is the join as one shell script, run as root next to the bundle.
func (j Join) Script() (string, error) {
	if strings.ContainsAny(j.Token, "\n") {
		return "", fmt.Errorf("join token cannot be written")
	}
	var b strings.Builder
	err := joinScript.Execute(&b, struct {
		Join
		BundleFile string
		Write      string
	}{j, j.BundleFile(), writeFiles(j.HostFiles())})
	return b.String(), err
}

// writeFiles is shell that writes files as root, each replaced at once
// (written beside, then renamed), readable by root only. Text goes in a
// here-document; other content (or text that holds the end marker) as base64.
func writeFiles(files map[string][]byte) string {
	var b strings.Builder
	b.WriteString("umask 077\n")
	for _, path := range slices.Sorted(maps.Keys(files)) {
		data := files[path]
		q := remote.Quote(path + ".edgectl-new")
		fmt.Fprintf(&b, "mkdir -p %s\n", remote.Quote(filepath.Dir(path)))
		text := utf8.Valid(data) && (len(data) == 0 || data[len(data)-1] == '\n') && !bytes.Contains(data, []byte("\nEDGECTL_FILE\n")) && !bytes.HasPrefix(data, []byte("EDGECTL_FILE\n"))
		if text {
			fmt.Fprintf(&b, "cat >%s <<'EDGECTL_FILE'\n%sEDGECTL_FILE\n", q, data)
		} else {
			fmt.Fprintf(&b, "base64 -d >%s <<'EDGECTL_FILE'\n%s\nEDGECTL_FILE\n", q, base64.StdEncoding.EncodeToString(data))
		}
		fmt.Fprintf(&b, "mv -f %s %s\n", q, remote.Quote(path))
	}
	return b.String()
}

// Configure writes files on the host (the ones a plan found changed) and
// restarts edgelet.
func Configure(ctx context.Context, h *remote.Host, files map[string][]byte) error {
	script := "set -eu\n" + writeFiles(files) + "systemctl enable edgelet >/dev/null 2>&1\nsystemctl restart edgelet\n"
	if _, err := h.Run(ctx, "sh -s", strings.NewReader(script)); err != nil {
		return fmt.Errorf("configure %s: %w", h.Target, err)
	}
	return nil
}

// Sums are the SHA-256 sums of files on the host, by path; a missing file
// has none. Reading them changes nothing there.
func Sums(ctx context.Context, h *remote.Host, paths []string) (map[string]string, error) {
	quoted := make([]string, len(paths))
	for i, p := range paths {
		quoted[i] = remote.Quote(p)
	}
	out, err := h.Run(ctx, "for f in "+strings.Join(quoted, " ")+"; do [ -f \"$f\" ] && sha256sum \"$f\"; done; true", nil)
	if err != nil {
		return nil, fmt.Errorf("read files on %s: %w", h.Target, err)
	}
	sums := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if sum, path, ok := strings.Cut(strings.TrimSpace(l), "  "); ok {
			sums[path] = sum
		}
	}
	return sums, nil
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

// LeftoversScript lists what a node leaves on a host, one per line: a
// process, a unit, a data or config dir, an interface, a chain, a mount.
// A minimal host has no pgrep, ip or iptables of its own: processes and
// interfaces are read from /proc and /sys, and the chains with the host's
// iptables or, while it is installed, the bundle's (uninstall.sh checks
// them itself before it removes its tools).
const LeftoversScript = `
PATH=$PATH:` + ToolsDir + `/bin
for p in /proc/[0-9]*; do
  case $(cat "$p/comm" 2>/dev/null) in edgelet | containerd | containerd-shim* | kubelet | flanneld) echo "process $(cat "$p/comm")" ;; esac
done
for u in /etc/systemd/system/edgelet.service /etc/systemd/system/multi-user.target.wants/edgelet.service; do [ -e "$u" ] && echo "unit $u"; done
for d in /var/lib/edgelet /etc/edgelet /var/lib/kubelet /var/lib/containerd /run/containerd /run/flannel /opt/cni/bin /usr/local/bin/edgelet /usr/local/lib/edgelet /etc/cni/net.d/10-flannel.conflist; do [ -e "$d" ] && echo "file $d"; done
for l in cni0 flannel.1 flannel-wg edgelet0; do [ -e "/sys/class/net/$l" ] && echo "interface $l"; done
for t in iptables ip6tables; do command -v "$t-save" >/dev/null 2>&1 && "$t-save" 2>/dev/null | sed -n 's/^:\(KUBE[^ ]*\|FLANNEL[^ ]*\|CNI[^ ]*\|EDGELET[^ ]*\) .*/chain \1/p'; done
command -v nft >/dev/null 2>&1 && nft list tables 2>/dev/null | grep -w kube-proxy | sed 's/^/nft /'
awk '$2 ~ "^(/var/lib/(kubelet|edgelet|containerd)|/run/(containerd|netns|edgelet))" {print "mount " $2}' /proc/mounts
true
`

// Leftovers lists what of a node is still on the host.
func Leftovers(ctx context.Context, h *remote.Host) ([]string, error) {
	out, err := h.Run(ctx, "sh -s", strings.NewReader(LeftoversScript))
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
// or restarts in a loop, with the last lines of its log; nil while it runs
// (or after one or two restarts).
func Stopped(ctx context.Context, h *remote.Host) error {
	out, err := h.Run(ctx, "systemctl show edgelet -p ActiveState -p ExecMainStatus -p NRestarts", nil)
	if err != nil {
		return nil // a dropped connection is not the node's failure
	}
	what := unitTrouble(ParseFacts(out))
	if what == "" {
		return nil
	}
	log, _ := h.Run(ctx, "journalctl -u edgelet -n 15 --no-pager -o cat", nil)
	log = strings.TrimSpace(log)
	if what == "token" {
		return fmt.Errorf("%w:\n%s", ErrTokenRejected, log)
	}
	return fmt.Errorf("edgelet on %s %s; the last lines of `journalctl -u edgelet` there:\n%s", h.Target.Host, what, log)
}

// crashLoop is how many automatic restarts in a row make a crash loop:
// with the unit's RestartSec=2s, a node that cannot start is caught in
// seconds, not at the end of the join's wait.
const crashLoop = 3

// unitTrouble reads `systemctl show edgelet`: "" while it runs (or has
// restarted fewer than crashLoop times since it was started), "token" when
// it stopped on a rejected join token, or what went wrong.
func unitTrouble(f map[string]string) string {
	if f["ActiveState"] == "failed" {
		if f["ExecMainStatus"] == "3" {
			return "token"
		}
		return fmt.Sprintf("failed (exit status %s)", f["ExecMainStatus"])
	}
	// NRestarts counts the automatic restarts since the last start by hand
	// (systemctl start or restart, as the install does).
	if n, err := strconv.Atoi(f["NRestarts"]); err == nil && n >= crashLoop {
		return fmt.Sprintf("is restarting in a loop (%d restarts, the last exit status %s)", n, f["ExecMainStatus"])
	}
	return ""
}
