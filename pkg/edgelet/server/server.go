package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
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
	"github.com/edgectl/edgectl/pkg/edgelet/kubeconfig"
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
	c, err := ensureCerts(cfg)
	if err != nil {
		return fmt.Errorf("certificates: %w", err)
	}
	etcdServers, err := datastore.StartKine(ctx, cfg.ServerDir(), cfg.DatastoreEndpoint)
	if err != nil {
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
	run("kube-apiserver", component.APIServer, apiServerArgs(cfg, c, strings.Join(etcdServers, ",")))

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
	if _, err := ensureJoin(ctx, cfg, adminClient, c.CA.CertPEM()); err != nil {
		return err
	}
	// Written last: edgectl takes its presence to mean the token is ready too.
	if err := writeAdminKubeconfig(cfg, c); err != nil {
		return err
	}
	leaderElect := cfg.ClusterInit || cfg.Agent.Server != ""
	run("kube-controller-manager", component.ControllerManager, controllerManagerArgs(cfg, c, leaderElect))
	run("kube-scheduler", component.Scheduler, schedulerArgs(cfg, c, leaderElect))

	manifests := filepath.Join(cfg.ServerDir(), "manifests")
	if err := addons.WritePackaged(manifests, addons.Values{
		ClusterDNS: cfg.ClusterDNS, ClusterDomain: cfg.ClusterDomain, CoreDNSImage: DefaultCoreDNSImage,
	}, cfg.Disable); err != nil {
		return fmt.Errorf("write packaged manifests: %w", err)
	}
	mgr, err := addons.New(restCfg, manifests, filepath.Join(cfg.ServerDir(), "manifests.state.json"))
	if err != nil {
		return err
	}
	go mgr.Run(ctx)

	if !cfg.DisableAgent {
		creds := agent.Credentials{CAFile: c.CA.CertFile, KubeletKubeconfig: c.Kubelet, KubeProxyKubeconfig: c.KubeProxy}
		go func() {
			if err := agent.Run(ctx, &cfg.Agent, creds); err != nil && ctx.Err() == nil {
				errc <- fmt.Errorf("agent: %w", err)
			}
		}()
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
	err = wait.PollUntilContextCancel(pollCtx, 250*time.Millisecond, true, func(ctx context.Context) (bool, error) {
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
