package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	nodev1 "github.com/edgectl/edgectl/pkg/apis/node/v1alpha1"
)

// nodeLogCommands are collected from every server and agent (file -> command).
func nodeLogCommands() map[string][]string {
	return map[string][]string{
		"journal.log":         {"journalctl", "--no-pager", "-o", "short-precise"},
		"edgelet.log":         {"journalctl", "--no-pager", "-u", "edgelet", "-o", "short-precise"},
		"containerd.log":      {"cat", nodev1.ContainerdLogPath(nodev1.DefaultDataDir)},
		"systemd-units.txt":   {"systemctl", "list-units", "--all", "--no-pager"},
		"edgelet-config.yaml": {"cat", nodev1.DefaultConfigPath},
		"mounts.txt":          {"cat", "/proc/mounts"},
		"iptables.txt":        {"iptables-save"},
		"pods.txt":            {"kubectl", "get", "pods", "-A", "-o", "wide"},
		"nodes.txt":           {"kubectl", "get", "nodes", "-o", "wide"},
	}
}

// ExportLogs writes each node's container log and in-node logs under dir
// ("" = a new temp dir) and returns the directory.
func (p *Provider) ExportLogs(ctx context.Context, cluster, dir string) (string, error) {
	if dir == "" {
		d, err := os.MkdirTemp("", "edgectl-logs-"+cluster+"-")
		if err != nil {
			return "", err
		}
		dir = d
	}
	nodes, err := p.Nodes(ctx, cluster)
	if err != nil {
		return "", err
	}
	for _, n := range nodes {
		nd := filepath.Join(dir, n.Name)
		if err := os.MkdirAll(nd, 0o755); err != nil {
			return "", err
		}
		var buf bytes.Buffer
		_ = p.rt.Logs(ctx, n.Name, &buf)
		_ = os.WriteFile(filepath.Join(nd, "container.log"), buf.Bytes(), 0o644)
		if n.State != "running" || n.Role == RoleLoadBalancer {
			continue
		}
		for file, cmd := range nodeLogCommands() {
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			res, err := p.rt.Exec(cctx, n.Name, cmd, nil)
			cancel()
			out := res.Stdout + res.Stderr
			if err != nil {
				out += fmt.Sprintf("\n(edgectl: %v)\n", err)
			}
			_ = os.WriteFile(filepath.Join(nd, file), []byte(out), 0o644)
		}
	}
	return dir, nil
}

// failWithLogs exports logs after a failed wait and adds their place to err.
func (p *Provider) failWithLogs(ctx context.Context, cluster, dir string, err error) error {
	if errors.Is(err, context.Canceled) {
		return err // the user interrupted: nothing to debug
	}
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	out, lerr := p.ExportLogs(lctx, cluster, dir)
	if lerr != nil {
		return fmt.Errorf("%w (exporting node logs failed too: %v)", err, lerr)
	}
	return fmt.Errorf("%w; node logs are in %s", err, out)
}
