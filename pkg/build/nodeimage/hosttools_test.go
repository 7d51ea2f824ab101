package nodeimage

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgectl/edgectl/pkg/board"
)

// resolveIn follows a rootfs's symlinks as if it were /: relative ones,
// absolute ones (which must not leave the root) and directory links such
// as merged /usr's lib -> usr/lib.
func TestResolveIn(t *testing.T) {
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "usr/lib/x86_64-linux-gnu"), 0o755))
	must(os.WriteFile(filepath.Join(root, "usr/lib/x86_64-linux-gnu/libmnl.so.0.2.0"), []byte("x"), 0o644))
	must(os.Symlink("libmnl.so.0.2.0", filepath.Join(root, "usr/lib/x86_64-linux-gnu/libmnl.so.0")))
	must(os.Symlink("usr/lib", filepath.Join(root, "lib")))
	must(os.Symlink("/lib/x86_64-linux-gnu/libmnl.so.0", filepath.Join(root, "usr/lib/abs")))
	must(os.Symlink("../../../../../etc/passwd", filepath.Join(root, "usr/lib/escape")))
	for in, want := range map[string]string{
		"usr/lib/x86_64-linux-gnu/libmnl.so.0": "usr/lib/x86_64-linux-gnu/libmnl.so.0.2.0",
		"lib/x86_64-linux-gnu/libmnl.so.0":     "usr/lib/x86_64-linux-gnu/libmnl.so.0.2.0",
		"usr/lib/abs":                          "usr/lib/x86_64-linux-gnu/libmnl.so.0.2.0",
	} {
		got, err := resolveIn(root, in)
		if err != nil || got != want {
			t.Errorf("resolveIn(%s) = %q, %v; want %q", in, got, err, want)
		}
	}
	// A link out of the root stays in it: /etc/passwd of the rootfs, which
	// is not there.
	if got, err := resolveIn(root, "usr/lib/escape"); err == nil {
		t.Errorf("resolveIn(escape) = %q, want an error (no etc/passwd in the root)", got)
	}
	if _, err := findIn(root, []string{"usr/lib/x86_64-linux-gnu", "usr/lib"}, "libnone.so.1"); err == nil {
		t.Error("findIn found a library that is not there")
	}
}

// A wrapper runs its program with the bundle's loader and libraries, as
// the command's name (xtables-nft-multi is every iptables command).
func TestToolWrapper(t *testing.T) {
	w := toolWrapper("iptables-save", "xtables-nft-multi", "ld-linux-aarch64.so.1")
	for _, want := range []string{
		"XTABLES_LIBDIR=" + board.ToolsDir + "/lib/xtables ",
		"exec " + board.ToolsDir + "/lib/ld-linux-aarch64.so.1 --library-path " + board.ToolsDir + "/lib --argv0 iptables-save " + board.ToolsDir + "/libexec/xtables-nft-multi \"$@\"",
	} {
		if !strings.Contains(w, want) {
			t.Errorf("wrapper lacks %q:\n%s", want, w)
		}
	}
	if w := toolWrapper("ip", "ip", "ld-linux-x86-64.so.2"); strings.Contains(w, "XTABLES") {
		t.Errorf("ip's wrapper sets XTABLES_LIBDIR:\n%s", w)
	}
}
