package sysimage

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Every name of an image is in the archive, with the architecture set in the
// image config (docker import cannot be trusted with it).
func TestWriteTarballWithAliases(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "pause")
	if err := os.WriteFile(bin, []byte("#!/bin/true\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "pause.tar")
	err := WriteTarball(dst, Spec{Ref: "ghcr.io/edgectl/pause:3.10", Aliases: []string{"registry.k8s.io/pause:3.10.1"},
		Arch: "arm64", Files: map[string]string{"/pause": bin}, Entrypoint: []string{"/pause"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"ghcr.io/edgectl/pause:3.10", "registry.k8s.io/pause:3.10.1"} {
		tag, _ := name.NewTag(ref)
		img, err := tarball.ImageFromPath(dst, &tag)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		cf, err := img.ConfigFile()
		if err != nil || cf.Architecture != "arm64" || cf.Config.Entrypoint[0] != "/pause" {
			t.Errorf("%s: config %+v %v", ref, cf, err)
		}
	}
}
