package archive

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Extract keeps what keep accepts, and refuses a file written through a
// symlink that leads out of the directory.
func TestExtract(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	good := filepath.Join(dir, "good.tar")
	if err := WriteFile(good, []Entry{
		{Path: "/usr/lib/libx.so.1", Mode: 0o644, Data: []byte("x")},
		{Path: "/usr/lib/libx.so", Link: "libx.so.1"},
		{Path: "/etc/skipped", Mode: 0o644, Data: []byte("y")},
	}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if err := Extract(good, out, func(n string) bool { return strings.HasPrefix(n, "usr/") }); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(out, "usr/lib/libx.so")); err != nil || string(b) != "x" {
		t.Errorf("usr/lib/libx.so through its link: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(out, "etc/skipped")); err == nil {
		t.Error("etc/skipped was extracted; keep refused it")
	}

	bad := filepath.Join(dir, "bad.tar")
	if err := WriteFile(bad, []Entry{
		{Path: "/a", Link: outside},
		{Path: "/a/x", Mode: 0o644, Data: []byte("escaped")},
	}); err != nil {
		t.Fatal(err)
	}
	if err := Extract(bad, filepath.Join(dir, "out2"), nil); err == nil || !strings.Contains(err.Error(), "leads out") {
		t.Errorf("Extract through a link out of the directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(outside, "x")); err == nil {
		t.Error("a file was written out of the directory")
	}
}
