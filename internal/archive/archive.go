// Package archive writes tar streams for image layers and for files copied
// into containers: entries in path order, parent directories first, fixed
// timestamps and owners, so the same entries always give the same bytes.
package archive

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Entry is one file, directory or symlink of an archive.
type Entry struct {
	Path   string      // absolute path in the archive ("/usr/bin/x")
	Mode   fs.FileMode // permission bits
	Data   []byte      // content, or
	Source string      // a host file to copy the content from
	Link   string      // symlink target
	IsDir  bool
}

// Write writes entries as a tar stream to w.
func Write(w io.Writer, entries []Entry) error {
	sorted := append([]Entry(nil), entries...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	tw := tar.NewWriter(w)
	epoch := time.Unix(0, 0)
	dirs := map[string]bool{}
	var addDirs func(p string) error
	addDirs = func(p string) error {
		d := path.Dir(p)
		if d == "/" || d == "." || dirs[d] {
			return nil
		}
		if err := addDirs(d); err != nil {
			return err
		}
		dirs[d] = true
		return tw.WriteHeader(&tar.Header{Name: strings.TrimPrefix(d, "/") + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: epoch})
	}
	for _, e := range sorted {
		if err := addDirs(e.Path); err != nil {
			return err
		}
		hdr := &tar.Header{Name: strings.TrimPrefix(e.Path, "/"), Mode: int64(e.Mode.Perm()), ModTime: epoch}
		var content io.Reader
		switch {
		case e.IsDir:
			if dirs[e.Path] {
				continue
			}
			dirs[e.Path] = true
			hdr.Typeflag, hdr.Name = tar.TypeDir, hdr.Name+"/"
		case e.Link != "":
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, e.Link
		case e.Source != "":
			fi, err := os.Stat(e.Source)
			if err != nil {
				return err
			}
			hdr.Typeflag, hdr.Size = tar.TypeReg, fi.Size()
		default:
			hdr.Typeflag, hdr.Size, content = tar.TypeReg, int64(len(e.Data)), bytes.NewReader(e.Data)
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if e.Source != "" && hdr.Typeflag == tar.TypeReg {
			if err := copyFile(tw, e.Source); err != nil {
				return err
			}
		} else if content != nil {
			if _, err := io.Copy(tw, content); err != nil {
				return err
			}
		}
	}
	return tw.Close()
}

// WriteFile writes entries to a tar file at dst.
func WriteFile(dst string, entries []Entry) error {
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	if err := Write(f, entries); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Tree lists the files under dir as entries rooted at "/".
func Tree(dir string) ([]Entry, error) {
	var out []Entry
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		e := Entry{Path: "/" + filepath.ToSlash(rel), Mode: info.Mode()}
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

// copyFile appends a file's content to the archive, closing it at once (an
// image holds dozens of files).
func copyFile(w io.Writer, name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

// WriteGzipFile writes entries as a gzipped tar to dst, through a rename so
// that dst is never half written, and returns the tar's uncompressed size.
func WriteGzipFile(dst string, entries []Entry, level int) (int64, error) {
	tmp := dst + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp)
	zw, err := gzip.NewWriterLevel(f, level)
	if err != nil {
		f.Close()
		return 0, err
	}
	cw := &countingWriter{w: zw}
	err = Write(cw, entries)
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, err
	}
	return cw.n, os.Rename(tmp, dst)
}

// countingWriter counts what passes through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
