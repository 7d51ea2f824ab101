package ocitar

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/edgectl/edgectl/internal/archive"
	"github.com/edgectl/edgectl/pkg/build/sysimage"
)

// Several platforms go into one OCI layout as one named index whose
// manifests carry their platforms; one platform stays one image.
func TestWriteIndexAndForPlatform(t *testing.T) {
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
	const ref = "example.com/node:v1"
	for n, want := range map[int]types.MediaType{1: types.DockerManifestSchema2, 2: types.OCIImageIndex} {
		file := filepath.Join(dir, "out.tar")
		if err := Write(file, Named{Ref: ref, Images: images[:n]}); err != nil {
			t.Fatal(err)
		}
		top := readLayout(t, file)
		m, err := top.IndexManifest()
		if err != nil || len(m.Manifests) != 1 || m.Manifests[0].MediaType != want ||
			m.Manifests[0].Annotations[RefAnnotation] != ref {
			t.Fatalf("%d platform(s): index.json %+v (%v), want one %s named %s", n, m, err, want, ref)
		}
		if n == 1 {
			if err := ForPlatform(file, file+".arm64", "linux/arm64"); !errors.Is(err, ErrNotIndexed) {
				t.Errorf("ForPlatform of a one-image layout: %v, want ErrNotIndexed", err)
			}
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
		one := file + ".arm64"
		if err := ForPlatform(file, one, "linux/arm64"); err != nil {
			t.Fatal(err)
		}
		om, err := readLayout(t, one).IndexManifest()
		if err != nil || len(om.Manifests) != 1 || om.Manifests[0].MediaType.IsIndex() || om.Manifests[0].Annotations[RefAnnotation] != ref {
			t.Fatalf("ForPlatform: index.json %+v %v, want one image named %s", om, err, ref)
		}
		img, err := readLayout(t, one).Image(om.Manifests[0].Digest)
		if err != nil {
			t.Fatal(err)
		}
		if cf, err := img.ConfigFile(); err != nil || cf.Architecture != "arm64" {
			t.Errorf("ForPlatform picked %+v (%v), want the arm64 image", cf, err)
		}
		if err := ForPlatform(file, one, "linux/riscv64"); err == nil || !strings.Contains(err.Error(), "linux/amd64, linux/arm64") {
			t.Errorf("a platform the index lacks: %v", err)
		}
	}
}

func readLayout(t *testing.T, file string) v1.ImageIndex {
	t.Helper()
	out := t.TempDir()
	if err := archive.Extract(file, out, nil); err != nil {
		t.Fatal(err)
	}
	index, err := layout.ImageIndexFromPath(out)
	if err != nil {
		t.Fatal(err)
	}
	return index
}
