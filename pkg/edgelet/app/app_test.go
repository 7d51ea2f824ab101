package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	nodev1 "github.com/edgectl/edgectl/pkg/apis/node/v1alpha1"
)

func flagsOf(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	(&nodev1.NodeConfig{}).AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs
}

func TestLoadNodeConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	write := func(body string) {
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("role: agent\nserver: https://10.0.0.2:6443\ntoken: t\nnodeIP: 10.0.0.5\n")
	nc, err := loadNodeConfig(path, nodev1.RoleAgent, flagsOf(t, "--node-ip=10.0.0.9"))
	if err != nil {
		t.Fatal(err)
	}
	if nc.NodeIP != "10.0.0.9" || nc.Server != "https://10.0.0.2:6443" || nc.ClusterCIDR != nodev1.DefaultClusterCIDR {
		t.Errorf("merged config: %+v", nc)
	}
	if _, err := loadNodeConfig(path, nodev1.RoleServer, flagsOf(t)); err == nil || !strings.Contains(err.Error(), "edgelet server") {
		t.Errorf("a role mismatch: %v", err)
	}
	write("role: agent\nmaxPods: 3\n")
	if _, err := loadNodeConfig(path, nodev1.RoleAgent, flagsOf(t)); err == nil || !strings.Contains(err.Error(), `unknown field "maxPods"`) || !strings.Contains(err.Error(), path) {
		t.Errorf("unknown field: %v", err)
	}
	write("role: agent\n")
	if _, err := loadNodeConfig(path, nodev1.RoleAgent, flagsOf(t)); err == nil || !strings.Contains(err.Error(), "server:") {
		t.Errorf("an agent without a server: %v", err)
	}
}
