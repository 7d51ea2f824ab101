package cluster

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	nodev1 "github.com/edgectl/edgectl/pkg/apis/node/v1alpha1"
)

// What `edgectl promote` needs of a cluster config to run it on hosts
// rather than in containers: the same node settings, other addresses.

// HostNode is what a host that runs node i of role is given.
type HostNode struct {
	Config *nodev1.NodeConfig
	// Files are put on the host beside the config, by path: a server's
	// manifests (the config's add-ons).
	Files map[string][]byte
}

// PlanHostNode plans node i of role on a host: the Node is called name,
// the agents and the servers after the first reach the first server at
// first (its host or IP), and a server's certificate also names sans.
func PlanHostNode(cfg *v1alpha1.Cluster, role string, i int, name, first string, sans []string) (HostNode, error) {
	nc := baseConfig(cfg, role, name)
	join := ""
	if role == RoleServer {
		nc.TLSSANs = append([]string{"127.0.0.1", "localhost"}, sans...)
		nc.ServiceLBRange = cfg.Network.LoadBalancerRange
		if i > 0 {
			join = first
		}
	} else {
		nc.Server = "https://" + net.JoinHostPort(first, strconv.Itoa(APIPort))
	}
	if err := applyNodeSettings(cfg, nc, role, i, join); err != nil {
		return HostNode{}, err
	}
	if err := checkConfig(nc); err != nil {
		return HostNode{}, err
	}
	hn := HostNode{Config: nc}
	if role == RoleServer {
		files, err := userManifests(cfg)
		if err != nil {
			return HostNode{}, err
		}
		hn.Files = files
	}
	return hn, nil
}

// RandomToken is a new servers' shared secret.
func RandomToken() (string, error) { return randomToken() }

// KubeconfigFor is a server's admin kubeconfig (as it wrote it) renamed
// to context and pointed at server (https://HOST:PORT).
func KubeconfigFor(raw []byte, context, server string) (*clientcmdapi.Config, error) {
	kc, err := clientcmd.Load(raw)
	if err != nil {
		return nil, fmt.Errorf("parse the server's kubeconfig: %w", err)
	}
	return renameKubeconfig(kc, context, server), nil
}

// WaitUsable waits, within timeout, for the API, want Nodes Ready and
// CoreDNS unless disabled; progress is told what it waits for.
func WaitUsable(ctx context.Context, kc *clientcmdapi.Config, want int, disabled []string, timeout time.Duration, progress func(string)) error {
	return waitUsable(ctx, kc, want, !slices.Contains(disabled, "coredns"), timeout, progress)
}

// MergeKubeconfigFile writes kc's context into the kubeconfig file (""
// for $KUBECONFIG's first file or ~/.kube/config).
func MergeKubeconfigFile(path string, kc *clientcmdapi.Config, switchContext bool) error {
	return mergeKubeconfig(path, kc, kc.CurrentContext, switchContext)
}

// RemoveKubeconfig deletes a context written by MergeKubeconfigFile.
func RemoveKubeconfig(path, context string) error { return removeKubeconfig(path, context) }
