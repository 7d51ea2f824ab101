package nodeimage

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/mod/semver"
)

// NestedModules are the modules inside edgectl's repository that a node
// image build compiles (the ModuleDirs of its builds), by directory. A
// module zip leaves them out, so a source tree made from the module proxy
// fetches each one at the same version (tagged DIR/VERSION, as Go's
// multi-module repositories are).
func NestedModules() []string {
	var dirs []string
	for _, g := range builds("", true) {
		if g.ModuleDir != "." && !slices.Contains(dirs, g.ModuleDir) {
			dirs = append(dirs, g.ModuleDir)
		}
	}
	return dirs
}

// moduleSourceMarker is written last into a source tree made from the
// module proxy: a tree without it is incomplete.
const moduleSourceMarker = ".edgectl-module-source"

// ModuleSource makes edgectl's source tree at version (a release's
// semantic version) in dir from the Go module proxy, as `go mod download`
// reads it (GOPROXY, GONOSUMDB, GOFLAGS): the main module and each of
// NestedModules in its directory. A tree made before is reused.
func ModuleSource(ctx context.Context, version, dir string) error {
	if !semver.IsValid(version) {
		return fmt.Errorf("%q is not a release version: there is no module of it to fetch", version)
	}
	if _, err := os.Stat(filepath.Join(dir, moduleSourceMarker)); err == nil {
		return nil
	}
	if _, err := exec.LookPath("go"); err != nil {
		return fmt.Errorf("fetching edgectl's source needs Go (https://go.dev/dl): %w", err)
	}
	work := dir + ".tmp"
	_ = os.RemoveAll(work)
	defer os.RemoveAll(work)
	for _, sub := range append([]string{""}, NestedModules()...) {
		mod := ModulePath
		if sub != "" {
			mod += "/" + sub
		}
		src, err := downloadModule(ctx, mod, version)
		if err != nil {
			return err
		}
		if err := copyTree(src, filepath.Join(work, sub)); err != nil {
			return fmt.Errorf("copy %s@%s: %w", mod, version, err)
		}
	}
	if err := os.WriteFile(filepath.Join(work, moduleSourceMarker), []byte(version+"\n"), 0o644); err != nil {
		return err
	}
	_ = os.RemoveAll(dir)
	return os.Rename(work, dir)
}

// moduleSourceVersion is the version of a source tree that ModuleSource
// made, or "" for any other tree (a checkout).
func moduleSourceVersion(dir string) string {
	data, err := os.ReadFile(filepath.Join(dir, moduleSourceMarker))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

// downloadModule fetches mod@version into the module cache and returns
// its directory there.
func downloadModule(ctx context.Context, mod, version string) (string, error) {
	tmp, err := os.MkdirTemp("", "edgectl-mod-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", mod+"@"+version)
	cmd.Dir = tmp // outside any module
	cmd.Env = append(os.Environ(), "GO111MODULE=on", "GOFLAGS=-mod=mod")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(stdout.Bytes(), &info); err != nil && runErr == nil {
		return "", fmt.Errorf("go mod download %s@%s: %w", mod, version, err)
	}
	switch {
	case info.Error != "":
		return "", fmt.Errorf("fetch %s@%s from the module proxy: %s", mod, version, info.Error)
	case runErr != nil:
		return "", fmt.Errorf("fetch %s@%s from the module proxy: %v %s", mod, version, runErr, strings.TrimSpace(stderr.String()))
	case info.Dir == "":
		return "", fmt.Errorf("go mod download %s@%s named no directory", mod, version)
	}
	return info.Dir, nil
}

// copyTree copies the regular files and directories under src into dst,
// writable (the module cache's are read-only). A module zip keeps no file
// modes, so a file that starts with "#!" is made executable again, as it
// is in the repository (node-image's entrypoint and scripts).
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if bytes.HasPrefix(data, []byte("#!")) {
			mode = 0o755
		}
		return os.WriteFile(target, data, mode)
	})
}
