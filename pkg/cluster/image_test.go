package cluster

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	"github.com/edgectl/edgectl/internal/log"
	"github.com/edgectl/edgectl/internal/runtime"
	"github.com/edgectl/edgectl/internal/runtime/fake"
	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	"github.com/edgectl/edgectl/pkg/build/nodeimage"
)

// Bad arguments are refused before the engine is asked anything (the
// provider here has no runtime at all).
func TestImportRejectsBadArguments(t *testing.T) {
	p := NewProviderWithRuntime(nil, log.Discard())
	for name, opts := range map[string]ImportOptions{
		"nothing":     {Cluster: "c"},
		"both":        {Cluster: "c", Images: []string{"app:1"}, Archive: "x.tar"},
		"image ID":    {Cluster: "c", Images: []string{"sha256:be58435fa21072d2ef3eee02fdd335ff7f1880375615d6a18ac1abd826ddcdc7"}},
		"bad name":    {Cluster: "c", Images: []string{"App:1"}},
		"hex ID only": {Cluster: "c", Images: []string{"be58435fa21072d2ef3eee02fdd335ff7f1880375615d6a18ac1abd826ddcdc7"}},
	} {
		err := p.ImportImages(context.Background(), opts)
		if edgeerrors.ExitCode(err) != int(edgeerrors.KindInvalidConfig) {
			t.Errorf("%s: got %v (exit %d), want an invalid-input error", name, err, edgeerrors.ExitCode(err))
		}
	}
}

// An import hands each node the engine image of its own platform: the image
// itself, or its IMAGE-ARCH variant renamed in containerd; nodes of a
// platform the engine has no image for are skipped, unless named.
func TestImportPerPlatform(t *testing.T) {
	ctx := context.Background()
	other := "linux/arm64"
	if v1alpha1.HostPlatform() == other {
		other = "linux/amd64"
	}
	otherArch, hostArch := strings.TrimPrefix(other, "linux/"), strings.TrimPrefix(v1alpha1.HostPlatform(), "linux/")
	images := map[string]map[string]string{
		v1alpha1.DefaultImage:                           {nodeimage.LabelInputs: "x", nodeimage.LabelArch: hostArch},
		v1alpha1.ImageFor(v1alpha1.DefaultImage, other): {nodeimage.LabelInputs: "x", nodeimage.LabelArch: otherArch},
		"app:1":              {nodeimage.LabelArch: hostArch},
		"app:1-" + otherArch: {nodeimage.LabelArch: otherArch},
		"hostonly:1":         {nodeimage.LabelArch: hostArch},
	}
	rt := fake.New(images)
	rt.OnStart = fakeNode
	var imported []string
	rt.OnExec = func(r *fake.Runtime, name string, cmd []string, _ string) (runtime.ExecResult, error) {
		switch c := strings.Join(cmd, " "); {
		case c == "ctr -n k8s.io images ls -q":
			return runtime.ExecResult{Stdout: "docker.io/library/app:1\ndocker.io/library/app:1-" + otherArch + "\ndocker.io/library/hostonly:1\n"}, nil
		case strings.HasPrefix(c, "ctr -n k8s.io images"):
			imported = append(imported, name+": "+c)
		}
		return r.DefaultExec(name, cmd)
	}
	p := NewProviderWithRuntime(rt, log.Discard())
	p.binfmtDir = fakeBinfmt(t, otherArch)
	create(t, p, t.TempDir()+"/kubeconfig", &v1alpha1.Cluster{Name: "m", Agents: 1, AgentPlatform: other})

	nodes, err := p.Nodes(ctx, "m")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if want := map[string]string{RoleServer: v1alpha1.HostPlatform(), RoleAgent: other}[n.Role]; want != "" && n.Platform != want {
			t.Errorf("%s: platform %q, want %q", n.Name, n.Platform, want)
		}
	}
	if err := p.ImportImages(ctx, ImportOptions{Cluster: "m", Images: []string{"app:1"}}); err != nil {
		t.Fatal(err)
	}
	want := "edgectl-m-agent-0: ctr -n k8s.io images tag --force docker.io/library/app:1-" + otherArch + " docker.io/library/app:1"
	if !contains(imported, want) {
		t.Errorf("the agent's variant was not renamed: want %q in %q", want, imported)
	}
	imported = nil
	if err := p.ImportImages(ctx, ImportOptions{Cluster: "m", Images: []string{"hostonly:1"}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range imported {
		if strings.HasPrefix(c, "edgectl-m-agent-0") {
			t.Errorf("the %s agent got a %s-only image: %s", other, hostArch, c)
		}
	}
	err = p.ImportImages(ctx, ImportOptions{Cluster: "m", Images: []string{"hostonly:1"}, Nodes: []string{"agent-0"}})
	if edgeerrors.ExitCode(err) != int(edgeerrors.KindImageMissing) || !strings.Contains(edgeerrors.Hint(err), "docker build --platform "+other) {
		t.Errorf("a named node of another platform: %v, want an error with the build command", err)
	}
}

// fakeBinfmt is a binfmt_misc directory with an enabled, F-flagged entry
// for arch.
func fakeBinfmt(t *testing.T, arch string) string {
	t.Helper()
	dir := t.TempDir()
	entry := map[string]string{"arm64": "qemu-aarch64", "amd64": "qemu-x86_64"}[arch]
	for file, data := range map[string]string{"register": "", "status": "enabled\n",
		entry: "enabled\ninterpreter /usr/libexec/qemu-binfmt/" + entry + "\nflags: PF\n"} {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
