package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

	nodev1 "github.com/edgectl/edgectl/pkg/apis/node/v1alpha1"
	"github.com/edgectl/edgectl/pkg/edgelet/agent"
	"github.com/edgectl/edgectl/pkg/edgelet/config"
	"github.com/edgectl/edgectl/pkg/edgelet/hostnet"
	"github.com/edgectl/edgectl/pkg/edgelet/tunnel"
)

// egressConfig routes kube-apiserver's traffic to the cluster network
// (kubelets, webhooks, aggregated APIs) through the tunnels' CONNECT proxy.
const egressConfig = `apiVersion: apiserver.k8s.io/v1beta1
kind: EgressSelectorConfiguration
egressSelections:
- name: cluster
  connection:
    proxyProtocol: HTTPConnect
    transport:
      uds:
        udsName: %s
`

// tunnels is a server's side of node tunnels.
type tunnels struct {
	hub    *tunnel.Hub
	client atomic.Pointer[kubernetes.Clientset]
	mu     sync.Mutex
	addrs  map[string]string // node address -> node, of tunneled nodes
	// looked is when addrs was last rebuilt: a miss rebuilds it at most
	// every few seconds, or at once after a node (re)connects.
	looked time.Time
	// nodeIP is this server's: what other nodes route a tunneled node's
	// pods to.
	nodeIP  string
	pumpErr error
	pump    *tunnel.Pump
	pumpOne sync.Once
}

// startTunnels listens for node tunnels and serves the API server's egress
// proxy; it writes the egress selector config and returns its path. The
// node addresses are looked up once the API client is set (setClient).
func startTunnels(ctx context.Context, cfg *config.Server, c *certs) (*tunnels, string, error) {
	t := &tunnels{hub: tunnel.NewHub(), addrs: map[string]string{}, nodeIP: cfg.NodeIP}
	sock := filepath.Join(cfg.ServerDir(), "egress.sock")
	_ = os.Remove(sock)
	ul, err := net.Listen("unix", sock)
	if err != nil {
		return nil, "", fmt.Errorf("egress proxy: %w", err)
	}
	if err := os.Chmod(sock, 0o600); err != nil {
		ul.Close()
		return nil, "", err
	}
	conf := filepath.Join(cfg.ServerDir(), "egress-selector.yaml")
	if err := os.WriteFile(conf, fmt.Appendf(nil, egressConfig, sock), 0o600); err != nil {
		ul.Close()
		return nil, "", err
	}
	egress := &http.Server{Handler: &tunnel.Egress{Hub: t.hub, NodeFor: t.nodeFor}, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = egress.Serve(ul) }()

	serving, err := tls.LoadX509KeyPair(c.ServingCert, c.ServingKey)
	if err != nil {
		ul.Close()
		return nil, "", err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(c.CA.CertPEM())
	tl, err := tls.Listen("tcp", net.JoinHostPort(cfg.BindAddress, strconv.Itoa(nodev1.DefaultTunnelPort)), &tls.Config{
		Certificates: []tls.Certificate{serving}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool,
		NextProtos: []string{tunnel.ALPN}, MinVersion: tls.VersionTLS12})
	if err != nil {
		ul.Close()
		return nil, "", fmt.Errorf("tunnel listener: %w", err)
	}
	go t.accept(tl)
	go func() {
		<-ctx.Done()
		tl.Close()
		egress.Close()
	}()
	return t, conf, nil
}

func (t *tunnels) setClient(c *kubernetes.Clientset) { t.client.Store(c) }

func (t *tunnels) accept(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			tc := c.(*tls.Conn)
			_ = tc.SetDeadline(time.Now().Add(15 * time.Second))
			if err := tc.Handshake(); err != nil {
				klog.V(2).InfoS("Tunnel handshake failed", "from", c.RemoteAddr(), "err", err)
				c.Close()
				return
			}
			_ = tc.SetDeadline(time.Time{})
			node, err := tunnel.NodeName(tc.ConnectionState())
			if err != nil {
				klog.InfoS("Tunnel refused", "from", c.RemoteAddr(), "err", err)
				c.Close()
				return
			}
			klog.InfoS("Node tunnel up", "node", node, "from", c.RemoteAddr())
			t.forget(node)
			go t.podTraffic(node)
			_ = t.hub.Serve(node, tc)
			klog.InfoS("Node tunnel closed", "node", node)
		}()
	}
}

// nodeFor names the tunneled node at host: the address map is rebuilt from
// the Node objects of the tunneled nodes when host is not in it.
func (t *tunnels) nodeFor(host string) string {
	t.mu.Lock()
	node, ok := t.addrs[host]
	t.mu.Unlock()
	if ok {
		return node
	}
	client := t.client.Load()
	t.mu.Lock()
	fresh := time.Since(t.looked) < 5*time.Second
	if !fresh {
		t.looked = time.Now()
	}
	t.mu.Unlock()
	if client == nil || fresh {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, name := range t.hub.Nodes() {
		if n, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{}); err == nil && t.learn(n, host) {
			node = name
		}
	}
	return node
}

// learn notes a tunneled node's addresses, and tells whether host is one.
func (t *tunnels) learn(n *corev1.Node, host string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	found := false
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP || a.Type == corev1.NodeExternalIP || a.Type == corev1.NodeHostName {
			t.addrs[a.Address] = n.Name
			found = found || a.Address == host
		}
	}
	return found
}

// forget drops a node's addresses: a reconnecting node may have moved.
func (t *tunnels) forget(node string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.looked = time.Time{}
	for a, n := range t.addrs {
		if n == node {
			delete(t.addrs, a)
		}
	}
}

// podTraffic carries a tunneled node's pod traffic: once the node has its
// pod subnet, the subnet is routed to this server's TUN device, the packet
// stream is opened, and the Node is annotated with this server as its hub,
// so that the other nodes route the subnet here. It ends with the session.
func (t *tunnels) podTraffic(node string) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var subnet *net.IPNet
	for subnet == nil {
		time.Sleep(time.Second)
		client := t.client.Load()
		if !t.hub.Connected(node) {
			return
		}
		if client == nil {
			continue
		}
		n, err := client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err == nil && n.Spec.PodCIDR != "" && len(n.Status.Addresses) > 0 {
			t.learn(n, "")
			_, subnet, _ = net.ParseCIDR(n.Spec.PodCIDR)
		}
	}
	t.pumpOne.Do(func() { t.pump, t.pumpErr = agent.OpenHubTUN() })
	if t.pumpErr != nil {
		klog.ErrorS(t.pumpErr, "No pod traffic for tunneled nodes")
		return
	}
	if err := agent.RouteToTUN(subnet); err != nil {
		klog.ErrorS(err, "Route a tunneled node's pods", "node", node)
		return
	}
	looseReversePath(t.nodeIP)
	st, err := t.hub.Dial(ctx, node, tunnel.PacketsNetwork, "-")
	if err != nil {
		klog.ErrorS(err, "Pod traffic stream", "node", node)
		return
	}
	patch := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:%q}}}`, tunnel.AnnotationHub, t.nodeIP)
	if _, err := t.client.Load().CoreV1().Nodes().Patch(ctx, node, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		klog.ErrorS(err, "Annotate the hub of a tunneled node", "node", node)
	}
	klog.InfoS("Pod traffic of a tunneled node through this server", "node", node, "podCIDR", subnet)
	t.pump.Attach(subnet, st)
}

// looseReversePath makes the reverse-path filter of the interface that holds
// ip loose where it is strict: the other nodes send a tunneled node's
// traffic here over that interface, from pod addresses that this server
// routes over flannel's, which a strict filter drops.
func looseReversePath(ip string) {
	iface, err := hostnet.InterfaceOf(ip)
	if err != nil {
		return
	}
	path := "/proc/sys/net/ipv4/conf/" + iface + "/rp_filter"
	if v, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(v)) == "1" {
		if err := os.WriteFile(path, []byte("2"), 0o644); err != nil {
			klog.ErrorS(err, "Loose reverse-path filter", "interface", iface)
		}
	}
}
