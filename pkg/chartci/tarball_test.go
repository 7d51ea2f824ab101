package chartci

import (
	"archive/tar"
	"compress/gzip"
	"os"
	"path/filepath"
	"testing"
)

// writeTarball packs the artifacts directory into DIR.tar.gz and removes it.
func TestWriteTarball(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "chart")
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "logs", "web_app.log"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dst, err := writeTarball(dir)
	if err != nil || dst != dir+".tar.gz" {
		t.Fatalf("%s %v", dst, err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the directory is still there: %v", err)
	}
	f, err := os.Open(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	found := false
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		found = found || h.Name == "logs/web_app.log"
	}
	if !found {
		t.Error("logs/web_app.log is not in the tarball")
	}
}
