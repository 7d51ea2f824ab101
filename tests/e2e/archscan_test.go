package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgectl/edgectl/pkg/build/archscan"
	"github.com/edgectl/edgectl/pkg/build/nodeimage"
)

// TestNodeImageArch: the node image holds no ELF file of another
// architecture than its own, and no stored system image of another platform
// (issue 15, acceptance 1, for the host's architecture).
func TestNodeImageArch(t *testing.T) {
	e := setup(t)
	arch, ok, err := e.p.Runtime().ImageLabel(t.Context(), e.image, nodeimage.LabelArch)
	if err != nil || !ok || arch == "" {
		t.Fatalf("%s has no %s label: %v", e.image, nodeimage.LabelArch, err)
	}
	file := filepath.Join(t.TempDir(), "node.tar")
	cmd := exec.Command("sh", "-c", `docker save "$0" >"$1"`, e.image, file)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker save: %v %s", err, out)
	}
	defer os.Remove(file)
	r, err := archscan.Image(file, arch)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s (%s): %d ELF files, %d stored images", e.image, arch, r.ELFFiles, r.Images)
	if len(r.Wrong) > 0 {
		t.Errorf("of another architecture than %s:\n%s", arch, strings.Join(r.Wrong, "\n"))
	}
	// edgelet, containerd, runc, the CNI plugins and Debian's binaries; pause,
	// CoreDNS and echo.
	if r.ELFFiles < 100 || r.Images < 3 {
		t.Errorf("scanned %d ELF files and %d stored images: the scan missed the image's content", r.ELFFiles, r.Images)
	}
}
