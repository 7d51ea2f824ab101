package nodeimage

import (
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/edgectl/edgectl/internal/archive"
)

// compressedSize is the bytes of img's layers gzipped, as a registry or an
// OCI layout stores them (a tarball layer knows it once its digest is).
func compressedSize(img v1.Image) (int64, error) {
	layers, err := img.Layers()
	if err != nil {
		return 0, err
	}
	var total int64
	for _, l := range layers {
		n, err := l.Size()
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// WriteOCITar writes images as a tarball of an OCI image layout named ref:
// one image as it is, several as one index with each image's platform.
func WriteOCITar(dst string, ref name.Tag, images []v1.Image) error {
	dir, err := os.MkdirTemp("", "edgectl-oci-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	named := layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": ref.String()})
	if len(images) == 1 {
		err = p.AppendImage(images[0], named)
	} else {
		var index v1.ImageIndex
		if index, err = platformIndex(images); err == nil {
			err = p.AppendIndex(index, named)
		}
	}
	if err != nil {
		return err
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

// platformIndex is an OCI index of images, each under its config's platform.
func platformIndex(images []v1.Image) (v1.ImageIndex, error) {
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
