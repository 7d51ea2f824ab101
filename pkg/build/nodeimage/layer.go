package nodeimage

import (
	"archive/tar"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// entry is one file of the overlay layer.
type entry struct {
	Path   string // absolute path in the image
	Source string // file on the host (empty for directories and links)
	Mode   fs.FileMode
	Link   string // symlink target
	IsDir  bool
}

// writeLayer writes entries as a tar file with fixed timestamps and owners,
// so the layer digest only depends on content.
func writeLayer(dst string, entries []entry) error {
	sort.Slice(entries, func(i, j int) bool { return entries[i].Path < entries[j].Path })
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	epoch := time.Unix(0, 0)
	dirs := map[string]bool{}
	var addDirs func(p string) error
	addDirs = func(p string) error {
		d := filepath.Dir(p)
		if d == "/" || dirs[d] {
			return nil
		}
		if err := addDirs(d); err != nil {
			return err
		}
		dirs[d] = true
		return tw.WriteHeader(&tar.Header{Name: d[1:] + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: epoch})
	}
	for _, e := range entries {
		if err := addDirs(e.Path); err != nil {
			return err
		}
		hdr := &tar.Header{Name: e.Path[1:], Mode: int64(e.Mode.Perm()), ModTime: epoch}
		switch {
		case e.IsDir:
			if dirs[e.Path] {
				continue
			}
			dirs[e.Path] = true
			hdr.Typeflag, hdr.Name = tar.TypeDir, hdr.Name+"/"
		case e.Link != "":
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, e.Link
		default:
			fi, err := os.Stat(e.Source)
			if err != nil {
				return err
			}
			hdr.Typeflag, hdr.Size = tar.TypeReg, fi.Size()
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if hdr.Typeflag == tar.TypeReg {
			src, err := os.Open(e.Source)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, src)
			src.Close()
			if err != nil {
				return err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return f.Close()
}

// treeEntries lists the files under dir as entries rooted at "/".
func treeEntries(dir string) ([]entry, error) {
	var out []entry
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		e := entry{Path: "/" + filepath.ToSlash(rel), Mode: info.Mode()}
		switch {
		case d.IsDir():
			e.IsDir = true
		case info.Mode()&fs.ModeSymlink != 0:
			if e.Link, err = os.Readlink(p); err != nil {
				return err
			}
		default:
			e.Source = p
		}
		out = append(out, e)
		return nil
	})
	return out, err
}
