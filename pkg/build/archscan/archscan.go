// Package archscan checks that an image, or a bundle, holds nothing of
// another architecture: every ELF file's machine, and the config of every
// image stored inside it (the node image's offline system images), must be
// the architecture it is built for. A wrong one would only show on a board,
// as "exec format error".
package archscan

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// machines are the ELF machines of the GOARCHes edgectl builds for.
var machines = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

// Report is what a scan found.
type Report struct {
	ELFFiles int // ELF files looked at, in every layer and stored image
	Images   int // images stored inside, looked at
	// Wrong lists each file or stored image of another architecture, as
	// "WHERE: MACHINE".
	Wrong []string
}

// Image scans a `docker save` archive of one image.
func Image(archivePath, arch string) (*Report, error) {
	img, err := tarball.ImageFromPath(archivePath, nil)
	if err != nil {
		return nil, err
	}
	r := &Report{}
	return r, r.image(img, arch, "")
}

// Tar scans a plain tarball (a bundle), and the images stored in it.
func Tar(rd io.Reader, arch string) (*Report, error) {
	r := &Report{}
	return r, r.tar(rd, arch, "")
}

// image checks img's config and scans its layers; where names it for the
// report ("" for the top image).
func (r *Report) image(img v1.Image, arch, where string) error {
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	if cf.Architecture != arch {
		r.Wrong = append(r.Wrong, fmt.Sprintf("%simage config: %s", where, cf.Architecture))
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	for i, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			return err
		}
		err = r.tar(rc, arch, fmt.Sprintf("%slayer %d: ", where, i))
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// tar scans every regular file of a tar stream: ELF files by their header,
// and image tarballs (*.tar holding a manifest.json) as stored images.
func (r *Report) tar(rd io.Reader, arch, where string) error {
	want, ok := machines[arch]
	if !ok {
		return fmt.Errorf("architecture %q: must be amd64 or arm64", arch)
	}
	tr := tar.NewReader(rd)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%sread tar: %w", where, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name := where + path.Clean("/"+h.Name)
		if strings.HasSuffix(h.Name, ".tar") {
			if err := r.storedImage(tr, h.Size, arch, name); err != nil {
				return err
			}
			continue
		}
		head := make([]byte, 20)
		n, _ := io.ReadFull(tr, head)
		if n < 20 || !bytes.HasPrefix(head, []byte(elf.ELFMAG)) {
			continue
		}
		r.ELFFiles++
		var m elf.Machine
		switch elf.Data(head[elf.EI_DATA]) {
		case elf.ELFDATA2LSB:
			m = elf.Machine(uint16(head[18]) | uint16(head[19])<<8)
		default:
			m = elf.Machine(uint16(head[18])<<8 | uint16(head[19]))
		}
		if m != want {
			r.Wrong = append(r.Wrong, fmt.Sprintf("%s: %s", name, m))
		}
	}
}

// storedImage scans an image tarball found inside another tar. It is
// spooled to a file, since an image tarball is read out of order.
func (r *Report) storedImage(rd io.Reader, size int64, arch, where string) error {
	f, err := os.CreateTemp("", "archscan-*.tar")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := io.CopyN(f, rd, size); err != nil {
		return err
	}
	img, err := tarball.ImageFromPath(f.Name(), nil)
	if err != nil {
		return nil // a tarball that is not an image: nothing to check
	}
	r.Images++
	return r.image(img, arch, where+" ")
}
