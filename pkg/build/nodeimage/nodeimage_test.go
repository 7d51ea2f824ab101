package nodeimage

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/edgectl/edgectl/pkg/build/sysimage"
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

// Several platforms go into one OCI layout as one named index whose
// manifests carry their platforms; one platform stays one image.
func TestWriteOCITarIndex(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "f")
	if err := os.WriteFile(bin, []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	var images []v1.Image
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := sysimage.Build(sysimage.Spec{Arch: arch, Files: map[string]string{"/f": bin}})
		if err != nil {
			t.Fatal(err)
		}
		images = append(images, img)
	}
	ref := name.MustParseReference("example.com/node:v1").(name.Tag)
	for n, want := range map[int]types.MediaType{1: types.DockerManifestSchema2, 2: types.OCIImageIndex} {
		file := filepath.Join(dir, "out.tar")
		if err := WriteOCITar(file, ref, images[:n]); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, "layout", string(rune('0'+n)))
		if err := os.MkdirAll(out, 0o755); err != nil {
			t.Fatal(err)
		}
		if b, err := exec.Command("tar", "-xf", file, "-C", out).CombinedOutput(); err != nil {
			t.Fatalf("untar: %v %s", err, b)
		}
		top, err := layout.ImageIndexFromPath(out)
		if err != nil {
			t.Fatal(err)
		}
		m, err := top.IndexManifest()
		if err != nil || len(m.Manifests) != 1 || m.Manifests[0].MediaType != want ||
			m.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != ref.String() {
			t.Fatalf("%d platform(s): index.json %+v (%v), want one %s named %s", n, m, err, want, ref)
		}
		if n == 1 {
			continue
		}
		child, err := top.ImageIndex(m.Manifests[0].Digest)
		if err != nil {
			t.Fatal(err)
		}
		cm, err := child.IndexManifest()
		if err != nil || len(cm.Manifests) != 2 {
			t.Fatalf("child index %+v %v", cm, err)
		}
		for i, arch := range []string{"amd64", "arm64"} {
			if p := cm.Manifests[i].Platform; p == nil || p.Architecture != arch || p.OS != "linux" {
				t.Errorf("manifest %d platform %+v, want linux/%s", i, p, arch)
			}
		}
	}
}
