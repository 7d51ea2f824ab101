package nodeimage

import (
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/edgectl/edgectl/internal/ocitar"
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
	return ocitar.Write(dst, ocitar.Named{Ref: ref.String(), Images: images})
}
