package nodeimage

import (
	"io"

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

// ImageSizes are the bytes of img's layers, as tar (what the engine
// unpacks) and gzipped (what a pull downloads).
func ImageSizes(img v1.Image) (uncompressed, compressed int64, err error) {
	layers, err := img.Layers()
	if err != nil {
		return 0, 0, err
	}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			return 0, 0, err
		}
		n, err := io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			return 0, 0, err
		}
		uncompressed += n
	}
	compressed, err = compressedSize(img)
	return uncompressed, compressed, err
}
