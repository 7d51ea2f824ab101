// Package sysimage builds the small system images a node needs offline
// (pause, CoreDNS, the e2e echo workload) from static binaries, as image
// tarballs written with go-containerregistry: no registry and no container
// engine is involved, and the same inputs give the same bytes.
package sysimage

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/edgectl/edgectl/internal/archive"
)

// Spec describes a single-layer image.
type Spec struct {
	Ref        string            // e.g. ghcr.io/edgectl/pause:3.10
	Aliases    []string          // more names of the same image, e.g. the upstream one
	Arch       string            // amd64, arm64
	Files      map[string]string // path in the image -> file on the host
	Entrypoint []string
	Env        []string
	Labels     map[string]string
	User       string
}

// Build returns the image for spec.
func Build(s Spec) (v1.Image, error) {
	layerTar, err := tarFiles(s.Files)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	})
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = s.Arch, "linux"
	cf.Config.Entrypoint = s.Entrypoint
	cf.Config.Env = append([]string{"PATH=/"}, s.Env...)
	cf.Config.Labels = s.Labels
	cf.Config.User = s.User
	return mutate.ConfigFile(img, cf)
}

// WriteTarball builds spec and writes it to dst as an image archive that
// `ctr images import` and `docker load` both read.
func WriteTarball(dst string, s Spec) error {
	img, err := Build(s)
	if err != nil {
		return fmt.Errorf("build image %s: %w", s.Ref, err)
	}
	refs := map[name.Reference]v1.Image{}
	for _, r := range append([]string{s.Ref}, s.Aliases...) {
		ref, err := name.ParseReference(r)
		if err != nil {
			return fmt.Errorf("image reference %q: %w", r, err)
		}
		refs[ref] = img
	}
	tmp := dst + ".tmp"
	if err := tarball.MultiRefWriteToFile(tmp, refs); err != nil {
		return fmt.Errorf("write image %s: %w", s.Ref, err)
	}
	return os.Rename(tmp, dst)
}

// tarFiles makes a layer holding the files (mode 0755).
func tarFiles(files map[string]string) ([]byte, error) {
	entries := make([]archive.Entry, 0, len(files))
	for p, src := range files {
		entries = append(entries, archive.Entry{Path: p, Source: src, Mode: 0o755})
	}
	var buf bytes.Buffer
	err := archive.Write(&buf, entries)
	return buf.Bytes(), err
}
