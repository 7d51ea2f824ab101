package archscan

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/edgectl/edgectl/pkg/build/sysimage"
)

// A bundle-like tar holding an ELF (this test binary) and an image tarball
// whose config says arch: it scans clean for the host's architecture, and
// each part is reported for the other one.
func TestTarFindsWrongELFAndStoredImages(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	other := "arm64"
	if goruntime.GOARCH == "arm64" {
		other = "amd64"
	}
	dir := t.TempDir()
	img := filepath.Join(dir, "pause.tar")
	if err := sysimage.WriteTarball(img, sysimage.Spec{Ref: "example.com/pause:1", Arch: goruntime.GOARCH,
		Files: map[string]string{"/pause": exe}, Entrypoint: []string{"/pause"}}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, src := range map[string]string{"bin/edgelet": exe, "images/pause.tar": img} {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		_ = tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(data)), Typeflag: tar.TypeReg})
		_, _ = tw.Write(data)
	}
	script := []byte("#!/bin/sh\necho not an ELF\n")
	_ = tw.WriteHeader(&tar.Header{Name: "install.sh", Mode: 0o755, Size: int64(len(script)), Typeflag: tar.TypeReg})
	_, _ = tw.Write(script)
	tw.Close()

	r, err := Tar(bytes.NewReader(buf.Bytes()), goruntime.GOARCH)
	if err != nil {
		t.Fatal(err)
	}
	if r.ELFFiles != 2 || r.Images != 1 || len(r.Wrong) != 0 {
		t.Errorf("host arch: %+v", r)
	}
	r, err = Tar(bytes.NewReader(buf.Bytes()), other)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(r.Wrong, "\n")
	for _, want := range []string{"/bin/edgelet: EM_", "/images/pause.tar image config: " + goruntime.GOARCH, "/images/pause.tar layer 0: /pause: EM_"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if len(r.Wrong) != 3 {
		t.Errorf("wrong: %d, want 3:\n%s", len(r.Wrong), got)
	}
}
