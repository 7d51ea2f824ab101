package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/edgectl/edgectl/pkg/cluster"

	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	"github.com/edgectl/edgectl/pkg/build/nodeimage"
)

// TestHA: 3 servers with embedded etcd behind the load balancer. With one
// server container killed, the API through the LB keeps answering and a new
// Deployment schedules and runs. Then the dead server is deleted (its etcd
// member goes too), a new server is added, and the cluster survives losing
// the first server: the new one is a voting member behind the LB.
func TestHA(t *testing.T) {
	// Alone, in no lane: 3 etcd members restarting one after another
	// beside the other lane's load timed out etcd requests, and a server's
	// edgelet restarted in the middle of rotate-key.
	e := setup(t)
	const name = "e2e-ha"
	e.create(t, &v1alpha1.Cluster{Name: name, Servers: 3, Agents: 1,
		ServerArgs: []string{"kubelet-arg=max-pods=44", "node-label=tier=control"}})
	client := e.client(t, name)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	members := e.nodeExec(t, nodeName(name, "server", 0), "ls", "/var/lib/edgelet/server/etcd/member")
	if !strings.Contains(members, "wal") {
		t.Fatalf("server-0 has no etcd data: %s", members)
	}
	key := rotateKeyHA(ctx, t, e, name)
	rotateSecretHA(ctx, t, e, name)

	victim := nodeName(name, "server", 1)
	if err := e.p.Runtime().Signal(ctx, victim, "KILL"); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed %s", victim)
	// The API through the LB answers while the dead server is detected:
	// wait for its Node to turn NotReady, so the scheduler avoids it.
	err := wait.PollUntilContextTimeout(ctx, time.Second, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		n, err := client.CoreV1().Nodes().Get(ctx, victim, metav1.GetOptions{})
		return err == nil && !isReady(n), nil
	})
	if err != nil {
		t.Fatalf("node %s never went NotReady (API through the LB unusable?): %v", victim, err)
	}

	labels := map[string]string{"app": "after-kill"}
	replicas := int32(2)
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "after-kill", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "echo", Image: nodeimage.EchoImage}}}}},
	}
	// The LB needs a health-check round to drop the dead server; the
	// client retries until the API answers again.
	err = wait.PollUntilContextTimeout(ctx, time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := client.AppsV1().Deployments("default").Create(ctx, dep, metav1.CreateOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("API through the LB did not accept a Deployment after killing %s: %v", victim, err)
	}
	err = wait.PollUntilContextTimeout(ctx, time.Second, 4*time.Minute, true, func(ctx context.Context) (bool, error) {
		d, err := client.AppsV1().Deployments("default").Get(ctx, "after-kill", metav1.GetOptions{})
		return err == nil && d.Status.ReadyReplicas == replicas, nil
	})
	if err != nil {
		t.Fatalf("new Deployment did not run with one server down: %v", err)
	}

	replaceServer(ctx, t, e, name, victim)
	// The added server took the rotated key from the server bundle.
	if st := e.nodeExec(t, nodeName(name, "server", 3), "edgelet", "secrets-encrypt", "status", "-o", "json"); !strings.Contains(st, `"keys":["`+key+`"]`) {
		t.Errorf("added server's keys: %s, want only %s", st, key)
	}
}

// rotateSecretHA gives the 3 servers a new secret: each then writes the same
// new join token, the old bootstrap token is gone from the cluster, and the
// server added later (replaceServer) joins with the new secret.
func rotateSecretHA(ctx context.Context, t *testing.T, e *env, name string) {
	t.Helper()
	tokenOf := func(i int) string {
		return strings.TrimSpace(e.nodeExec(t, nodeName(name, "server", i), "cat", "/var/lib/edgelet/server/token"))
	}
	old := tokenOf(0)
	start := time.Now()
	bin := edgectlBinary(t)
	if out, msgs, err := runEdgectl(ctx, bin, e.kubeconfig, "cluster", "rotate-secret", name); err != nil {
		t.Fatalf("cluster rotate-secret: %v\n%s%s", err, out, msgs)
	}
	t.Logf("rotated the secret of 3 servers in %s", time.Since(start).Round(100*time.Millisecond))
	now := tokenOf(0)
	for i := 1; i < 3; i++ {
		if got := tokenOf(i); got != now {
			t.Errorf("server-%d's join token %s, server-0's %s", i, joinTokenID(got), joinTokenID(now))
		}
	}
	out, msgs, err := runEdgectl(ctx, bin, e.kubeconfig, "token", "list", "-c", name, "-o", "json")
	if err != nil || now == old || !strings.Contains(out, `"id": "`+joinTokenID(now)+`"`) || strings.Contains(out, `"id": "`+joinTokenID(old)+`"`) {
		t.Errorf("after rotate-secret (%s -> %s), token list: %v\n%s%s", joinTokenID(old), joinTokenID(now), err, out, msgs)
	}
}

// rotateKeyHA rotates the Secrets key of the 3 servers: afterwards each holds
// only the new key, and a Secret written before reads back. It returns the
// new key's name.
func rotateKeyHA(ctx context.Context, t *testing.T, e *env, name string) string {
	t.Helper()
	client := e.client(t, name)
	value := fmt.Sprintf("ha-secret-%d", time.Now().UnixNano())
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "at-rest", Namespace: "default"}, StringData: map[string]string{"password": value}}
	if _, err := client.CoreV1().Secrets("default").Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Through the binary, as a user runs it; its stdout names the new key.
	start := time.Now()
	out, msgs, err := runEdgectl(ctx, edgectlBinary(t), e.kubeconfig, "cluster", "rotate-key", name)
	_, key, found := strings.Cut(strings.TrimSpace(out), " is encrypted with ")
	if err != nil || !found || !strings.HasPrefix(key, "key-") {
		t.Fatalf("cluster rotate-key: %v\n%s%s", err, out, msgs)
	}
	t.Logf("rotated to %s on 3 servers in %s", key, time.Since(start).Round(100*time.Millisecond))
	for i := 0; i < 3; i++ {
		st := e.nodeExec(t, nodeName(name, "server", i), "edgelet", "secrets-encrypt", "status", "-o", "json")
		if !strings.Contains(st, `"keys":["`+key+`"]`) {
			t.Errorf("server-%d keys after rotate-key: %s, want only %s", i, st, key)
		}
	}
	readBack(ctx, t, client, value, "after rotate-key")
	return key
}

// replaceServer deletes the dead server, adds a new one, and kills server-0:
// the API through the LB must keep answering with the new server voting.
func replaceServer(ctx context.Context, t *testing.T, e *env, name, dead string) {
	client := e.client(t, name)
	deadIP := nodeIP(ctx, t, client, dead)
	if err := e.p.DeleteNode(ctx, dead); err != nil {
		t.Fatalf("delete %s: %v", dead, err)
	}
	added, err := e.p.AddNode(ctx, cluster.AddNodeOptions{Cluster: name, Role: "server", Wait: 3 * time.Minute})
	if err != nil {
		t.Fatalf("add server: %v", err)
	}
	if want := nodeName(name, "server", 3); added != want {
		t.Fatalf("added %s, want %s", added, want)
	}
	waitNodeReady(ctx, t, client, added)
	// The new server gets the serverArgs from the stored spec (issue 10).
	if f := nodeFacts(ctx, t, client)[added]; f.MaxPods != 44 || f.Labels != "tier=control" {
		t.Errorf("added server: %+v, want max-pods 44 and tier=control", f)
	}
	if _, err := client.CoreV1().Nodes().Get(ctx, dead, metav1.GetOptions{}); err == nil {
		t.Errorf("Node %s still exists after node delete", dead)
	}

	var members []struct {
		Name    string `json:"name"`
		Learner bool   `json:"learner"`
	}
	out := e.nodeExec(t, nodeName(name, "server", 0), "edgelet", "member", "ls", "-o", "json")
	if err := json.Unmarshal([]byte(out), &members); err != nil {
		t.Fatalf("member ls: %v\n%s", err, out)
	}
	var names []string
	for _, m := range members {
		if m.Learner {
			t.Errorf("member %s is still a learner", m.Name)
		}
		names = append(names, m.Name)
	}
	sort.Strings(names)
	want := []string{nodeName(name, "server", 0), nodeName(name, "server", 2), added}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("etcd members %v, want %v", names, want)
	}

	lb := e.nodeExec(t, "edgectl-"+name+"-lb", "cat", "/etc/edgectl/haproxy.cfg")
	if !strings.Contains(lb, nodeIP(ctx, t, client, added)+":6443") || strings.Contains(lb, deadIP+":6443") {
		t.Fatalf("load balancer config does not list exactly the current servers:\n%s", lb)
	}

	first := nodeName(name, "server", 0)
	if err := e.p.Runtime().Signal(ctx, first, "KILL"); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed %s; servers 2 and 3 hold the quorum", first)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "after-replace", Namespace: "default"}}
	err = wait.PollUntilContextTimeout(ctx, time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := client.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("API through the LB did not accept a write with %s down and %s added: %v", first, added, err)
	}
}
