package server

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/edgectl/edgectl/pkg/edgelet/addons"
	"github.com/edgectl/edgectl/pkg/edgelet/agent"
	"github.com/edgectl/edgectl/pkg/edgelet/component"
	"github.com/edgectl/edgectl/pkg/edgelet/config"
	"github.com/edgectl/edgectl/pkg/edgelet/datastore"
	"github.com/edgectl/edgectl/pkg/edgelet/etcd"
	"github.com/edgectl/edgectl/pkg/edgelet/kubeconfig"
	"github.com/edgectl/edgectl/pkg/edgelet/servicelb"
	"github.com/edgectl/edgectl/pkg/edgelet/storage"
	"github.com/edgectl/edgectl/pkg/iprange"
)

// DefaultCoreDNSImage is the CoreDNS image of the offline bundle.
const DefaultCoreDNSImage = "ghcr.io/edgectl/coredns:1.14.7"

// Run starts the control plane (and the node's agent unless disabled) and
// blocks until ctx ends or a component fails.
func Run(ctx context.Context, cfg *config.Server) error {
	if err := cfg.Complete(); err != nil {
		return err
	}
	component.AllowSharedLogging()
	start := time.Now()
	joining := cfg.Agent.Server != ""
	ha := cfg.ClusterInit || joining
	if ha && cfg.Token == "" {
		return fmt.Errorf("HA servers need --token: the shared server secret (the same on every server)")
	}
	if joining {
		if _, err := os.Stat(filepath.Join(cfg.TLSDir(), "ca.key")); err != nil {
			if err := fetchBundle(ctx, cfg.Agent.Server, cfg.Token, cfg.TLSDir()); err != nil {
				return err
			}
			klog.InfoS("Fetched the cluster's CAs from an existing server", "server", cfg.Agent.Server)
		}
	}
	c, err := ensureCerts(cfg)
	if err != nil {
		return fmt.Errorf("certificates: %w", err)
	}
	var etcdServers []string
	var etcdTLS []string
	if ha {
		member := etcd.Member{Name: cfg.NodeName, IP: cfg.NodeIP, DataDir: filepath.Join(cfg.ServerDir(), "etcd"), Certs: c.Etcd}
		if joining {
			member.Join = joinEtcdURL(cfg.Agent.Server)
		}
		e, err := etcd.Start(ctx, member)
		if err != nil {
			return err
		}
		defer e.Close()
		etcdServers = []string{etcd.ClientURL}
		etcdTLS = []string{"etcd-cafile=" + c.Etcd.CAFile, "etcd-certfile=" + c.Etcd.ClientCert, "etcd-keyfile=" + c.Etcd.ClientKey}
		klog.InfoS("Embedded etcd is ready", "member", cfg.NodeName, "after", time.Since(start).Round(time.Millisecond))
	} else if etcdServers, err = datastore.StartKine(ctx, cfg.ServerDir(), cfg.DatastoreEndpoint); err != nil {
		return err
	}
	errc := make(chan error, 8)
	run := func(name string, fn func(context.Context, []string) error, args []string) {
		go func() {
			err := fn(ctx, args)
			if ctx.Err() == nil {
				errc <- fmt.Errorf("%s exited: %v", name, err)
			}
		}()
	}
	tun, egress, err := startTunnels(ctx, cfg, c)
	if err != nil {
		return err
	}
	c.EgressConfig = egress
	run("kube-apiserver", component.APIServer, apiServerArgs(cfg, c, strings.Join(etcdServers, ","), etcdTLS))
	// The node's containerd starts and takes in the offline images while
	// the API server boots: kubelet then starts as soon as the API is ready.
	node := make(chan *agent.Node, 1)
	// An HA server's controller manager builds its controllers only once it
	// leads: at the cluster's first start the first server's does at once;
	// later, or on a joining server, it may never, and kubelet does not wait.
	_, statErr := os.Stat(filepath.Join(cfg.Agent.AgentDir(), "kubelet.yaml"))
	firstStart := statErr != nil // kubelet writes its config at every start
	waitForControllers := !ha || (!joining && firstStart)
	if !cfg.DisableAgent {
		go func() {
			n, err := agent.Start(ctx, &cfg.Agent)
			if err != nil {
				if ctx.Err() == nil {
					errc <- fmt.Errorf("agent: %w", err)
				}
				return
			}
			node <- n
		}()
	}

	restCfg, err := clientcmd.BuildConfigFromFlags("", c.Admin)
	if err != nil {
		return err
	}
	if err := waitReady(ctx, restCfg, errc); err != nil {
		return err
	}
	klog.InfoS("API server is ready", "after", time.Since(start).Round(time.Millisecond))
	adminClient, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return err
	}
	tun.setClient(adminClient)
	if _, err := ensureJoin(ctx, cfg, adminClient, c.CA.CertPEM()); err != nil {
		return err
	}
	go runTokenApprover(ctx, adminClient)
	if ha {
		// Right after a restart the API server may answer while etcd still
		// has no quorum (another member restarting too): a write can time
		// out, and the next one succeeds.
		if err := retryWrite(ctx, "publish the server bundle", func() error {
			return storeBundle(ctx, adminClient, cfg.TLSDir(), cfg.Token)
		}); err != nil {
			return err
		}
	}
	// Written last: edgectl takes its presence to mean the token is ready too.
	if err := writeAdminKubeconfig(cfg, c); err != nil {
		return err
	}
	leaderElect := ha
	run("kube-controller-manager", component.ControllerManager, controllerManagerArgs(cfg, c, leaderElect))
	run("kube-scheduler", component.Scheduler, schedulerArgs(cfg, c, leaderElect))

	manifests := filepath.Join(cfg.ServerDir(), "manifests")
	if err := addons.WritePackaged(manifests, addons.Values{
		ClusterDNS: cfg.ClusterDNS, ClusterDomain: cfg.ClusterDomain, CoreDNSImage: DefaultCoreDNSImage,
		NodeName: cfg.NodeName, NodeIP: cfg.NodeIP, MetricsPort: MetricsServerPort,
	}, cfg.Disable); err != nil {
		return fmt.Errorf("write packaged manifests: %w", err)
	}
	mgr, err := addons.New(restCfg, manifests, filepath.Join(cfg.ServerDir(), "manifests.state.json"))
	if err != nil {
		return err
	}
	go mgr.Run(ctx)
	if !slices.Contains(cfg.Disable, "local-path") {
		go storage.Run(ctx, 2*time.Second, "provisioner", func(ctx context.Context) error {
			return storage.Provision(ctx, adminClient, cfg.StorageDir())
		})
	}

	if !slices.Contains(cfg.Disable, "metrics-server") {
		go runMetricsServer(ctx, cfg, c)
	}
	if !slices.Contains(cfg.Disable, "helm-controller") {
		go runHelmController(ctx, cfg, c, restCfg, adminClient, ha)
	}
	if pool, err := iprange.Parse(cfg.ServiceLBRange); err == nil && !slices.Contains(cfg.Disable, "servicelb") {
		go servicelb.Run(ctx, adminClient, pool)
	}

	if !cfg.DisableAgent {
		creds := agent.Credentials{CAFile: c.CA.CertFile, KubeletKubeconfig: c.Kubelet, KubeProxyKubeconfig: c.KubeProxy}
		go func() {
			var n *agent.Node
			select {
			case <-ctx.Done():
				return
			case n = <-node:
			}
			if waitForControllers {
				waitControllersBuilt(ctx, 30*time.Second)
			}
			if err := n.Run(ctx, creds); err != nil && ctx.Err() == nil {
				errc <- fmt.Errorf("agent: %w", err)
			}
		}()
		go labelControlPlane(ctx, adminClient, cfg.NodeName, time.Second)
	}
	select {
	case <-ctx.Done():
		return nil
	case err := <-errc:
		return err
	}
}

// waitReady polls /readyz until it answers ok, the API server exits, or ctx ends.
func waitReady(ctx context.Context, restCfg *rest.Config, errc <-chan error) error {
	client, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return err
	}
	pollCtx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	var last error
	err = wait.PollUntilContextCancel(pollCtx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		select {
		case err := <-errc:
			return false, err
		default:
		}
		body, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err != nil {
			last = fmt.Errorf("%v: %s", err, body)
			return false, nil
		}
		return string(body) == "ok", nil
	})
	if err != nil {
		return fmt.Errorf("API server not ready (last answer: %v): %w", last, err)
	}
	return nil
}

// writeAdminKubeconfig writes the user's kubeconfig with embedded credentials
// so it can be copied off the node as one file.
func writeAdminKubeconfig(cfg *config.Server, c *certs) error {
	if cfg.WriteKubeconfig == "" {
		return nil
	}
	mode, err := strconv.ParseUint(cfg.WriteKubeconfigMode, 8, 32)
	if err != nil {
		return fmt.Errorf("--write-kubeconfig-mode %q: %w", cfg.WriteKubeconfigMode, err)
	}
	cert, err := os.ReadFile(filepath.Join(cfg.TLSDir(), "client-admin.crt"))
	if err != nil {
		return err
	}
	key, err := os.ReadFile(filepath.Join(cfg.TLSDir(), "client-admin.key"))
	if err != nil {
		return err
	}
	return kubeconfig.Write(cfg.WriteKubeconfig, kubeconfig.Spec{
		Server: c.LocalURL, CAData: c.CA.CertPEM(), CertData: cert, KeyData: key,
	}, os.FileMode(mode))
}

// joinEtcdURL is the etcd client URL on the host of a server's API URL.
func joinEtcdURL(apiURL string) string {
	u, err := url.Parse(apiURL)
	if err != nil {
		return ""
	}
	return "https://" + u.Hostname() + ":2379"
}

// retryWrite runs write until it succeeds, for up to two minutes.
func retryWrite(ctx context.Context, what string, write func() error) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		err := write()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		klog.InfoS("Retrying", "what", what, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
	}
}
