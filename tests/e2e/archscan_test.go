package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	"github.com/edgectl/edgectl/pkg/build/archscan"
	"github.com/edgectl/edgectl/pkg/build/nodeimage"
)

// TestNodeImageArch: the node image holds no ELF file of another
// architecture than its own, and no stored system image of another platform
// (issue 15, acceptance 1). The host's image always; the arm64 one in `make
// test-arm64`.
func TestNodeImageArch(t *testing.T) {
	e := setup(t)
	t.Run(e.image, func(t *testing.T) { scanNodeImage(t, e, e.image) })
	arm64 := v1alpha1.ImageFor(e.image, "linux/arm64")
	t.Run(arm64, func(t *testing.T) {
		skipUnlessArm64(t)
		scanNodeImage(t, e, arm64)
	})
}

// skipUnlessArm64 skips, and says so in the output, what only `make
// test-arm64` runs (it builds the arm64 image first).
func skipUnlessArm64(t *testing.T) {
	t.Helper()
	if os.Getenv("EDGECTL_E2E_ARM64") == "" {
		t.Skip("arm64: runs in `make test-arm64` (EDGECTL_E2E_ARM64=1)")
	}
}

func scanNodeImage(t *testing.T, e *env, image string) {
	arch, ok, err := e.p.Runtime().ImageLabel(t.Context(), image, nodeimage.LabelArch)
	if err != nil || !ok || arch == "" {
		t.Fatalf("%s has no %s label: %v", image, nodeimage.LabelArch, err)
	}
	if pf, err := e.p.Runtime().ImagePlatform(t.Context(), image); err != nil || pf != "linux/"+arch {
		t.Errorf("%s: the engine says its platform is %q (%v), its label %s", image, pf, err, arch)
	}
	file := filepath.Join(t.TempDir(), "node.tar")
	cmd := exec.Command("sh", "-c", `docker save "$0" >"$1"`, image, file)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker save: %v %s", err, out)
	}
	defer os.Remove(file)
	r, err := archscan.Image(file, arch)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s (%s): %d ELF files, %d stored images", image, arch, r.ELFFiles, r.Images)
	if len(r.Wrong) > 0 {
		t.Errorf("of another architecture than %s:\n%s", arch, strings.Join(r.Wrong, "\n"))
	}
	// edgelet, containerd, runc, the CNI plugins and Debian's binaries; pause,
	// CoreDNS and echo.
	if r.ELFFiles < 100 || r.Images < 3 {
		t.Errorf("scanned %d ELF files and %d stored images: the scan missed the image's content", r.ELFFiles, r.Images)
	}
}
