// Package modproxy writes a Go module proxy as plain files, in the layout
// that GOPROXY=file://DIR serves: MODULE/@v/list and VERSION.info, .mod
// and .zip. Tests use it to serve edgectl's own modules with no network.
package modproxy

import (
	"archive/zip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

// FromGit adds path@version, made of the files committed at revision in
// subdir of the git repository repo (what a tag of it would publish).
func FromGit(proxy, path, version, repo, revision, subdir string) error {
	return add(proxy, module.Version{Path: path, Version: version}, func(w io.Writer, m module.Version) error {
		return modzip.CreateFromVCS(w, m, repo, revision, subdir)
	})
}

// FromDir adds path@version, made of the files in dir.
func FromDir(proxy, path, version, dir string) error {
	return add(proxy, module.Version{Path: path, Version: version}, func(w io.Writer, m module.Version) error {
		return modzip.CreateFromDir(w, m, dir)
	})
}

func add(proxy string, m module.Version, create func(io.Writer, module.Version) error) error {
	escPath, err := module.EscapePath(m.Path)
	if err != nil {
		return err
	}
	escVersion, err := module.EscapeVersion(m.Version)
	if err != nil {
		return err
	}
	dir := filepath.Join(proxy, filepath.FromSlash(escPath), "@v")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	base := filepath.Join(dir, escVersion)
	f, err := os.Create(base + ".zip")
	if err != nil {
		return err
	}
	if err := create(f, m); err != nil {
		f.Close()
		return fmt.Errorf("zip %s: %w", m, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	gomod, err := zipFile(base+".zip", m.String()+"/go.mod")
	if err != nil {
		return err
	}
	if err := os.WriteFile(base+".mod", gomod, 0o644); err != nil {
		return err
	}
	info, err := json.Marshal(struct{ Version, Time string }{m.Version, time.Now().UTC().Format(time.RFC3339)})
	if err != nil {
		return err
	}
	if err := os.WriteFile(base+".info", info, 0o644); err != nil {
		return err
	}
	list := filepath.Join(dir, "list")
	data, err := os.ReadFile(list)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	versions := strings.Fields(string(data))
	if !slices.Contains(versions, m.Version) {
		versions = append(versions, m.Version)
	}
	return os.WriteFile(list, []byte(strings.Join(versions, "\n")+"\n"), 0o644)
}

// zipFile is the content of name in the zip archive file.
func zipFile(file, name string) ([]byte, error) {
	zr, err := zip.OpenReader(file)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	f, err := zr.Open(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	defer f.Close()
	return io.ReadAll(f)
}
