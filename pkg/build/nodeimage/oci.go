package nodeimage

import (
	v1 "github.com/google/go-containerregistry/pkg/v1"
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
