package nodeimage

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestContainerdVersionMatchesGoMod(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "images", "nodetools", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*github.com/containerd/containerd/v2 (v\S+)`).FindSubmatch(data)
	if m == nil || string(m[1]) != ContainerdVersion {
		t.Errorf("images/nodetools/go.mod has containerd %s; ContainerdVersion is %s", m, ContainerdVersion)
	}
}

func TestGoBuildArgs(t *testing.T) {
	var containerd goBuild
	for _, b := range builds("dev", false) {
		if strings.Contains(strings.Join(b.Packages, " "), "cmd/containerd") {
			containerd = b
		}
	}
	args := strings.Join(goBuildArgs(containerd, "/out"), " ")
	for _, want := range []string{"-o /out/node/", "-tags no_btrfs", "version.Version=" + ContainerdVersion, "-s -w"} {
		if !strings.Contains(args, want) {
			t.Errorf("containerd build lacks %q: %s", want, args)
		}
	}
}
