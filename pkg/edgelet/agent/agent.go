package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/edgectl/edgectl/pkg/edgelet/component"
	"github.com/edgectl/edgectl/pkg/edgelet/config"
	"github.com/edgectl/edgectl/pkg/edgelet/kubeconfig"
	"github.com/edgectl/edgectl/pkg/edgelet/pki"
	"github.com/edgectl/edgectl/pkg/edgelet/servicelb"
	"github.com/edgectl/edgectl/pkg/edgelet/storage"
)

// Credentials are what the node's components authenticate with.
type Credentials struct {
	CAFile string
	// KubeletKubeconfig holds the kubelet's client certificate. When it does
	// not exist yet, kubelet creates it through BootstrapKubeconfig (CSR).
	KubeletKubeconfig   string
	BootstrapKubeconfig string
	KubeProxyKubeconfig string
}

type agent struct {
	cfg   *config.Agent
	creds Credentials
	errc  chan error
}

// exited reports that a component returned: a failure, unless edgelet is
// stopping.
func (a *agent) exited(ctx context.Context, name string, err error) {
	if ctx.Err() != nil {
		return
	}
	if err == nil {
		err = errors.New("returned without an error")
	}
	a.fatal(fmt.Errorf("%s exited: %w", name, err))
}

func (a *agent) fatal(err error) {
	select {
	case a.errc <- err:
	default:
	}
}

// Run starts containerd, imports the offline images, and runs kubelet,
// kube-proxy and the pod network until ctx ends or one of them fails.
func Run(ctx context.Context, cfg *config.Agent, creds Credentials) error {
	n, err := Start(ctx, cfg)
	if err != nil {
		return err
	}
	return n.Run(ctx, creds)
}

// Node is a node whose container runtime runs, with the offline images in
// it: what kubelet needs before it starts.
type Node struct{ a *agent }

// Start starts containerd and imports the offline images. A server starts
// its node while its API server boots, so that kubelet can start the moment
// the API is ready. containerd stops when ctx ends.
func Start(ctx context.Context, cfg *config.Agent) (*Node, error) {
	component.AllowSharedLogging()
	a := &agent{cfg: cfg, errc: make(chan error, 4)}
	cfg.Unprivileged = !hasCapSysResource()
	if cfg.Unprivileged {
		klog.InfoS("No CAP_SYS_RESOURCE: pods keep non-negative oom_score_adj")
	}
	if err := a.startContainerd(ctx); err != nil {
		return nil, err
	}
	if err := a.importImages(ctx); err != nil {
		return nil, err
	}
	return &Node{a: a}, nil
}

// Run runs kubelet, kube-proxy and the pod network of a started node until
// ctx ends or one of them (or containerd) fails.
func (n *Node) Run(ctx context.Context, creds Credentials) error {
	a, cfg := n.a, n.a.cfg
	a.creds = creds
	if creds.BootstrapKubeconfig != "" && !usableKubeconfig(creds.KubeletKubeconfig) {
		// A bootstrap cut short leaves a kubeconfig without its certificate;
		// removing it makes kubelet bootstrap again instead of failing.
		_ = os.Remove(creds.KubeletKubeconfig)
	}
	kubeletArgs, err := a.writeKubeletFiles()
	if err != nil {
		return err
	}
	go func() {
		// kubelet's command ignores ctx and stops on its own SIGTERM/SIGINT
		// handler, so it may return before edgelet's context (ended by the
		// same signal) is done. It returns nil only on that signal: a stop.
		if err := component.Kubelet(ctx, kubeletArgs); err != nil {
			a.exited(ctx, "kubelet", err)
		}
	}()

	// A joining agent's kubelet first trades its bootstrap token for a client
	// certificate; kube-proxy and the pod network use that identity.
	if err := waitForKubeconfig(ctx, creds.KubeProxyKubeconfig, a.errc); err != nil {
		return err
	}
	proxyConf := filepath.Join(cfg.AgentDir(), "kube-proxy.yaml")
	data, err := kubeProxyConfig(creds.KubeProxyKubeconfig, cfg.NodeName, cfg.ClusterCIDR)
	if err != nil {
		return err
	}
	if err := pki.WriteFileIfChanged(proxyConf, data, 0o600); err != nil {
		return err
	}
	proxyArgs := append([]string{"--config=" + proxyConf}, dashArgs(cfg.KubeProxyArgs)...)
	go func() { a.exited(ctx, "kube-proxy", component.Proxy(ctx, proxyArgs)) }()
	go func() {
		// flannel annotates the node with its VTEP: it needs the node's
		// own identity, which may patch its Node object.
		if err := a.runNetwork(ctx, creds.KubeletKubeconfig); err != nil && ctx.Err() == nil {
			a.fatal(err)
		}
	}()
	go a.runNodeServices(ctx, creds.KubeletKubeconfig)
	if cfg.Tunnel {
		go a.runTunnel(ctx)
	}
	select {
	case <-ctx.Done():
		return nil
	case err := <-a.errc:
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
}

// runNodeServices runs, with the node's own identity, the node's side of
// local-path volumes (make the directories of this node's volumes, remove
// those of deleted ones) and of LoadBalancer Services (hold the addresses
// given to this node, forward the Services' ports on the node's IP).
func (a *agent) runNodeServices(ctx context.Context, kubeconfigPath string) {
	client, err := kubeconfig.NewClient(kubeconfigPath)
	if err != nil {
		klog.ErrorS(err, "No local-path volume sync or LoadBalancer addresses on this node")
		return
	}
	if !a.cfg.Tunnel {
		go a.runTunnelRoutes(ctx, client)
	}
	go func() {
		if err := servicelb.Speak(ctx, client, a.cfg.NodeName, a.cfg.NodeIP); err != nil {
			klog.ErrorS(err, "No LoadBalancer addresses on this node")
		}
	}()
	storage.Run(ctx, 2*time.Second, "volume sync", func(ctx context.Context) error {
		return storage.Sync(ctx, client, a.cfg.StorageDir(), a.cfg.NodeName, time.Minute)
	})
}

// usableKubeconfig reports whether path is a kubeconfig whose client
// certificate is on disk. kubelet writes its kubeconfig during TLS bootstrap
// before the certificate it names, and a reader in between fails.
func usableKubeconfig(path string) bool {
	kc, err := clientcmd.LoadFromFile(path)
	if err != nil {
		return false
	}
	for _, ai := range kc.AuthInfos {
		if ai.ClientCertificate != "" {
			if fi, err := os.Stat(ai.ClientCertificate); err != nil || fi.Size() == 0 {
				return false
			}
		}
	}
	return len(kc.AuthInfos) > 0
}

// waitForKubeconfig waits until path is usable, a component fails, or ctx ends.
func waitForKubeconfig(ctx context.Context, path string, errc chan error) error {
	for {
		if usableKubeconfig(path) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-errc:
			return err
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (a *agent) writeKubeletFiles() ([]string, error) {
	cfg := a.cfg
	dir := cfg.AgentDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	resolv, err := podResolvConf(dir)
	if err != nil {
		return nil, err
	}
	data, err := kubeletConfig(cfg.ClusterDNS, cfg.ClusterDomain, a.creds.CAFile, resolv, cgroupV1())
	if err != nil {
		return nil, err
	}
	confPath := filepath.Join(dir, "kubelet.yaml")
	if err := pki.WriteFileIfChanged(confPath, data, 0o600); err != nil {
		return nil, err
	}
	args := []string{
		"--config=" + confPath,
		"--kubeconfig=" + a.creds.KubeletKubeconfig,
		"--hostname-override=" + cfg.NodeName,
		"--node-ip=" + cfg.NodeIP,
		"--cert-dir=" + filepath.Join(dir, "kubelet-pki"),
	}
	if a.creds.BootstrapKubeconfig != "" {
		args = append(args, "--bootstrap-kubeconfig="+a.creds.BootstrapKubeconfig)
	}
	labels := append([]string{}, cfg.NodeLabels...)
	if len(labels) > 0 {
		args = append(args, "--node-labels="+strings.Join(labels, ","))
	}
	if len(cfg.NodeTaints) > 0 {
		args = append(args, "--register-with-taints="+strings.Join(cfg.NodeTaints, ","))
	}
	return append(args, dashArgs(cfg.KubeletArgs)...), nil
}

// podResolvConf returns the resolv.conf that pods (and CoreDNS's upstream)
// use: the node's own, unless it only lists loopback servers, which a pod
// cannot reach from its network namespace (systemd-resolved's 127.0.0.53, or
// Docker's 127.0.0.11 when the node entrypoint could not redirect it).
func podResolvConf(dir string) (string, error) {
	for _, path := range []string{"/etc/resolv.conf", "/run/systemd/resolve/resolv.conf"} {
		data, err := os.ReadFile(path)
		if err == nil && hasRoutableNameserver(string(data)) {
			return path, nil
		}
	}
	klog.InfoS("No routable nameserver in /etc/resolv.conf; pods will use 8.8.8.8 upstream")
	path := filepath.Join(dir, "resolv.conf")
	return path, pki.WriteFileIfChanged(path, []byte("nameserver 8.8.8.8\n"), 0o644)
}

func hasRoutableNameserver(resolvConf string) bool {
	for _, line := range strings.Split(resolvConf, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "nameserver" && !strings.HasPrefix(f[1], "127.") && f[1] != "::1" {
			return true
		}
	}
	return false
}

// dashArgs turns name=value into --name=value.
func dashArgs(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		out = append(out, "--"+strings.TrimLeft(s, "-"))
	}
	return out
}
