package nodeimage

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
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

// TestEdgectlOnly: no package that edgelet or a system image is built from
// is left out of the build inputs' hash.
func TestEdgectlOnly(t *testing.T) {
	const module = "github.com/edgectl/edgectl/"
	for _, tags := range [][]string{EdgeletTags, append(slices.Clone(EdgeletTags), AgentTag)} {
		cmd := exec.Command("go", "list", "-deps", "-tags", strings.Join(tags, ","), "./cmd/edgelet", "./images/pause", "./images/echo")
		cmd.Dir = filepath.Join("..", "..", "..")
		cmd.Env = append(os.Environ(), "GOOS=linux")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list: %v", err)
		}
		for _, pkg := range strings.Fields(string(out)) {
			rel, ok := strings.CutPrefix(pkg, module)
			if !ok {
				continue
			}
			for _, skip := range edgectlOnly {
				if rel == skip || strings.HasPrefix(rel, skip+"/") {
					t.Errorf("edgelet (tags %v) is built from %s, which the build inputs leave out (edgectlOnly)", tags, pkg)
				}
			}
		}
	}
}
