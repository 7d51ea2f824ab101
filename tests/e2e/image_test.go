package e2e

import (
	"archive/tar"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/edgectl/edgectl/pkg/build/nodeimage"
)

// TestImageBuildOutputs runs the real `edgectl image build`: a missing
// debootstrap is a clear error that names the package and tags nothing, and
// --output oci-tar writes an OCI image layout that an OCI library reads back
// as the same image (same inputs hash) that the engine holds.
func TestImageBuildOutputs(t *testing.T) {
	inLane(t, laneClusters)
	e := setup(t)
	bin := edgectlBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	t.Run("missing debootstrap names the package and tags nothing", func(t *testing.T) {
		const tag = "edgectl/node:e2e-missing-tool"
		cacheDir := t.TempDir()
		cmd := exec.CommandContext(ctx, bin, "image", "build", "--force", "--tag", tag, "--cache-dir", cacheDir)
		cmd.Env = append(os.Environ(), "PATH="+pathWithout(t, "debootstrap"))
		out, err := cmd.CombinedOutput()
		if exitCode(err) == 0 || !strings.Contains(string(out), "debootstrap is not installed") || !strings.Contains(string(out), "apt-get install") {
			t.Errorf("exit %d, want an error naming debootstrap and how to install it:\n%s", exitCode(err), out)
		}
		if id, err := e.p.Runtime().ImageID(ctx, tag); err != nil || id != "" {
			t.Errorf("a failed build tagged %s (%s, %v)", tag, id, err)
		}
		if left, _ := filepath.Glob(filepath.Join(cacheDir, "rootfs-*.tar")); len(left) > 0 {
			t.Errorf("a failed build left %v", left)
		}
	})

	t.Run("oci-tar is the engine's image as an OCI layout", func(t *testing.T) {
		want, ok, err := e.p.Runtime().ImageLabel(ctx, e.image, nodeimage.LabelInputs)
		if err != nil || !ok {
			t.Fatalf("inputs label of %s: %v", e.image, err)
		}
		file := filepath.Join(t.TempDir(), "node.tar")
		cmd := exec.CommandContext(ctx, bin, "image", "build", "--output", "oci-tar", "--file", file, "--tag", e.image)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("image build --output oci-tar: %v\n%s", err, out)
		}
		dir := t.TempDir()
		untar(t, file, dir)
		index, err := layout.ImageIndexFromPath(dir)
		if err != nil {
			t.Fatalf("not an OCI image layout: %v", err)
		}
		manifest, err := index.IndexManifest()
		if err != nil || len(manifest.Manifests) != 1 {
			t.Fatalf("index: %v %+v", err, manifest)
		}
		if ref := manifest.Manifests[0].Annotations["org.opencontainers.image.ref.name"]; !strings.HasSuffix(ref, e.image) {
			t.Errorf("ref.name annotation %q, want %s", ref, e.image)
		}
		img, err := index.Image(manifest.Manifests[0].Digest)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.Config.Labels[nodeimage.LabelInputs]; got != want {
			t.Errorf("inputs label %q, want the engine image's %q", got, want)
		}
		if cfg.Architecture != "amd64" || cfg.OS != "linux" {
			t.Errorf("platform %s/%s", cfg.OS, cfg.Architecture)
		}
	})
}

// pathWithout returns $PATH minus every directory that holds program.
func pathWithout(t *testing.T, program string) string {
	t.Helper()
	var keep []string
	for _, dir := range filepath.SplitList(os.Getenv("PATH") + ":/usr/sbin:/sbin") {
		if _, err := os.Stat(filepath.Join(dir, program)); err != nil {
			keep = append(keep, dir)
		}
	}
	return strings.Join(keep, ":")
}

func untar(t *testing.T, file, dir string) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, filepath.Clean("/"+h.Name))
		if h.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(dst, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(dst)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, tr); err != nil {
			t.Fatal(err)
		}
		out.Close()
	}
}
