package nodeimage

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// skipDirs are parts of the source tree that never reach the node image.
// hack holds modules of their own that a module zip of edgectl leaves out,
// so a source tree from the module proxy hashes as its checkout does.
var skipDirs = map[string]bool{".git": true, "docs": true, "tests": true, "bin": true, ".ci": true, "_output": true, "hack": true}

// edgectlOnly are packages of edgectl that no program of the node image or
// the bundle is built from (TestEdgectlOnly checks it against go list): a
// change there is not a new edgelet version, so promote does not roll the
// nodes for it.
var edgectlOnly = []string{
	"cmd/edgectl", "pkg/cmd", "pkg/bench", "pkg/promote", "pkg/chartci", "pkg/cluster", "pkg/board",
	"pkg/registry", "pkg/apis/config", "internal/cli", "internal/remote", "internal/sshaddr",
	"internal/hostport", "internal/runtime", "internal/errors",
}

// sourceFiles lists, relative to root, the files whose content decides the
// node image: Go sources (not tests, not edgectl's own), module files, and
// node-image/.
func sourceFiles(root string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			if (skipDirs[d.Name()] && rel != ".") || slices.Contains(edgectlOnly, filepath.ToSlash(rel)) {
				return filepath.SkipDir
			}
			return nil
		}
		name := d.Name()
		switch {
		case strings.HasSuffix(name, "_test.go"):
		case strings.HasSuffix(name, ".go"), name == "go.mod", name == "go.sum",
			strings.HasPrefix(rel, "node-image"+string(filepath.Separator)),
			strings.HasPrefix(rel, filepath.Join("pkg", "edgelet")+string(filepath.Separator)):
			files = append(files, rel)
		}
		return nil
	})
	sort.Strings(files)
	return files, err
}

// inputsHash is the cache key of a whole build: every source file's path and
// content, plus the build settings that change the result.
func inputsHash(root string, settings ...string) (string, error) {
	files, err := sourceFiles(root)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, s := range settings {
		fmt.Fprintf(h, "setting %s\n", s)
	}
	for _, f := range files {
		if err := hashFile(h, root, f); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:32], nil
}

func hashFile(h io.Writer, root, rel string) error {
	f, err := os.Open(filepath.Join(root, rel))
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	fmt.Fprintf(h, "file %s %o %d\n", filepath.ToSlash(rel), fi.Mode().Perm()&0o111, fi.Size())
	_, err = io.Copy(h, f)
	return err
}

// hashStrings hashes a list of strings (the rootfs cache key).
func hashStrings(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s\n", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}
