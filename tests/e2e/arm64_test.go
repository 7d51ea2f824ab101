package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/edgectl/edgectl/internal/ocitar"
	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	"github.com/edgectl/edgectl/pkg/build/nodeimage"
	"github.com/edgectl/edgectl/pkg/registry"
)

// TestArm64Agent is issue 15's mixed-architecture acceptance: a cluster
// whose agent is the arm64 node image under qemu binfmt, beside the host's
// amd64 server. `make test-arm64` runs it (it needs `make image-arm64`);
// `make test` skips it.
//   - the nodes carry the right kubernetes.io/arch;
//   - a pod on the agent reads aarch64 from uname(2);
//   - `image import` hands an arm64-only image to the agent only, where it
//     runs, and an amd64-only one to the server only, where the scheduler
//     puts its pod by the arch label its platform implies;
//   - Service traffic crosses between the architectures both ways.
func TestArm64Agent(t *testing.T) {
	if os.Getenv("EDGECTL_E2E_ARM64") == "" {
		t.Skip("the emulated arm64 agent runs in `make test-arm64`")
	}
	if goruntime.GOARCH != "amd64" {
		t.Skip("written for an amd64 host")
	}
	e := setup(t)
	const cname = "e2e-arm64"
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	regPort := freeHostPort(t)
	const reg = "e2e-arm64-reg"
	e.startRegistry(ctx, t, registry.CreateOptions{Name: reg, Port: regPort})
	start := time.Now()
	e.create(t, &v1alpha1.Cluster{Name: cname, Agents: 1, AgentPlatform: "linux/arm64", Registries: []string{reg}})
	client := e.client(t, cname)
	server, agent := nodeName(cname, "server", 0), nodeName(cname, "agent", 0)
	waitNodeReady(ctx, t, client, agent)
	t.Logf("emulated arm64 agent Ready %s after create began", time.Since(start).Round(100*time.Millisecond))

	for node, arch := range map[string]string{server: "amd64", agent: "arm64"} {
		n, err := client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := n.Labels["kubernetes.io/arch"]; got != arch || n.Status.NodeInfo.Architecture != arch {
			t.Errorf("%s: kubernetes.io/arch %q, nodeInfo %q, want %s", node, got, n.Status.NodeInfo.Architecture, arch)
		}
	}
	for _, n := range mustNodes(t, e, cname) {
		if want := map[string]string{server: "linux/amd64", agent: "linux/arm64"}[n.Name]; want != "" && n.Platform != want {
			t.Errorf("edgectl lists %s as %q, want %s", n.Name, n.Platform, want)
		}
	}

	bin := edgectlBinary(t)
	arm64Only := loadEchoImage(ctx, t, e, "arm64")
	amd64Only := loadEchoImage(ctx, t, e, "amd64")
	for _, img := range []string{arm64Only, amd64Only} {
		cmd := exec.CommandContext(ctx, bin, "image", "import", "-c", cname, img)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("image import %s: %v\n%s", img, err, out)
		}
		other := map[string]string{arm64Only: "linux/amd64", amd64Only: "linux/arm64"}[img]
		if !strings.Contains(string(out), "skipping 1 "+other+" node") {
			t.Errorf("import of %s does not say it skipped the %s node:\n%s", img, other, out)
		}
	}
	for node, img := range map[string]string{agent: arm64Only, server: amd64Only} {
		if got := e.nodeExec(t, node, "ctr", "-n", "k8s.io", "images", "ls", "-q"); !strings.Contains(got, img) {
			t.Errorf("%s lacks %s after the import", node, img)
		}
	}
	for node, img := range map[string]string{server: arm64Only, agent: amd64Only} {
		if got := e.nodeExec(t, node, "ctr", "-n", "k8s.io", "images", "ls", "-q"); strings.Contains(got, img) {
			t.Errorf("%s got %s, an image of the other architecture", node, img)
		}
	}

	t.Run("a pod on the arm64 agent reads aarch64 from uname", func(t *testing.T) {
		pod := archPod(ctx, t, e, client, "uname-arm64", arm64Only, "", []string{"/echo", "uname"})
		waitPodDone(ctx, t, client, pod)
		p, _ := client.CoreV1().Pods("default").Get(ctx, pod, metav1.GetOptions{})
		if p.Spec.NodeName != agent {
			t.Errorf("the arm64-only pod ran on %s, not %s", p.Spec.NodeName, agent)
		}
		if logs := podLogs(ctx, t, client, pod); strings.TrimSpace(logs) != "aarch64" {
			t.Errorf("uname -m in the arm64 pod: %q, want aarch64", logs)
		}
	})

	var pods [2]string
	t.Run("each single-arch image runs where its platform lands it", func(t *testing.T) {
		for i, img := range []string{arm64Only, amd64Only} {
			arch := map[int]string{0: "arm64", 1: "amd64"}[i]
			pods[i] = archPod(ctx, t, e, client, "echo-"+arch, img, "", nil)
			exposePod(ctx, t, client, pods[i])
			waitPodReady(ctx, t, client, pods[i])
			p, _ := client.CoreV1().Pods("default").Get(ctx, pods[i], metav1.GetOptions{})
			if want := map[int]string{0: agent, 1: server}[i]; p.Spec.NodeName != want {
				t.Errorf("%s (%s only) ran on %s, want %s", pods[i], arch, p.Spec.NodeName, want)
			}
		}
	})

	t.Run("a multi-platform archive gives each node its own platform", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "echo-multi.tar")
		var images []v1.Image
		for _, arch := range []string{"amd64", "arm64"} {
			images = append(images, archEchoImage(ctx, t, arch))
		}
		const multi = "docker.io/edgectl-e2e/echo:multi"
		if err := ocitar.Write(file, ocitar.Named{Ref: multi, Images: images}); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.CommandContext(ctx, bin, "image", "import", "-c", cname, "--archive", file).CombinedOutput(); err != nil {
			t.Fatalf("image import --archive: %v\n%s", err, out)
		}
		for node, want := range map[string]string{server: "x86_64", agent: "aarch64"} {
			pod := archPod(ctx, t, e, client, "uname-multi-"+strings.TrimPrefix(node, cname+"-"), multi, node, []string{"/echo", "uname"})
			waitPodDone(ctx, t, client, pod)
			p, _ := client.CoreV1().Pods("default").Get(ctx, pod, metav1.GetOptions{})
			if got := strings.TrimSpace(podLogs(ctx, t, client, pod)); p.Spec.NodeName != node || got != want {
				t.Errorf("%s on %s: uname -m %q, want %s on %s", pod, p.Spec.NodeName, got, want, node)
			}
		}
	})

	// Issue 28 §5: the emulated node's containerd is the host's, and its CRI
	// pulls resolve an index to the host's platform; edgelet's resolver
	// hands it the node's platform's manifest instead.
	t.Run("a multi-platform image pulled from a registry runs each node's own platform", func(t *testing.T) {
		index := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
		manifests := map[string]string{}
		for _, arch := range []string{"amd64", "arm64"} {
			img := archEchoImage(ctx, t, arch)
			d, err := img.Digest()
			if err != nil {
				t.Fatal(err)
			}
			manifests[arch] = d.String()
			index = mutate.AppendManifests(index, mutate.IndexAddendum{Add: img,
				Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
		}
		top, err := index.Digest()
		if err != nil {
			t.Fatal(err)
		}
		ref, err := name.NewTag(fmt.Sprintf("127.0.0.1:%d/edgectl-e2e/echo:multi-registry", regPort))
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.WriteIndex(ref, index, remote.WithContext(ctx)); err != nil {
			t.Fatalf("push the index: %v", err)
		}
		image := fmt.Sprintf("localhost:%d/edgectl-e2e/echo:multi-registry", regPort)
		for node, want := range map[string]string{server: "x86_64", agent: "aarch64"} {
			pod := archPod(ctx, t, e, client, "uname-pulled-"+strings.TrimPrefix(node, cname+"-"), image, node, []string{"/echo", "uname"})
			waitPodDone(ctx, t, client, pod)
			if got := strings.TrimSpace(podLogs(ctx, t, client, pod)); got != want {
				t.Errorf("%s on %s: uname -m %q, want %s", pod, node, got, want)
			}
		}
		// What each containerd holds under the name: the index on the
		// host's platform, the arm64 manifest on the emulated node.
		for node, want := range map[string]string{server: top.String(), agent: manifests["arm64"]} {
			var line string
			for _, l := range strings.Split(e.nodeExec(t, node, "ctr", "-n", "k8s.io", "images", "ls"), "\n") {
				if f := strings.Fields(l); len(f) > 2 && f[0] == image {
					line = l
				}
			}
			if !strings.Contains(line, want) {
				t.Errorf("%s holds %s as %q, want target %s", node, image, line, want)
			}
		}
	})

	t.Run("Service traffic crosses the architectures both ways", func(t *testing.T) {
		for _, dir := range [][2]string{{pods[0], pods[1]}, {pods[1], pods[0]}} {
			from, to := dir[0], dir[1]
			url := fmt.Sprintf("http://%s.default.svc.cluster.local/", to)
			out := e.nodeExec(t, server, "kubectl", "exec", from, "--", "/echo", "get", url)
			if strings.TrimSpace(out) != "hello from "+to {
				t.Errorf("%s -> Service %s: %q", from, to, out)
			}
		}
	})
}

// loadEchoImage loads into the engine an image of the echo program built for
// arch alone, and returns its name.
func loadEchoImage(ctx context.Context, t *testing.T, e *env, arch string) string {
	t.Helper()
	ref := "edgectl-e2e/echo:" + arch + "-only"
	dockerLoad(ctx, t, ref, archEchoImage(ctx, t, arch))
	if pf, err := e.p.Runtime().ImagePlatform(ctx, ref); err != nil || pf != "linux/"+arch {
		t.Fatalf("%s is %q in the engine (%v), want linux/%s", ref, pf, err, arch)
	}
	return "docker.io/" + ref
}

// archEchoImage is an image of the echo program built for arch.
func archEchoImage(ctx context.Context, t *testing.T, arch string) v1.Image {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "echo")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./images/echo")
	build.Dir = repoRoot()
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOARCH="+arch)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build echo for %s: %v\n%s", arch, err, out)
	}
	return echoImageFor(t, bin, arch, arch)
}

// archPod runs image in a pod. On node, when given (a multi-platform image
// runs anywhere); else its only placement is the architecture the image's
// platform implies, read from the engine, not written in the test.
func archPod(ctx context.Context, t *testing.T, e *env, c kubernetes.Interface, name, image, node string, cmd []string) string {
	t.Helper()
	var selector map[string]string
	if node == "" {
		platform, err := e.p.Runtime().ImagePlatform(ctx, strings.TrimPrefix(image, "docker.io/"))
		if err != nil || platform == "" {
			t.Fatalf("platform of %s: %q %v", image, platform, err)
		}
		selector = map[string]string{"kubernetes.io/arch": strings.TrimPrefix(platform, "linux/")}
	}
	// An image of the test's registry (localhost:PORT) is pulled; every
	// other was imported, and a pull would hide a missing import.
	policy := corev1.PullNever
	if strings.HasPrefix(image, "localhost:") {
		policy = corev1.PullIfNotPresent
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"pod": name}},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			NodeSelector:  selector,
			NodeName:      node,
			Containers: []corev1.Container{{Name: "c", Image: image, ImagePullPolicy: policy, Command: cmd,
				Ports:          []corev1.ContainerPort{{ContainerPort: 8080}},
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}}, PeriodSeconds: 1}}},
		},
	}
	if cmd != nil {
		pod.Spec.Containers[0].ReadinessProbe = nil
	}
	if _, err := c.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return name
}

// exposePod puts a ClusterIP Service named after pod in front of it.
func exposePod(ctx context.Context, t *testing.T, c kubernetes.Interface, pod string) {
	t.Helper()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: pod},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"pod": pod},
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}
	if _, err := c.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func waitPodReady(ctx context.Context, t *testing.T, c kubernetes.Interface, pod string) {
	t.Helper()
	waitPod(ctx, t, c, pod, "Ready", func(p *corev1.Pod) bool { return isPodReady(p) })
}

func waitPodDone(ctx context.Context, t *testing.T, c kubernetes.Interface, pod string) {
	t.Helper()
	waitPod(ctx, t, c, pod, "Succeeded", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
}

func waitPod(ctx context.Context, t *testing.T, c kubernetes.Interface, pod, what string, ok func(*corev1.Pod) bool) {
	t.Helper()
	var last *corev1.Pod
	err := wait.PollUntilContextTimeout(ctx, time.Second, 5*time.Minute, true, func(ctx context.Context) (bool, error) {
		p, err := c.CoreV1().Pods("default").Get(ctx, pod, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last = p
		return ok(p), nil
	})
	if err != nil {
		t.Fatalf("pod %s not %s: %v; status %+v", pod, what, err, last.Status)
	}
}

func podLogs(ctx context.Context, t *testing.T, c kubernetes.Interface, pod string) string {
	t.Helper()
	data, err := c.CoreV1().Pods("default").GetLogs(pod, &corev1.PodLogOptions{}).DoRaw(ctx)
	if err != nil {
		t.Fatalf("logs of %s: %v", pod, err)
	}
	return string(data)
}

// TestArm64OCIIndex: `image build --platform linux/amd64,linux/arm64
// --output oci-tar` writes one OCI index, whose manifests carry their
// platforms and are the engine's images of those platforms (`make
// test-arm64`; both are cache hits by then, so it assembles and writes).
func TestArm64OCIIndex(t *testing.T) {
	if os.Getenv("EDGECTL_E2E_ARM64") == "" {
		t.Skip("the multi-platform build runs in `make test-arm64`")
	}
	e := setup(t)
	ctx := t.Context()
	file := filepath.Join(t.TempDir(), "node.tar")
	cmd := exec.CommandContext(ctx, edgectlBinary(t), "image", "build", "--platform", "linux/amd64,linux/arm64",
		"--output", "oci-tar", "--file", file, "--tag", e.image)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("image build: %v\n%s", err, out)
	}
	for _, pf := range []string{"linux/amd64", "linux/arm64"} {
		if !strings.Contains(string(out), "("+pf+") in ") || !strings.Contains(string(out), "MB compressed") {
			t.Errorf("the build does not report the sizes of %s:\n%s", pf, out)
		}
	}
	dir := t.TempDir()
	untar(t, file, dir)
	top, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := top.IndexManifest()
	if err != nil || len(m.Manifests) != 1 || !m.Manifests[0].MediaType.IsIndex() {
		t.Fatalf("index.json: %+v %v, want one index", m, err)
	}
	index, err := top.ImageIndex(m.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	im, err := index.IndexManifest()
	if err != nil || len(im.Manifests) != 2 {
		t.Fatalf("index: %+v %v", im, err)
	}
	for _, d := range im.Manifests {
		img, err := index.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		pf := "linux/" + cfg.Architecture
		if d.Platform == nil || d.Platform.OS+"/"+d.Platform.Architecture != pf {
			t.Errorf("manifest %s: platform %+v, config %s", d.Digest, d.Platform, pf)
		}
		want, _, err := e.p.Runtime().ImageLabel(ctx, v1alpha1.ImageFor(e.image, pf), nodeimage.LabelInputs)
		if err != nil || cfg.Config.Labels[nodeimage.LabelInputs] != want {
			t.Errorf("%s: inputs %q, the engine's image has %q (%v)", pf, cfg.Config.Labels[nodeimage.LabelInputs], want, err)
		}
	}
}
