package cluster

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
)

// waitUsable waits, within timeout, for the real signals that a cluster can
// be used: /readyz through the load balancer, `want` nodes Ready, and CoreDNS
// available unless it is disabled. On timeout the error names what was not
// ready.
func waitUsable(ctx context.Context, kc *clientcmdapi.Config, want int, coreDNS bool, timeout time.Duration, progress func(string)) error {
	client, err := clientFor(kc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	state := "the API server /readyz"
	err = wait.PollUntilContextCancel(ctx, 250*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		ok, now := usable(ctx, client, want, coreDNS)
		if ctx.Err() != nil {
			return false, nil // keep the last real answer, not the deadline's
		}
		if now != state && !ok {
			progress(now)
		}
		state = now
		return ok, nil
	})
	if err != nil {
		if ctx.Err() != nil && ctx.Err() != context.DeadlineExceeded {
			return err
		}
		return edgeerrors.New(edgeerrors.KindTimeout, "raise --wait, or look at the exported node logs",
			"cluster not usable after %s: waiting for %s", timeout, state)
	}
	return nil
}

// waitNodeReady waits, within timeout, for the Node called name to be Ready;
// logs is the command that shows its edgelet's log.
func waitNodeReady(ctx context.Context, kc *clientcmdapi.Config, name string, timeout time.Duration, logs string) error {
	client, err := clientFor(kc)
	if err != nil {
		return err
	}
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		n, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		return err == nil && nodeReady(n), nil
	})
	if err != nil && ctx.Err() == nil {
		return edgeerrors.New(edgeerrors.KindTimeout, fmt.Sprintf("look at `%s`", logs),
			"node %s not Ready after %s", name, timeout)
	}
	return err
}

// clientFor is a client of the cluster in kc whose requests give up after
// 5 s, so that polls keep their pace while a server is down.
func clientFor(kc *clientcmdapi.Config) (kubernetes.Interface, error) {
	restCfg, err := clientcmd.NewDefaultClientConfig(*kc, nil).ClientConfig()
	if err != nil {
		return nil, err
	}
	restCfg.Timeout = 5 * time.Second
	return kubernetes.NewForConfig(restCfg)
}

// usable checks once, and says what it is still waiting for.
func usable(ctx context.Context, client kubernetes.Interface, want int, coreDNS bool) (bool, string) {
	body, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	if err != nil {
		return false, fmt.Sprintf("the API server /readyz (%v)", err)
	}
	if string(body) != "ok" {
		return false, fmt.Sprintf("the API server /readyz (%.200s)", body)
	}
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return false, "the node list"
	}
	var notReady []string
	ready := 0
	for _, n := range nodes.Items {
		if nodeReady(&n) {
			ready++
		} else {
			notReady = append(notReady, n.Name)
		}
	}
	if ready < want {
		sort.Strings(notReady)
		return false, fmt.Sprintf("%d of %d nodes Ready (not ready: %s)", ready, want, orNone(notReady))
	}
	if !coreDNS {
		return true, ""
	}
	dep, err := client.AppsV1().Deployments("kube-system").Get(ctx, "coredns", metav1.GetOptions{})
	if err != nil || !deploymentAvailable(dep) {
		return false, "CoreDNS (deployment kube-system/coredns) to be available"
	}
	return true, ""
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func deploymentAvailable(d *appsv1.Deployment) bool {
	return d.Status.ReadyReplicas > 0 && d.Status.ReadyReplicas >= d.Status.Replicas
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none registered yet"
	}
	return strings.Join(s, ", ")
}
