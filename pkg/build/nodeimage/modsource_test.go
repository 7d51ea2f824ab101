package nodeimage

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgectl/edgectl/internal/modproxy"
)

// TestModuleSource makes a source tree from a file-based module proxy that
// serves a small edgectl module and its nested modules: the tree has each
// module in its directory, scripts executable again, and the same build
// inputs hash as the tree it was published from.
func TestModuleSource(t *testing.T) {
	const version = "v0.0.0-unit"
	src, proxy := t.TempDir(), t.TempDir()
	write := func(rel, content string, mode os.FileMode) {
		t.Helper()
		p := filepath.Join(src, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module "+ModulePath+"\n\ngo 1.25\n", 0o644)
	write("cmd/edgelet/main.go", "package main\n\nfunc main() {}\n", 0o644)
	write("node-image/files/usr/local/bin/entrypoint", "#!/bin/sh\nexec \"$@\"\n", 0o755)
	write("node-image/packages.txt", "iptables\n", 0o644)
	write("hack/tools/go.mod", "module "+ModulePath+"/hack/tools\n\ngo 1.25\n", 0o644)
	write("hack/tools/tools.go", "package tools\n", 0o644)
	nested := NestedModules()
	if len(nested) < 3 {
		t.Fatalf("nested modules %v: the builds compile nodetools, coredns and registry", nested)
	}
	for _, sub := range nested {
		write(sub+"/go.mod", "module "+ModulePath+"/"+sub+"\n\ngo 1.25\n", 0o644)
		write(sub+"/main.go", "package main\n\nfunc main() {}\n", 0o644)
		if err := modproxy.FromDir(proxy, ModulePath+"/"+sub, version, filepath.Join(src, sub)); err != nil {
			t.Fatal(err)
		}
	}
	if err := modproxy.FromDir(proxy, ModulePath, version, src); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOPROXY", "file://"+proxy)
	t.Setenv("GONOSUMDB", ModulePath)
	t.Setenv("GOMODCACHE", t.TempDir())
	t.Setenv("GOFLAGS", "-modcacherw") // so that the temporary module cache can be removed
	ctx := context.Background()

	dir := filepath.Join(t.TempDir(), "source-"+version)
	if err := ModuleSource(ctx, version, dir); err != nil {
		t.Fatal(err)
	}
	for _, sub := range append([]string{"."}, nested...) {
		if _, err := os.Stat(filepath.Join(dir, sub, "main.go")); err != nil && sub != "." {
			t.Errorf("nested module %s is not in the tree: %v", sub, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "cmd", "edgelet", "main.go")); err != nil {
		t.Errorf("the main module is not in the tree: %v", err)
	}
	if st, err := os.Stat(filepath.Join(dir, "node-image", "files", "usr", "local", "bin", "entrypoint")); err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("entrypoint: %v %v, want mode 0755 (a module zip keeps no modes)", st, err)
	}
	if st, err := os.Stat(filepath.Join(dir, "node-image", "packages.txt")); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("packages.txt: %v %v, want mode 0644", st, err)
	}
	if got := moduleSourceVersion(dir); got != version {
		t.Errorf("moduleSourceVersion = %q, want %s", got, version)
	}
	if moduleSourceVersion(src) != "" {
		t.Error("a checkout counts as a module source tree")
	}
	want, err := inputsHash(src, "k")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := inputsHash(dir, "k"); err != nil || got != want {
		t.Errorf("inputs hash of the module source %s (%v), of its checkout %s", got, err, want)
	}

	// Made once: a second call reads nothing from the proxy.
	t.Setenv("GOPROXY", "off")
	if err := ModuleSource(ctx, version, dir); err != nil {
		t.Errorf("the second ModuleSource did not reuse the tree: %v", err)
	}
	for _, c := range []struct{ version, want string }{
		{"v0.0.0-missing", "fetch " + ModulePath + "@v0.0.0-missing from the module proxy"},
		{"dev", `"dev" is not a release version`},
	} {
		err := ModuleSource(ctx, c.version, filepath.Join(t.TempDir(), "x"))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ModuleSource(%s) = %v, want %q", c.version, err, c.want)
		}
	}
}
