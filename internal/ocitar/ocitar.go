// Package ocitar writes and reads tarballs of OCI image layouts: one image
// per name, or an index of one image per platform, as `image build --output
// oci-tar` writes them and `image import --archive` reads them.
package ocitar

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/edgectl/edgectl/internal/archive"
)

// RefAnnotation names an image of a layout's index.json.
const RefAnnotation = "org.opencontainers.image.ref.name"

// Named is an image name and its images: one, or one per platform.
type Named struct {
	Ref    string
	Images []v1.Image
}

// Write writes a tarball of an OCI image layout to dst (through a rename):
// each name's image as it is, or an index of its images under each one's
// platform.
func Write(dst string, named ...Named) error {
	dir, err := os.MkdirTemp("", "edgectl-oci-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	for _, n := range named {
		ann := layout.WithAnnotations(map[string]string{RefAnnotation: n.Ref})
		if len(n.Images) == 1 {
			err = p.AppendImage(n.Images[0], ann)
		} else {
			var index v1.ImageIndex
			if index, err = PlatformIndex(n.Images); err == nil {
				err = p.AppendIndex(index, ann)
			}
		}
		if err != nil {
			return err
		}
	}
	entries, err := archive.Tree(dir)
	if err != nil {
		return err
	}
	tmp := dst + ".tmp"
	if err := archive.WriteFile(tmp, entries); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

// PlatformIndex is an OCI index of images, each under its config's platform.
func PlatformIndex(images []v1.Image) (v1.ImageIndex, error) {
	var adds []mutate.IndexAddendum
	for _, img := range images {
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, err
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
			Platform: &v1.Platform{OS: cf.OS, Architecture: cf.Architecture}}})
	}
	return mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...), nil
}

// ErrNotIndexed is returned by ForPlatform for an archive that is not an OCI
// layout with a per-platform index (a `docker save` archive, say).
var ErrNotIndexed = errors.New("not an OCI layout with a per-platform index")

// ForPlatform writes to dst the archive src with only platform's image of
// each name. A node's containerd that is not of the node's platform (the
// host's own, under emulation) would otherwise pick its own platform.
func ForPlatform(src, dst, platform string) error {
	if ok, err := hasIndex(src); err != nil || !ok {
		if err == nil {
			err = ErrNotIndexed
		}
		return err
	}
	dir, err := os.MkdirTemp("", "edgectl-oci-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := archive.Extract(src, dir, nil); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, "index.json")); err != nil {
		return ErrNotIndexed
	}
	top, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return err
	}
	m, err := top.IndexManifest()
	if err != nil {
		return err
	}
	var named []Named
	indexed := false
	for _, d := range m.Manifests {
		ref := d.Annotations[RefAnnotation]
		if !d.MediaType.IsIndex() {
			img, err := top.Image(d.Digest)
			if err != nil {
				return err
			}
			named = append(named, Named{Ref: ref, Images: []v1.Image{img}})
			continue
		}
		indexed = true
		child, err := top.ImageIndex(d.Digest)
		if err != nil {
			return err
		}
		img, err := ImageFor(child, platform)
		if err != nil {
			return fmt.Errorf("%s: %w", ref, err)
		}
		named = append(named, Named{Ref: ref, Images: []v1.Image{img}})
	}
	if !indexed {
		return ErrNotIndexed
	}
	return Write(dst, named...)
}

// ErrNoPlatform is an index without an image of the platform asked for.
var ErrNoPlatform = errors.New("no image for the platform")

// ImageFor is index's image of platform ("os/arch"); without one, an
// ErrNoPlatform that lists the platforms it has.
func ImageFor(index v1.ImageIndex, platform string) (v1.Image, error) {
	m, err := index.IndexManifest()
	if err != nil {
		return nil, err
	}
	var have []string
	for _, d := range m.Manifests {
		if d.Platform == nil {
			continue
		}
		pf := d.Platform.OS + "/" + d.Platform.Architecture
		if pf == platform {
			return index.Image(d.Digest)
		}
		have = append(have, pf)
	}
	return nil, fmt.Errorf("%w %s (it has %s)", ErrNoPlatform, platform, strings.Join(have, ", "))
}

// hasIndex tells whether the tarball has an index.json, reading headers
// only (tar seeks past the content of a file).
func hasIndex(src string) (bool, error) {
	f, err := os.Open(src)
	if err != nil {
		return false, err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("%s: %w", src, err)
		}
		if filepath.Clean(h.Name) == "index.json" {
			return true, nil
		}
	}
}
