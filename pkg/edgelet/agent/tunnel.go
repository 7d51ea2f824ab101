package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/edgectl/edgectl/pkg/edgelet/tunnel"
)

// KubeletPort is the kubelet's server port, which the servers reach
// through the tunnel.
const KubeletPort = "10250"

// runTunnel keeps this node's tunnel to its server up: the servers reach the
// kubelet (logs, exec, attach, port-forward) through it, since nothing can
// connect to a node behind NAT. The node proves itself with its kubelet
// client certificate, read again on every dial so that rotation is picked up.
func (a *agent) runTunnel(ctx context.Context) {
	u, err := url.Parse(a.cfg.Server)
	if err != nil {
		klog.ErrorS(err, "No tunnel: bad server URL", "server", a.cfg.Server)
		return
	}
	kubelet := net.JoinHostPort("127.0.0.1", KubeletPort)
	up := false
	tunnel.Run(ctx, tunnel.Options{
		Dial: func(ctx context.Context) (net.Conn, error) {
			conf, err := a.tunnelTLS(u.Hostname())
			if err != nil {
				return nil, err
			}
			d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 15 * time.Second, KeepAlive: 15 * time.Second}, Config: conf}
			return d.DialContext(ctx, "tcp", u.Host)
		},
		Allow:   func(network, addr string) bool { return network == "tcp" && addr == kubelet },
		Packets: a.podPackets(),
		Connected: func(err error) {
			switch {
			case err == nil:
				klog.InfoS("Tunnel to the servers is up", "server", u.Host)
				up = true
			case up:
				klog.InfoS("Tunnel to the servers dropped; redialing", "err", err)
				up = false
			default:
				klog.V(2).InfoS("Tunnel not up yet", "err", err)
			}
		},
	})
}

// tunnelTLS is the node's TLS config for the tunnel: the cluster CA, the
// kubelet's current client certificate, and the tunnel's ALPN protocol.
func (a *agent) tunnelTLS(serverName string) (*tls.Config, error) {
	kc, err := clientcmd.LoadFromFile(a.creds.KubeletKubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubelet identity not ready: %w", err)
	}
	var certFile, keyFile string
	for _, ai := range kc.AuthInfos {
		certFile, keyFile = ai.ClientCertificate, ai.ClientKey
	}
	if certFile == "" {
		return nil, fmt.Errorf("kubelet identity not ready: no client certificate in %s", a.creds.KubeletKubeconfig)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(a.creds.CAFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("no CA in %s", a.creds.CAFile)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, ServerName: serverName,
		NextProtos: []string{tunnel.ALPN}, MinVersion: tls.VersionTLS12}, nil
}

// podPackets takes the server's packet stream: pod traffic between this
// node and the cluster, on the TUN device, which routes the cluster's pod
// range (this node's own pod subnet is on cni0, a longer prefix).
func (a *agent) podPackets() func(net.Conn) {
	var once sync.Once
	var pump *tunnel.Pump
	var err error
	_, all, _ := net.ParseCIDR("0.0.0.0/0")
	return func(st net.Conn) {
		once.Do(func() { pump, err = openTUN(a.cfg.ClusterCIDR) })
		if err != nil {
			klog.ErrorS(err, "No pod traffic through the tunnel")
			st.Close()
			return
		}
		klog.InfoS("Pod traffic through the tunnel is up")
		pump.Attach(all, st)
	}
}

// openTUN creates the TUN device, up with tunnel.MTU, routes cidrs to it,
// and starts a pump on it.
func openTUN(cidrs ...string) (*tunnel.Pump, error) {
	f, err := tunnel.OpenTUN(tunnel.TUNName)
	if err != nil {
		return nil, err
	}
	link, err := netlink.LinkByName(tunnel.TUNName)
	if err == nil {
		err = netlink.LinkSetMTU(link, tunnel.MTU)
	}
	if err == nil {
		err = netlink.LinkSetUp(link)
	}
	for _, c := range cidrs {
		if err != nil {
			break
		}
		_, dst, perr := net.ParseCIDR(c)
		if perr != nil {
			err = perr
			break
		}
		err = netlink.RouteReplace(&netlink.Route{LinkIndex: link.Attrs().Index, Dst: dst, Scope: netlink.SCOPE_LINK})
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("TUN %s: %w", tunnel.TUNName, err)
	}
	return tunnel.NewPump(f), nil
}

// OpenHubTUN is openTUN for a server: it routes no range until a node's
// stream comes (RouteToTUN).
func OpenHubTUN() (*tunnel.Pump, error) { return openTUN() }

// RouteToTUN routes cidr to the TUN device.
func RouteToTUN(cidr *net.IPNet) error {
	link, err := netlink.LinkByName(tunnel.TUNName)
	if err != nil {
		return err
	}
	return netlink.RouteReplace(&netlink.Route{LinkIndex: link.Attrs().Index, Dst: cidr, Scope: netlink.SCOPE_LINK})
}
