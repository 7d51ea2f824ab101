package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/edgectl/edgectl/internal/log"
	"github.com/edgectl/edgectl/internal/runtime"
	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	"github.com/edgectl/edgectl/pkg/build/sysimage"
	"github.com/edgectl/edgectl/pkg/edgelet/pki"
	"github.com/edgectl/edgectl/pkg/registry"
	"github.com/edgectl/edgectl/pkg/version"
)

// TestRegistryCache (issue 13): a fixture "upstream" registry (the same
// registry binary, plain, over TLS from a test CA, on its own network, with a
// log of every blob GET) serves one image standing for docker.io and one for
// ghcr.io. `registry create` makes one container that caches both; clusters
// A and B run pods that name the images by their unchanged upstream names;
// the fixture sees exactly one GET per blob; the hit and miss counts of
// `registry status` match its log; with the fixture stopped, a re-created A
// still runs them; an image pushed to localhost:PORT runs in both clusters;
// both carry the KEP-1755 ConfigMap, whose addresses answer; deleting a
// cluster keeps the registry, and deleting a registry in use is refused.
func TestRegistryCache(t *testing.T) {
	inLane(t, laneClusters)
	e := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	rt := e.p.Runtime()
	upstream := startUpstream(ctx, t, e)

	echo := goBinary(t, "./images/echo", "echo")
	images := map[string]string{ // upstream name -> repository on the fixture
		"docker.io/library/app1:1.0": "library/app1:1.0",
		"ghcr.io/org/app2:1.0":       "org/app2:1.0",
	}
	i := 0
	pushedBlobs := map[string]string{} // digest -> upstream host; every blob of both images
	for ref, repo := range images {
		i++
		img := echoImage(t, echo, fmt.Sprintf("image %d", i))
		upstream.push(ctx, t, repo, img)
		for _, d := range blobDigests(t, img) {
			pushedBlobs[d] = strings.SplitN(ref, "/", 2)[0]
		}
	}

	const reg = "e2e-cache"
	port := freeHostPort(t)
	m := upstream.cache(ctx, t, reg, port, "docker.io", "ghcr.io")
	if cs, _ := rt.List(ctx, map[string]string{registry.LabelRegistry: reg}); len(cs) != 1 {
		t.Fatalf("registry containers: %v", cs)
	}

	clusters := []string{"e2e-rega", "e2e-regb"}
	clients := map[string]kubernetes.Interface{}
	for _, c := range clusters {
		e.create(t, &v1alpha1.Cluster{Name: c, Agents: 1, Registries: []string{reg}})
		clients[c] = e.client(t, c)
	}
	for _, c := range clusters {
		for ref := range images {
			runImage(ctx, t, clients[c], ref)
		}
	}
	// Every blob of both images was fetched from the upstream exactly once,
	// for 2 clusters of 2 nodes: the cache served the rest. (An empty log
	// fails here: each pushed blob must be in it.)
	gets := upstream.blobGETs(ctx, t)
	misses := map[string]int64{}
	for digest, host := range pushedBlobs {
		if paths := gets[digest]; len(paths) != 1 {
			t.Errorf("the upstream saw %d GETs of blob %s (%s): %v", len(paths), digest, host, paths)
		}
		misses[host]++
	}
	for digest, paths := range gets {
		if _, ok := pushedBlobs[digest]; !ok {
			t.Errorf("the upstream served blob %s, which was never pushed: %v", digest, paths)
		}
	}
	st, err := m.Status(ctx, reg)
	if err != nil {
		t.Fatal(err)
	}
	var hosts []string
	for _, u := range st.Upstreams {
		hosts = append(hosts, u.Host)
	}
	if slices.Sort(hosts); strings.Join(hosts, ",") != "docker.io,ghcr.io" {
		t.Errorf("registry status lists upstreams %v, want docker.io and ghcr.io", hosts)
	}
	for _, u := range st.Upstreams {
		if !u.Reachable || u.Misses != misses[u.Host] || u.Hits < 1 || u.BytesCached == 0 {
			t.Errorf("status of %s: %+v; the upstream's log says %d misses", u.Host, u, misses[u.Host])
		}
	}
	t.Logf("upstream blob GETs: %d; status: %+v", len(gets), st.Upstreams)

	// KEP-1755: the ConfigMap, and each of its addresses answers /v2/.
	for _, c := range clusters {
		cm, err := clients[c].CoreV1().ConfigMaps("kube-public").Get(ctx, "local-registry-hosting", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		var hosting v1alpha1.LocalRegistry
		if err := json.Unmarshal(yamlToJSON(t, cm.Data["localRegistryHosting.v1"]), &hosting); err != nil ||
			hosting.Host != fmt.Sprintf("localhost:%d", port) || hosting.HostFromClusterNetwork != registry.Endpoint(reg) {
			t.Fatalf("%s: local-registry-hosting %+v %v", c, hosting, err)
		}
		httpGet(ctx, t, "http://"+hosting.Host+"/v2/")
		// From a pod: one of the app pods (the echo image) above.
		out := e.nodeExec(t, nodeName(c, "server", 0), "kubectl", "exec", "deploy/"+deploymentFor("ghcr.io/org/app2:1.0"), "--",
			"/echo", "get", "http://"+hosting.HostFromClusterNetwork+"/v2/")
		if !strings.Contains(out, "{}") {
			t.Errorf("%s: hostFromClusterNetwork from a pod: %q", c, out)
		}
	}

	// A pushed image runs in both clusters by its localhost name.
	local := fmt.Sprintf("localhost:%d/app:dev", port)
	dockerPush(ctx, t, local, echoImage(t, echo, "pushed"))
	for _, c := range clusters {
		runImage(ctx, t, clients[c], local)
	}

	// A pod pushes to the address the cluster publishes; the other cluster
	// runs what it pushed, by that address.
	pushed := registry.Endpoint(reg) + "/pushed:1"
	e.nodeExec(t, nodeName(clusters[0], "server", 0), "kubectl", "exec", "deploy/"+deploymentFor("ghcr.io/org/app2:1.0"), "--",
		"/echo", "push", "http://"+pushed)
	runImage(ctx, t, clients[clusters[1]], pushed)

	// Cluster B stopped, and the registry too (as after a reboot): starting
	// B brings the registry back, on B's network, before B's nodes.
	if err := e.p.Stop(ctx, clusters[1]); err != nil {
		t.Fatal(err)
	}
	if err := rt.Stop(ctx, registry.ContainerName(reg)); err != nil {
		t.Fatal(err)
	}
	if err := e.p.Start(ctx, clusters[1], 4*time.Minute); err != nil {
		t.Fatal(err)
	}
	if r, err := m.Get(ctx, reg); err != nil || r.State != "running" || !slices.Contains(r.Networks, "edgectl-"+clusters[1]) {
		t.Errorf("registry after cluster start: %+v %v", r, err)
	}

	// Offline: the upstream is gone, and a re-created cluster still runs.
	if err := rt.Stop(ctx, upstreamName); err != nil {
		t.Fatal(err)
	}
	if err := m.Delete(ctx, reg, false, clusterNetworks(clusters)); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("deleting a registry in use: %v", err)
	}
	if err := e.p.Delete(ctx, clusters[0], e.kubeconfig); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Get(ctx, reg); err != nil {
		t.Fatalf("cluster delete took the registry: %v", err)
	}
	e.create(t, &v1alpha1.Cluster{Name: clusters[0], Agents: 1, Registries: []string{reg}})
	a := e.client(t, clusters[0])
	for ref := range images {
		runImage(ctx, t, a, ref)
	}
	// Cold cache, upstream gone: ErrImagePull, with an Event naming the upstream.
	e.nodeExec(t, nodeName(clusters[0], "server", 0), "kubectl", "run", "never", "--image", "docker.io/library/never:1")
	var last string
	err = wait.PollUntilContextTimeout(ctx, time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		evs, err := a.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=never,reason=Failed"})
		for _, ev := range evs.Items {
			last = ev.Message
			if strings.Contains(ev.Message, upstreamName) {
				return true, nil
			}
		}
		return false, err
	})
	if err != nil {
		t.Errorf("no pull failure Event names the upstream %s: %v (last: %q)", upstreamName, err, last)
	}
	t.Logf("pull failure with the upstream gone: %s", last)
	// Offline: not one more GET reached the upstream (its log is read from
	// the stopped container; the same 1 GET per pushed blob as before).
	after := upstream.blobGETs(ctx, t)
	for digest := range pushedBlobs {
		if len(after[digest]) != 1 {
			t.Errorf("blob %s: %d GETs after the upstream stopped, 1 before", digest, len(after[digest]))
		}
	}
	if len(after) != len(pushedBlobs) {
		t.Errorf("the upstream saw %d blobs, %d were pushed", len(after), len(pushedBlobs))
	}

	// Seeding, for an offline site: an image the upstream never had, loaded
	// from the engine into docker.io's cache, runs by its docker.io name.
	seeded := "docker.io/library/seeded:1.0"
	dockerLoad(ctx, t, seeded, echoImage(t, echo, "seeded"))
	bin := edgectlBinary(t)
	out, err := exec.CommandContext(ctx, bin, "registry", "load", reg, seeded).CombinedOutput()
	if err != nil {
		t.Fatalf("registry load: %v\n%s", err, out)
	}
	runImage(ctx, t, a, seeded)
	out, err = exec.CommandContext(ctx, bin, "registry", "list", "-o", "json").Output()
	var list []struct {
		Name, State string
		Clusters    []string
	}
	if err != nil || json.Unmarshal(out, &list) != nil || len(list) != 1 || strings.Join(list[0].Clusters, ",") != "e2e-rega,e2e-regb" {
		t.Errorf("registry list: %v\n%s", err, out)
	}
}

const (
	upstreamName = "edgectl-e2e-upstream"
	upstreamNet  = "edgectl-e2e-upstream"
)

// fixture is the upstream registry of TestRegistryCache.
type fixture struct {
	e    *env
	ca   []byte
	port int
	tr   http.RoundTripper
}

// startUpstream runs the registry image as a plain registry over TLS on its
// own network, logging every blob GET.
func startUpstream(ctx context.Context, t testing.TB, e *env) *fixture {
	t.Helper()
	rt := e.p.Runtime()
	ca, cert, key := testCA(t, upstreamName, "127.0.0.1")
	cleanup := func() {
		_ = rt.Remove(context.Background(), upstreamName)
		_ = rt.DeleteNetwork(context.Background(), upstreamNet)
	}
	cleanup()
	t.Cleanup(cleanup)
	if err := rt.EnsureNetwork(ctx, upstreamNet, "10.89.246.0/24", "10.89.246.1", map[string]string{"io.edgectl.e2e": "upstream"}); err != nil {
		t.Fatal(err)
	}
	port := freeHostPort(t)
	conf := `{"listen": ":5000", "root": "/var/lib/registry", "tlsCert": "/etc/edgectl/tls.crt", "tlsKey": "/etc/edgectl/tls.key", "logBlobs": true}`
	err := rt.CreateNode(ctx, runtime.NodeSpec{Name: upstreamName, Hostname: upstreamName, Image: version.RegistryImage(),
		Network: upstreamNet, Labels: map[string]string{"io.edgectl.e2e": "upstream"},
		Ports: []runtime.PortMapping{{HostIP: "127.0.0.1", HostPort: port, ContainerPort: 5000, Protocol: "tcp"}},
		Files: map[string][]byte{"/etc/edgectl/registry.json": []byte(conf), "/etc/edgectl/tls.crt": cert, "/etc/edgectl/tls.key": key}})
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	f := &fixture{e: e, ca: ca, port: port, tr: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		resp, err := (&http.Client{Transport: f.tr}).Get(fmt.Sprintf("https://127.0.0.1:%d/v2/", port))
		if err == nil {
			resp.Body.Close()
		}
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("the upstream fixture does not answer: %v", err)
	}
	return f
}

// registries is the suite's registry manager.
func (e *env) registries() *registry.Manager {
	return registry.NewManager(e.p.Runtime(), log.New(os.Stderr, 0, false))
}

// startRegistry creates a registry (after deleting a leftover of an
// interrupted run of the same name) and deletes it when the test ends.
func (e *env) startRegistry(ctx context.Context, t testing.TB, opts registry.CreateOptions) *registry.Registry {
	t.Helper()
	m := e.registries()
	_ = m.Delete(ctx, opts.Name, true, nil)
	t.Cleanup(func() {
		if err := m.Delete(context.Background(), opts.Name, true, nil); err != nil {
			t.Errorf("delete registry %s: %v", opts.Name, err)
		}
	})
	r, err := m.Create(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// cache creates registry reg (local registry on port, 0: none) that caches
// the fixture under each of hosts, and deletes it when the test ends.
func (f *fixture) cache(ctx context.Context, t testing.TB, reg string, port int, hosts ...string) *registry.Manager {
	t.Helper()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, f.ca, 0o644); err != nil {
		t.Fatal(err)
	}
	opts := registry.CreateOptions{Name: reg, Port: port, Networks: []string{upstreamNet}}
	for _, h := range hosts {
		opts.Upstreams = append(opts.Upstreams, registry.Upstream{Host: h, URL: "https://" + upstreamName + ":5000", CAFile: ca})
	}
	f.e.startRegistry(ctx, t, opts)
	m := f.e.registries()
	return m
}

// push writes img to the fixture as repo:tag.
func (f *fixture) push(ctx context.Context, t testing.TB, repo string, img v1.Image) {
	t.Helper()
	ref, err := name.NewTag(fmt.Sprintf("127.0.0.1:%d/%s", f.port, repo))
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithContext(ctx), remote.WithTransport(f.tr)); err != nil {
		t.Fatalf("push %s to the upstream: %v", repo, err)
	}
}

var blobGET = regexp.MustCompile(`blob GET (sha256:[a-f0-9]{64}) (\S+)`)

// blobGETs reads the fixture's log: digest -> the paths it was fetched by.
// The pushes above wrote blobs but fetched none.
func (f *fixture) blobGETs(ctx context.Context, t testing.TB) map[string][]string {
	t.Helper()
	var buf bytes.Buffer
	if err := f.e.p.Runtime().Logs(ctx, upstreamName, &buf); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		if m := blobGET.FindStringSubmatch(sc.Text()); m != nil {
			out[m[1]] = append(out[m[1]], m[2])
		}
	}
	return out
}

// blobDigests are the digests of an image's config and layers: the blobs a
// pull fetches.
func blobDigests(t testing.TB, img v1.Image) []string {
	t.Helper()
	cfg, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	out := []string{cfg.String()}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d.String())
	}
	return out
}

// echoImage is a one-layer image of the echo binary, told apart from the
// others by a file holding note.
func echoImage(t testing.TB, echo, note string) v1.Image {
	t.Helper()
	return echoImageFor(t, echo, note, "amd64")
}

// echoImageFor is echoImage for arch (echo must be built for it).
func echoImageFor(t testing.TB, echo, note, arch string) v1.Image {
	t.Helper()
	notePath := filepath.Join(t.TempDir(), "note")
	if err := os.WriteFile(notePath, []byte(note), 0o644); err != nil {
		t.Fatal(err)
	}
	img, err := sysimage.Build(sysimage.Spec{Arch: arch, Entrypoint: []string{"/echo"}, User: "65534",
		Files: map[string]string{"/echo": echo, "/note": notePath}})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// dockerPush loads img into the engine as ref and pushes it with the docker CLI.
func dockerPush(ctx context.Context, t testing.TB, ref string, img v1.Image) {
	t.Helper()
	dockerLoad(ctx, t, ref, img)
	if out, err := exec.CommandContext(ctx, "docker", "push", ref).CombinedOutput(); err != nil {
		t.Fatalf("docker push: %v\n%s", err, out)
	}
}

// dockerLoad loads img into the engine as ref (removed at the end).
func dockerLoad(ctx context.Context, t testing.TB, ref string, img v1.Image) {
	t.Helper()
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "image.tar")
	if err := tarball.WriteToFile(archive, tag, img); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.CommandContext(ctx, "docker", "load", "-i", archive).CombinedOutput(); err != nil {
		t.Fatalf("docker load: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", ref).Run() })
}

// runImage runs ref as a one-replica Deployment per node and waits until
// all of them are available.
func runImage(ctx context.Context, t testing.TB, c kubernetes.Interface, ref string) {
	t.Helper()
	name := deploymentFor(ref)
	nodes, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	replicas := int32(len(nodes.Items))
	labels := map[string]string{"app": name}
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
				// Every node pulls: one replica on each.
				TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: corev1.LabelHostname,
					WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: &metav1.LabelSelector{MatchLabels: labels}}},
				Containers: []corev1.Container{{Name: "app", Image: ref, ImagePullPolicy: corev1.PullIfNotPresent}}}}}}
	if _, err := c.AppsV1().Deployments("default").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, time.Second, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		d, err := c.AppsV1().Deployments("default").Get(ctx, name, metav1.GetOptions{})
		return err == nil && d.Status.AvailableReplicas == replicas, nil
	})
	if err != nil {
		pods, _ := c.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
		for _, p := range pods.Items {
			t.Logf("%s on %s: %s %+v", p.Name, p.Spec.NodeName, p.Status.Phase, p.Status.ContainerStatuses)
		}
		t.Fatalf("%s did not run on every node: %v", ref, err)
	}
}

// deploymentFor is the name of runImage's Deployment of ref.
func deploymentFor(ref string) string {
	name := "app-" + regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(ref, "-")
	return strings.Trim(name[:min(len(name), 50)], "-")
}

// clusterNetworks maps the clusters' networks to them, as `registry delete` does.
func clusterNetworks(clusters []string) map[string]string {
	out := map[string]string{}
	for _, c := range clusters {
		out["edgectl-"+c] = c
	}
	return out
}

// testCA makes a CA and a serving certificate for the names (DNS names or
// IPs), returning the PEM of the CA, the certificate and its key.
func testCA(t testing.TB, names ...string) (ca, cert, key []byte) {
	t.Helper()
	dir := t.TempDir()
	authority, err := pki.EnsureCA(dir, "ca", "edgectl-e2e-upstream-ca")
	if err != nil {
		t.Fatal(err)
	}
	spec := pki.CertSpec{CommonName: names[0], Server: true}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			spec.IPs = append(spec.IPs, ip)
		} else {
			spec.DNSNames = append(spec.DNSNames, n)
		}
	}
	certFile, keyFile, err := authority.EnsureCert(dir, "serving", spec)
	if err != nil {
		t.Fatal(err)
	}
	read := func(p string) []byte {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	return authority.CertPEM(), read(certFile), read(keyFile)
}

func yamlToJSON(t *testing.T, s string) []byte {
	t.Helper()
	data, err := yaml.YAMLToJSON([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return data
}
