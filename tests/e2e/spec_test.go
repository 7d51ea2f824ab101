package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
)

// TestSpecKeptWithCluster covers issue 10 through the real binary: a node
// added later gets its role's args, labels and taints (the Node object and
// kubelet's own configz say so); the spec `cluster get -o yaml` prints
// re-creates the same cluster; edgelet refuses a node config with an
// unknown field, naming the field and the file.
func TestSpecKeptWithCluster(t *testing.T) {
	inLane(t, laneClusters)
	e := setup(t)
	const name = "e2e-spec"
	e.create(t, &v1alpha1.Cluster{Name: name, Agents: 1,
		AgentArgs:  []string{"kubelet-arg=max-pods=33", "node-label=tier=edge", "node-taint=edge=true:NoSchedule"},
		ServerArgs: []string{"kubelet-arg=max-pods=44"},
		Nodes:      []v1alpha1.Node{{Role: "agent", Index: 0, Labels: map[string]string{"site": "first"}}}})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	bin := edgectlBinary(t)
	edgectl := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, bin, append(args, "-q")...)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+e.kubeconfig)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("edgectl %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
		}
		// -q prints only errors (and warnings): no progress, no "ready".
		for _, progress := range []string{"is ready", "Deleted cluster", " • ", " ✓ "} {
			if strings.Contains(stderr.String(), progress) {
				t.Errorf("edgectl %s -q printed progress:\n%s", strings.Join(args, " "), stderr.String())
				break
			}
		}
		return string(out)
	}

	added := strings.TrimSpace(edgectl("node", "add", "-c", name, "--label", "site=second"))
	if added != nodeName(name, "agent", 1) {
		t.Fatalf("node add printed %q", added)
	}
	client := e.client(t, name)
	before := nodeFacts(ctx, t, client)
	want := nodeFact{Labels: "site=second,tier=edge", Taints: "edge=true:NoSchedule", MaxPods: 33}
	if got := before[added]; got.Labels != want.Labels || got.Taints != want.Taints || got.MaxPods != want.MaxPods {
		t.Errorf("added agent: %+v, want the role's settings %+v", got, want)
	}
	if got := before[nodeName(name, "server", 0)].MaxPods; got != 44 {
		t.Errorf("server max-pods %d, want 44", got)
	}

	t.Run("edgelet refuses an unknown field", func(t *testing.T) {
		agent := nodeName(name, "agent", 0)
		res, err := e.p.Runtime().Exec(ctx, agent, []string{"sh", "-c",
			"printf 'role: agent\\nmaxPods: 3\\n' > /tmp/bad.yaml && edgelet agent --config /tmp/bad.yaml"}, nil)
		if err != nil || res.ExitCode == 0 || !strings.Contains(res.Stderr, `unknown field "maxPods"`) || !strings.Contains(res.Stderr, "/tmp/bad.yaml") {
			t.Errorf("exit %d, %v:\n%s", res.ExitCode, err, res.Stderr)
		}
	})

	t.Run("round trip: get -o yaml, delete, create --config", func(t *testing.T) {
		specFile := filepath.Join(t.TempDir(), "spec.yaml")
		if err := os.WriteFile(specFile, []byte(edgectl("cluster", "get", name, "-o", "yaml")), 0o600); err != nil {
			t.Fatal(err)
		}
		ipsBefore := ips(t, e, name)
		edgectl("cluster", "delete", name)
		edgectl("cluster", "create", "--config", specFile, "--image", e.image)
		if after := ips(t, e, name); !reflect.DeepEqual(after, ipsBefore) {
			t.Errorf("node names and IPs: %v, want %v", after, ipsBefore)
		}
		if after := nodeFacts(ctx, t, e.client(t, name)); !reflect.DeepEqual(after, before) {
			t.Errorf("nodes after the round trip:\n%v\nwant\n%v", after, before)
		}
	})
}

// nodeFact is what the round trip must keep of a node.
type nodeFact struct {
	Labels  string // the labels edgectl sets, sorted
	Taints  string
	MaxPods int
}

// nodeFacts reads every Node's own labels and taints, and kubelet's running
// config (configz, through the API server's node proxy).
func nodeFacts(ctx context.Context, t *testing.T, c kubernetes.Interface) map[string]nodeFact {
	t.Helper()
	nodes, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]nodeFact{}
	for _, n := range nodes.Items {
		var labels, taints []string
		for k, v := range n.Labels {
			if !strings.Contains(k, "kubernetes.io/") {
				labels = append(labels, k+"="+v)
			}
		}
		for _, tn := range n.Spec.Taints {
			if !strings.HasPrefix(tn.Key, "node.kubernetes.io/") { // the node controller's own
				taints = append(taints, fmt.Sprintf("%s=%s:%s", tn.Key, tn.Value, tn.Effect))
			}
		}
		sort.Strings(labels)
		sort.Strings(taints)
		raw, err := c.CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes/" + n.Name + "/proxy/configz").DoRaw(ctx)
		if err != nil {
			t.Fatalf("configz of %s: %v", n.Name, err)
		}
		var cz struct {
			Kubelet struct {
				MaxPods int `json:"maxPods"`
			} `json:"kubeletconfig"`
		}
		if err := json.Unmarshal(raw, &cz); err != nil {
			t.Fatalf("configz of %s: %v", n.Name, err)
		}
		out[n.Name] = nodeFact{Labels: strings.Join(labels, ","), Taints: strings.Join(taints, ","), MaxPods: cz.Kubelet.MaxPods}
	}
	return out
}
