package server

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/edgectl/edgectl/pkg/edgelet/config"
	"github.com/edgectl/edgectl/pkg/edgelet/etcd"
	"github.com/edgectl/edgectl/pkg/edgelet/kubeconfig"
	"github.com/edgectl/edgectl/pkg/edgelet/pki"
	"github.com/edgectl/edgectl/pkg/edgelet/secrets"
)

// certs holds the paths of everything the control plane is started with.
type certs struct {
	CA, FrontProxyCA                     *pki.CA
	ServiceAccountKey, ServiceAccountPub string
	ServingCert, ServingKey              string
	KubeletClientCert, KubeletClientKey  string
	FrontProxyCert, FrontProxyKey        string
	// Kubeconfigs of the components, by name.
	Admin, ControllerManager, Scheduler, KubeProxy, Kubelet, MetricsServer string
	// LocalURL is how components on this node reach the API server.
	LocalURL string
	// Etcd holds the embedded etcd member's files (HA servers only).
	Etcd etcd.Certs
	// EncryptionConfig encrypts Secrets at rest (secrets.ConfigFile).
	EncryptionConfig string
	// EgressConfig routes the API server's traffic to nodes (tunnels).
	EgressConfig string
}

// ensureCerts creates (once) or loads the PKI and writes component kubeconfigs.
func ensureCerts(cfg *config.Server) (*certs, error) {
	dir := cfg.TLSDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	c := &certs{LocalURL: "https://127.0.0.1:" + strconv.Itoa(cfg.HTTPSPort)}
	var err error
	if c.CA, err = pki.EnsureCA(dir, "ca", "edgelet-ca"); err != nil {
		return nil, err
	}
	if c.FrontProxyCA, err = pki.EnsureCA(dir, "front-proxy-ca", "edgelet-front-proxy-ca"); err != nil {
		return nil, err
	}
	// Secrets are encrypted at rest from the first start: a Secret's value
	// never reaches the datastore's files in the clear.
	c.EncryptionConfig = filepath.Join(dir, secrets.ConfigFile)
	if err := secrets.Ensure(c.EncryptionConfig); err != nil {
		return nil, fmt.Errorf("encryption config: %w", err)
	}
	c.ServiceAccountKey = filepath.Join(dir, "service-account.key")
	if c.ServiceAccountPub, err = pki.EnsureKeyPair(c.ServiceAccountKey); err != nil {
		return nil, err
	}
	serving, err := servingSpec(cfg)
	if err != nil {
		return nil, err
	}
	if c.ServingCert, c.ServingKey, err = c.CA.EnsureCert(dir, "apiserver", serving); err != nil {
		return nil, err
	}
	if c.KubeletClientCert, c.KubeletClientKey, err = c.CA.EnsureCert(dir, "apiserver-kubelet-client",
		pki.CertSpec{CommonName: "kube-apiserver-kubelet-client", Organization: []string{"system:masters"}, Client: true}); err != nil {
		return nil, err
	}
	if c.FrontProxyCert, c.FrontProxyKey, err = c.FrontProxyCA.EnsureCert(dir, "front-proxy-client",
		pki.CertSpec{CommonName: "front-proxy-client", Client: true}); err != nil {
		return nil, err
	}
	if cfg.ClusterInit || cfg.Agent.Server != "" {
		if err := ensureEtcdCerts(cfg, dir, &c.Etcd); err != nil {
			return nil, err
		}
	}
	clients := []struct {
		name, cn string
		org      []string
		dst      *string
	}{
		{"admin", "edgelet-admin", []string{"system:masters"}, &c.Admin},
		{"controller-manager", "system:kube-controller-manager", nil, &c.ControllerManager},
		{"scheduler", "system:kube-scheduler", nil, &c.Scheduler},
		{"kube-proxy", "system:kube-proxy", nil, &c.KubeProxy},
		{"metrics-server", "system:metrics-server", nil, &c.MetricsServer},
		{"kubelet", "system:node:" + cfg.NodeName, []string{"system:nodes"}, &c.Kubelet},
	}
	for _, cl := range clients {
		cert, key, err := c.CA.EnsureCert(dir, "client-"+cl.name, pki.CertSpec{CommonName: cl.cn, Organization: cl.org, Client: true})
		if err != nil {
			return nil, err
		}
		*cl.dst = filepath.Join(cfg.ServerDir(), "cred", cl.name+".kubeconfig")
		spec := kubeconfig.Spec{Server: c.LocalURL, CAFile: c.CA.CertFile, CertFile: cert, KeyFile: key}
		if err := kubeconfig.Write(*cl.dst, spec, 0o600); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// servingSpec lists every name and address the API server answers on.
func servingSpec(cfg *config.Server) (pki.CertSpec, error) {
	svcIP, err := config.NthIP(cfg.ServiceCIDR, 1)
	if err != nil {
		return pki.CertSpec{}, err
	}
	spec := pki.CertSpec{
		CommonName: "kube-apiserver",
		Server:     true,
		DNSNames: []string{"kubernetes", "kubernetes.default", "kubernetes.default.svc",
			"kubernetes.default.svc." + cfg.ClusterDomain, "localhost", cfg.NodeName},
		IPs: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP(svcIP)},
	}
	for _, s := range append([]string{cfg.NodeIP, cfg.NodeExternalIP}, cfg.TLSSANs...) {
		if s == "" {
			continue
		}
		if ip := net.ParseIP(s); ip != nil {
			spec.IPs = append(spec.IPs, ip)
		} else {
			spec.DNSNames = append(spec.DNSNames, s)
		}
	}
	if len(spec.IPs) == 0 {
		return spec, fmt.Errorf("no IP for the serving certificate")
	}
	return spec, nil
}

func randomSecret() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// ensureEtcdCerts creates the etcd CA (once per cluster; joining servers get
// it in the server bundle) and this member's serving, peer and client certs.
func ensureEtcdCerts(cfg *config.Server, dir string, out *etcd.Certs) error {
	ca, err := pki.EnsureCA(dir, "etcd-ca", "edgelet-etcd-ca")
	if err != nil {
		return err
	}
	names := pki.CertSpec{CommonName: cfg.NodeName, DNSNames: []string{"localhost", cfg.NodeName},
		IPs: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP(cfg.NodeIP)}, Server: true, Client: true}
	out.CAFile = ca.CertFile
	if out.ServerCert, out.ServerKey, err = ca.EnsureCert(dir, "etcd-server", names); err != nil {
		return err
	}
	if out.PeerCert, out.PeerKey, err = ca.EnsureCert(dir, "etcd-peer", names); err != nil {
		return err
	}
	out.ClientCert, out.ClientKey, err = ca.EnsureCert(dir, "etcd-client", pki.CertSpec{CommonName: "kube-apiserver-etcd-client", Client: true})
	return err
}
