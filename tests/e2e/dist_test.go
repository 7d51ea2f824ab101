package e2e

import (
	"context"
	"debug/elf"
	"debug/macho"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/edgectl/edgectl/internal/modproxy"
	"github.com/edgectl/edgectl/pkg/build/nodeimage"
	"github.com/edgectl/edgectl/pkg/registry"
)

// TestDistInstall is issue 29's acceptance for a user who installs a
// release: `make dist` (binaries only: hack/dist.sh) builds edgectl for
// four platforms whose SHA256SUMS verify; its linux/amd64 binary, copied
// into an empty directory and run with a fresh HOME, creates a 1+1
// cluster whose node image it pulls by its default reference from an
// edgectl registry standing in for the public one, then deletes it. Then
// the same through a registry cache: the cache fetches the image from
// upstream once, a second cluster pulls nothing new, and a pull after the
// engine lost the image is served from the cache alone.
//
// `make test-dist` runs it (EDGECTL_E2E_DIST=1): four cross builds, a
// push and three pulls of the node image and three creates would add ~5
// min to `make test`'s longest lane.
func TestDistInstall(t *testing.T) {
	if os.Getenv("EDGECTL_E2E_DIST") == "" {
		t.Skip("the release's install runs in `make test-dist` (EDGECTL_E2E_DIST=1)")
	}
	e := setup(t)
	inLane(t, laneClusters)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	const version = "v0.0.0-e2e"
	regs := e.registries()
	// The stand-in and the cache share a network of their own, where the
	// cache reaches its upstream by name (the default bridge has no DNS).
	const distNet = "edgectl-e2e-release" // not edgectl-CLUSTER of a cluster here
	rt := e.p.Runtime()
	_ = rt.DeleteNetwork(ctx, distNet)
	if err := rt.EnsureNetwork(ctx, distNet, "10.89.245.0/24", "10.89.245.1", map[string]string{"io.edgectl.e2e": "dist"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.DeleteNetwork(context.Background(), distNet) })
	pubPort := freeHostPort(t)
	pub := e.startRegistry(ctx, t, registry.CreateOptions{Name: "e2e-dist-pub", Port: pubPort, Networks: []string{distNet}})
	repo := fmt.Sprintf("localhost:%d/edgectl/node", pubPort)
	image := repo + ":" + version

	// make dist, binaries only, with the stand-in as the release's registry.
	dist := t.TempDir()
	cmd := exec.CommandContext(ctx, "hack/dist.sh")
	cmd.Dir = repoRoot()
	cmd.Env = append(os.Environ(), "VERSION="+version, "IMAGE_REPOSITORY="+repo, "DIST_DIR="+dist, "DIST_BINARIES_ONLY=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("hack/dist.sh: %v\n%s", err, out)
	}
	sums := exec.CommandContext(ctx, "sha256sum", "-c", "SHA256SUMS")
	sums.Dir = dist
	if out, err := sums.CombinedOutput(); err != nil || strings.Count(string(out), ": OK") != 8 {
		t.Errorf("sha256sum -c SHA256SUMS: %v\n%s", err, out)
	}
	for pf, want := range map[string]string{"linux-amd64": "elf/EM_X86_64", "linux-arm64": "elf/EM_AARCH64",
		"darwin-amd64": "macho/CpuAmd64", "darwin-arm64": "macho/CpuArm64"} {
		if got := binaryKind(filepath.Join(dist, "edgectl-"+pf)); got != want {
			t.Errorf("edgectl-%s is %s, want %s", pf, got, want)
		}
		if mods, err := os.ReadFile(filepath.Join(dist, "edgectl-"+pf+".modules.txt")); err != nil || !strings.Contains(string(mods), "dep\tgithub.com/google/go-containerregistry") {
			t.Errorf("edgectl-%s.modules.txt lacks the module list: %v\n%.300s", pf, err, mods)
		}
	}
	if data, err := os.ReadFile(filepath.Join(dist, "SHA256SUMS")); err == nil {
		// A damaged download is refused.
		bad := t.TempDir()
		if err := os.WriteFile(filepath.Join(bad, "SHA256SUMS"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bad, "edgectl-linux-amd64"), []byte("not edgectl"), 0o755); err != nil {
			t.Fatal(err)
		}
		check := exec.CommandContext(ctx, "sha256sum", "-c", "--ignore-missing", "SHA256SUMS")
		check.Dir = bad
		if out, err := check.CombinedOutput(); err == nil || !strings.Contains(string(out), "edgectl-linux-amd64: FAILED") {
			t.Errorf("a damaged binary passed sha256sum -c: %v\n%s", err, out)
		}
	}

	// The release's node image, published to the stand-in.
	if out, err := exec.CommandContext(ctx, edgectlBinary(t), "image", "push", image, "--image", e.image, "--platform", "linux/amd64").CombinedOutput(); err != nil {
		t.Fatalf("image push: %v\n%s", err, out)
	}
	regImage := fmt.Sprintf("localhost:%d/edgectl/registry:%s", pubPort, version)
	dropImage := func() {
		_ = exec.Command("docker", "rmi", "-f", image).Run()
	}
	dropImage()
	t.Cleanup(dropImage)
	_ = exec.Command("docker", "rmi", "-f", regImage).Run()
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", regImage).Run() })

	// The user: an empty directory, a fresh HOME, the binary alone.
	home, dir := t.TempDir(), t.TempDir()
	bin := filepath.Join(dir, "bin", "edgectl")
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(filepath.Join(dist, "edgectl-linux-amd64")); err != nil || os.WriteFile(bin, data, 0o755) != nil {
		t.Fatalf("install: %v", err)
	}
	user := func(args ...string) (string, error) {
		c := exec.CommandContext(ctx, bin, args...)
		c.Dir = dir
		// No module proxy: a build outside a checkout cannot fetch the
		// source (the last subtest gives it one).
		c.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "GOPROXY=off"}
		out, err := c.CombinedOutput()
		return string(out), err
	}
	out, err := user("version", "-o", "json")
	var v map[string]string
	if err != nil || json.Unmarshal([]byte(out), &v) != nil || v["edgectl"] != version ||
		v["kubernetes"] != nodeimage.KubernetesVersion || v["nodeImage"] != image {
		t.Fatalf("version -o json: %v %v\n%s", err, v, out)
	}
	created := func(name string, args ...string) string {
		t.Helper()
		t.Cleanup(func() { _, _ = user("cluster", "delete", name) })
		out, err := user(append([]string{"cluster", "create", name, "--agents", "1"}, args...)...)
		if err != nil {
			t.Fatalf("create %s: %v\n%s", name, err, out)
		}
		if cfg, err := os.ReadFile(filepath.Join(home, ".kube", "config")); err != nil || !strings.Contains(string(cfg), "edgectl-"+name) {
			t.Errorf("the kubeconfig in the fresh HOME lacks %s: %v\n%s", name, err, cfg)
		}
		if nodes, err := user("node", "list", "-c", name); err != nil || !strings.Contains(nodes, nodeName(name, "server", 0)) || !strings.Contains(nodes, nodeName(name, "agent", 0)) {
			t.Errorf("node list -c %s: %v\n%s", name, err, nodes)
		}
		if out, err := user("cluster", "delete", name); err != nil {
			t.Errorf("delete %s: %v\n%s", name, err, out)
		}
		return out
	}
	out = created("e2e-dist")
	if !strings.Contains(out, "pulling it") || !strings.Contains(out, "pulled "+image) {
		t.Errorf("the first create does not say it pulled %s:\n%s", image, out)
	}

	t.Run("through a registry cache", func(t *testing.T) {
		dropImage()
		// The user's edgectl makes the cache: its registry image, the
		// release's, is pulled from beside the node image.
		const cacheName = "e2e-dist-cache"
		_ = regs.Delete(ctx, cacheName, true, nil)
		t.Cleanup(func() { _ = regs.Delete(context.Background(), cacheName, true, nil) })
		out, err := user("registry", "create", cacheName, "--port", fmt.Sprint(freeHostPort(t)), "--network", distNet,
			"--upstream", fmt.Sprintf("localhost:%d=http://%s", pubPort, pub.Endpoint))
		if err != nil || !strings.Contains(out, "pulled "+regImage) {
			t.Fatalf("registry create with the installed edgectl (its image %s pulled): %v\n%s", regImage, err, out)
		}
		cache, err := regs.Get(ctx, cacheName)
		if err != nil {
			t.Fatal(err)
		}
		out = created("e2e-dist-c1", "--registry", cache.Name)
		if !strings.Contains(out, "through registry "+cache.Name) || !strings.Contains(out, "pulled "+image) {
			t.Errorf("the create does not pull through %s:\n%s", cache.Name, out)
		}
		first := cacheStatus(ctx, t, regs, cache.Name)
		if first.Misses == 0 {
			t.Fatalf("the cache fetched nothing from upstream: %+v", first)
		}
		out = created("e2e-dist-c2", "--registry", cache.Name)
		if strings.Contains(out, "pulling") {
			t.Errorf("the second cluster pulled again:\n%s", out)
		}
		dropImage()
		if out, err := user("image", "pull", image, "--through", cache.Name); err != nil {
			t.Fatalf("image pull --through: %v\n%s", err, out)
		}
		again := cacheStatus(ctx, t, regs, cache.Name)
		if again.Misses != first.Misses || again.Hits <= first.Hits {
			t.Errorf("a pull through the cache went upstream: before %+v, after %+v", first, again)
		}
		t.Logf("cache of %s: %d blob misses at the first pull; %d hits, no new miss, at the pull after the engine lost the image",
			again.Host, first.Misses, again.Hits-first.Hits)
	})

	t.Run("the CI action's scripts, run as a runner would", func(t *testing.T) {
		// A release's download URL: VERSION/edgectl-OS-ARCH and SHA256SUMS.
		releases := t.TempDir()
		if err := os.Symlink(dist, filepath.Join(releases, version)); err != nil {
			t.Fatal(err)
		}
		runner := t.TempDir()
		files := map[string]string{}
		for _, f := range []string{"GITHUB_ENV", "GITHUB_OUTPUT", "GITHUB_PATH"} {
			files[f] = filepath.Join(runner, f)
			if err := os.WriteFile(files[f], nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		step := func(script string, env ...string) (string, error) {
			c := exec.CommandContext(ctx, filepath.Join(repoRoot(), "hack", "action", script))
			c.Dir = dir
			c.Env = append([]string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "RUNNER_TEMP=" + runner,
				"GITHUB_ENV=" + files["GITHUB_ENV"], "GITHUB_OUTPUT=" + files["GITHUB_OUTPUT"], "GITHUB_PATH=" + files["GITHUB_PATH"]}, env...)
			out, err := c.CombinedOutput()
			t.Logf("%s:\n%s", script, out)
			return string(out), err
		}
		// key=value lines a step wrote to a GITHUB_* file, the last of each.
		written := func(file string) map[string]string {
			data, _ := os.ReadFile(files[file])
			kv := map[string]string{}
			for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
				if k, v, ok := strings.Cut(line, "="); ok {
					kv[k] = v
				}
			}
			return kv
		}
		if _, err := step("install.sh", "EDGECTL_VERSION="+version, "EDGECTL_INSTALL_URL=file://"+releases); err != nil {
			t.Fatalf("install.sh: %v", err)
		}
		outputs := written("GITHUB_OUTPUT")
		installed := outputs["edgectl"]
		if paths, _ := os.ReadFile(files["GITHUB_PATH"]); strings.TrimSpace(string(paths)) != filepath.Dir(installed) ||
			outputs["node-image"] != image || !strings.Contains(outputs["cache-key"], image) {
			t.Fatalf("install.sh wrote PATH %q and outputs %v", paths, outputs)
		}
		// A damaged download is refused.
		damaged := t.TempDir()
		if err := os.MkdirAll(filepath.Join(damaged, version), 0o755); err != nil {
			t.Fatal(err)
		}
		sums, _ := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
		_ = os.WriteFile(filepath.Join(damaged, version, "SHA256SUMS"), sums, 0o644)
		_ = os.WriteFile(filepath.Join(damaged, version, "edgectl-linux-amd64"), []byte("not edgectl"), 0o755)
		if out, err := step("install.sh", "EDGECTL_VERSION="+version, "EDGECTL_INSTALL_URL=file://"+damaged); err == nil || !strings.Contains(out, "does not match") {
			t.Errorf("install.sh took a damaged binary: %v", err)
		}

		imageEnv := []string{"EDGECTL=" + installed, "EDGECTL_NODE_IMAGE=" + image}
		dropImage()
		if out, err := step("image.sh", imageEnv...); err != nil || !strings.Contains(out, "pulled "+image) {
			t.Fatalf("image.sh with an empty job cache: %v", err)
		}
		dropImage()
		if out, err := step("image.sh", imageEnv...); err != nil || !strings.Contains(out, "from the job cache") {
			t.Fatalf("image.sh with the job cache: %v", err)
		}

		const cname = "e2e-action"
		t.Cleanup(func() { _, _ = user("cluster", "delete", cname) })
		if _, err := step("cluster.sh", "EDGECTL="+installed, "EDGECTL_CLUSTER="+cname, "EDGECTL_AGENTS=1"); err != nil {
			t.Fatalf("cluster.sh: %v", err)
		}
		kubeconfig := written("GITHUB_OUTPUT")["kubeconfig"]
		if got := written("GITHUB_ENV")["KUBECONFIG"]; got != kubeconfig || kubeconfig == "" {
			t.Errorf("KUBECONFIG for later steps %q, output kubeconfig %q", got, kubeconfig)
		}
		kc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		nodes, err := kubernetes.NewForConfigOrDie(kc).CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil || len(nodes.Items) != 2 {
			t.Errorf("the kubeconfig the action wrote: %v, %d nodes", err, len(nodes.Items))
		}
		if out, err := user("cluster", "delete", cname); err != nil {
			t.Errorf("delete %s: %v\n%s", cname, err, out)
		}

		chart := goodChart(t, t.TempDir(), "e2e-action", "0.1.0")
		junit := filepath.Join(runner, "report", "junit.xml")
		if err := os.MkdirAll(filepath.Dir(junit), 0o755); err != nil {
			t.Fatal(err)
		}
		if _, err := step("cluster.sh", "EDGECTL="+installed, "EDGECTL_CHART="+chart, "EDGECTL_JUNIT="+junit, "EDGECTL_AGENTS=1"); err != nil {
			t.Fatalf("cluster.sh with a chart: %v", err)
		}
		if got := written("GITHUB_OUTPUT")["junit"]; got != junit {
			t.Errorf("junit output %q, want %s", got, junit)
		}
		if suites := readJUnit(t, junit); suites.Tests == 0 || suites.Failures != 0 {
			t.Errorf("JUnit of the action's ci chart: %d tests, %d failures", suites.Tests, suites.Failures)
		}
	})

	t.Run("bad input", func(t *testing.T) {
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"image", "pull", fmt.Sprintf("localhost:%d/edgectl/node:%s", freeHostPort(t), version)}, "connection refused"},
			{[]string{"image", "pull", image, "--platform", "linux/arm64"}, "no image for the platform linux/arm64 (it has linux/amd64)"},
			{[]string{"cluster", "create", "e2e-dist-bad", "--image", repo + ":v0.0.0-missing"}, "the pull failed"},
			// Outside a checkout, the build says what it needs.
			{[]string{"image", "build"}, "pass --source DIR, DIR being a checkout of github.com/edgectl/edgectl at " + version},
			{[]string{"image", "build"}, "fetching the source of " + version + " from the Go module proxy failed too: fetch github.com/edgectl/edgectl@" + version},
		} {
			out, err := user(c.args...)
			if err == nil || !strings.Contains(out, c.want) {
				t.Errorf("%v: %v, want %q in:\n%s", c.args, err, c.want, out)
			}
		}
	})
	t.Run("image build from the Go module proxy outside a checkout", func(t *testing.T) {
		// The release's modules (edgectl and the nested modules the node
		// image compiles), published from the commit under test to a
		// module proxy made of files: what proxy.golang.org serves for a tag.
		root := repoRoot()
		if dirty, err := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output(); err != nil || len(dirty) > 0 {
			t.Fatalf("the module proxy publishes HEAD, but the checkout (whose image the build is compared with) has changes: %v\n%s", err, dirty)
		}
		proxy := t.TempDir() // no comma in it: GOPROXY is a comma-separated list
		for _, sub := range append([]string{""}, nodeimage.NestedModules()...) {
			path := strings.TrimSuffix(nodeimage.ModulePath+"/"+sub, "/")
			if err := modproxy.FromGit(proxy, path, version, root, "HEAD", sub); err != nil {
				t.Fatal(err)
			}
		}
		// The user's Go caches are the machine's (the Kubernetes modules and
		// their compiled packages are there), less any copy of this
		// release's modules that an earlier run left.
		modcache, gocache := goEnv(t, "GOMODCACHE"), goEnv(t, "GOCACHE")
		purge := func() { purgeModuleVersion(t, modcache, nodeimage.ModulePath, version) }
		purge()
		t.Cleanup(purge)
		// Its rootfs is the suite's (a debootstrap is not what this tests).
		build := filepath.Join(home, ".cache", "edgectl", "build")
		if err := os.MkdirAll(build, 0o755); err != nil {
			t.Fatal(err)
		}
		suiteCache, err := os.UserCacheDir()
		if err != nil {
			t.Fatal(err)
		}
		rootfs, _ := filepath.Glob(filepath.Join(suiteCache, "edgectl", "build", "rootfs-amd64-*.tar*"))
		if len(rootfs) == 0 {
			t.Fatal("the suite's build cache holds no amd64 rootfs")
		}
		for _, f := range rootfs {
			if err := os.Symlink(f, filepath.Join(build, filepath.Base(f))); err != nil && !os.IsExist(err) {
				t.Fatal(err)
			}
		}
		goUser := func(args ...string) (string, error) {
			c := exec.CommandContext(ctx, bin, args...)
			c.Dir = dir
			c.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "GOCACHE=" + gocache, "GOMODCACHE=" + modcache,
				"GOPROXY=file://" + proxy + ",off", "GONOSUMDB=" + nodeimage.ModulePath, "GOTOOLCHAIN=local"}
			out, err := c.CombinedOutput()
			return string(out), err
		}
		dropImage()
		_ = exec.Command("docker", "rmi", "-f", regImage).Run()
		out, err := goUser("image", "build")
		t.Logf("image build:\n%s", out)
		if err != nil {
			t.Fatalf("image build from the module proxy: %v", err)
		}
		if want := "building from the source of edgectl " + version + ", fetched from the Go module proxy"; !strings.Contains(out, want) {
			t.Errorf("image build does not say %q", want)
		}
		// Same inputs, same edgelet: the build's version is the hash of
		// its inputs.
		label := func(ref string) string {
			out, err := exec.Command("docker", "image", "inspect", "-f", "{{index .Config.Labels \""+nodeimage.LabelInputs+"\"}}", ref).Output()
			if err != nil {
				t.Fatalf("inspect %s: %v", ref, err)
			}
			return strings.TrimSpace(string(out))
		}
		if got, want := label(image), label(e.image); got != want || got == "" {
			t.Errorf("inputs of the image built from the module proxy %q, of the checkout's %q", got, want)
		}
		edgelet := func(args ...string) string {
			out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
			if err != nil {
				t.Fatalf("docker %v: %v\n%s", args, err, out)
			}
			return strings.TrimSpace(string(out))
		}
		checkout := edgelet("run", "--rm", "--entrypoint", "edgelet", e.image, "version")

		const name = "e2e-dist-mod"
		t.Cleanup(func() { _, _ = user("cluster", "delete", name) })
		out, err = user("cluster", "create", name)
		if err != nil || strings.Contains(out, "pulling") {
			t.Fatalf("create %s from the built image (no pull): %v\n%s", name, err, out)
		}
		running := edgelet("exec", nodeName(name, "server", 0), "edgelet", "version")
		if running != checkout || !strings.Contains(running, nodeimage.KubernetesVersion) {
			t.Errorf("the cluster runs %q; the checkout's image has %q", running, checkout)
		}
		t.Logf("%s runs %s", name, running)
		if out, err := user("cluster", "delete", name); err != nil {
			t.Errorf("delete %s: %v\n%s", name, err, out)
		}
	})
}

// binaryKind says what an executable is built for: elf/MACHINE or
// macho/CPU.
func binaryKind(path string) string {
	if f, err := elf.Open(path); err == nil {
		defer f.Close()
		return "elf/" + f.Machine.String()
	}
	if f, err := macho.Open(path); err == nil {
		defer f.Close()
		return "macho/" + f.Cpu.String()
	}
	return "unknown"
}

// cacheStatus is the registry's status of its one upstream.
func cacheStatus(ctx context.Context, t *testing.T, m *registry.Manager, name string) registry.UpstreamStatus {
	t.Helper()
	st, err := m.Status(ctx, name)
	if err != nil || len(st.Upstreams) != 1 {
		t.Fatalf("status of %s: %+v %v", name, st, err)
	}
	return st.Upstreams[0]
}

// goEnv is `go env NAME` of the suite's user.
func goEnv(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("go", "env", name).Output()
	if err != nil || len(strings.TrimSpace(string(out))) == 0 {
		t.Fatalf("go env %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}

// purgeModuleVersion removes version of module and of the modules under
// its path from the module cache at modcache (read-only, as Go leaves it).
func purgeModuleVersion(t *testing.T, modcache, module, version string) {
	t.Helper()
	base := filepath.Join(modcache, filepath.FromSlash(module))
	extracted, _ := filepath.Glob(base + "@" + version)
	nested, _ := filepath.Glob(filepath.Join(base, "*", "*@"+version))
	for _, d := range append(extracted, nested...) {
		_ = filepath.WalkDir(d, func(p string, de os.DirEntry, err error) error {
			if err == nil && de.IsDir() {
				_ = os.Chmod(p, 0o755)
			}
			return nil
		})
		if err := os.RemoveAll(d); err != nil {
			t.Errorf("purge %s: %v", d, err)
		}
	}
	_ = filepath.WalkDir(filepath.Join(modcache, "cache", "download", filepath.FromSlash(module)), func(p string, de os.DirEntry, err error) error {
		if err == nil && !de.IsDir() && strings.HasPrefix(de.Name(), version+".") {
			_ = os.Remove(p)
		}
		return nil
	})
}
