package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteMirrors(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "old.example.com")
	if err := os.MkdirAll(stale, 0o755); err != nil {
		t.Fatal(err)
	}
	mirrors := map[string]string{"docker.io": "http://edgectl-registry-cache:5000", "localhost:5001": "http://edgectl-registry-cache:5000"}
	if err := writeMirrors(dir, mirrors, map[string]string{"docker.io": "https://registry-1.docker.io"}, ""); err != nil {
		t.Fatal(err)
	}
	for host := range mirrors {
		data, err := os.ReadFile(filepath.Join(dir, host, "hosts.toml"))
		if err != nil || !strings.Contains(string(data), `[host."http://edgectl-registry-cache:5000"]`) || strings.Contains(string(data), "server =") != (host == "docker.io") {
			t.Errorf("%s: %s %v", host, data, err)
		}
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("a host no mirror names was kept: %v", err)
	}
	if err := writeMirrors(dir, nil, nil, ""); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("no mirrors left %d entries", len(entries))
	}
}
