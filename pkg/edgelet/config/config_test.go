package config

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	nodev1 "github.com/edgectl/edgectl/pkg/apis/node/v1alpha1"
)

func TestFromNodeReadsTheTokenFile(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("E1abc::id.secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	nc := &nodev1.NodeConfig{Role: nodev1.RoleAgent, Token: "ignored", TokenFile: tokenFile, NodeName: "a0",
		Labels: map[string]string{"b": "2", "a": "1"}, Args: nodev1.ComponentArgs{Kubelet: []string{"max-pods=33"}, APIServer: []string{"v=2"}},
		Datastore: nodev1.Datastore{ClusterInit: true}}
	nodev1.SetDefaults(nc)
	cfg, err := FromNode(nc)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Token != "E1abc::id.secret" || !slices.Equal(cfg.NodeLabels, []string{"a=1", "b=2"}) || !slices.Equal(cfg.KubeletArgs, []string{"max-pods=33"}) ||
		!slices.Equal(cfg.APIServerArgs, []string{"v=2"}) || !cfg.ClusterInit || cfg.HTTPSPort != 6443 || cfg.DataDir != DefaultDataDir {
		t.Errorf("config: %+v", cfg)
	}
	nc.TokenFile = filepath.Join(t.TempDir(), "missing")
	if _, err := FromNode(nc); err == nil {
		t.Error("a missing token file was accepted")
	}
}

func TestCompleteAndNthIP(t *testing.T) {
	a := &Agent{NodeIP: "10.0.0.5", ServiceCIDR: "10.43.0.0/16"}
	if err := a.Complete(); err != nil {
		t.Fatal(err)
	}
	if a.ClusterDNS != "10.43.0.10" || a.NodeName == "" {
		t.Errorf("completed: %+v", a)
	}
	if ip, err := NthIP("10.96.0.0/12", 1); err != nil || ip != "10.96.0.1" {
		t.Errorf("NthIP = %s %v", ip, err)
	}
	if _, err := NthIP("fd00::/64", 1); err == nil {
		t.Error("IPv6 accepted")
	}
	if a.TLSDir() != filepath.Join(a.DataDir, "server", "tls") {
		t.Error(a.TLSDir())
	}
}
