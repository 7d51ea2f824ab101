package server

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/edgectl/edgectl/pkg/edgelet/config"
)

// flagMap renders name=value flags as sorted --name=value arguments, after
// merging the user's extra args (name=value, without dashes) over defaults.
func flagMap(defaults map[string]string, extra []string) []string {
	m := make(map[string]string, len(defaults)+len(extra))
	for k, v := range defaults {
		m[k] = v
	}
	for _, e := range extra {
		k, v, _ := strings.Cut(strings.TrimLeft(e, "-"), "=")
		m[k] = v
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	args := make([]string, 0, len(keys))
	for _, k := range keys {
		args = append(args, fmt.Sprintf("--%s=%s", k, m[k]))
	}
	return args
}

func apiServerArgs(cfg *config.Server, c *certs, etcdServers string, etcdTLS []string) []string {
	issuer := "https://kubernetes.default.svc." + cfg.ClusterDomain
	d := map[string]string{
		"advertise-address":                  cfg.NodeIP,
		"bind-address":                       cfg.BindAddress,
		"secure-port":                        strconv.Itoa(cfg.HTTPSPort),
		"allow-privileged":                   "true",
		"authorization-mode":                 "Node,RBAC",
		"enable-admission-plugins":           "NodeRestriction",
		"enable-bootstrap-token-auth":        "true",
		"anonymous-auth":                     "true",
		"client-ca-file":                     c.CA.CertFile,
		"encryption-provider-config":         c.EncryptionConfig,
		"egress-selector-config-file":        c.EgressConfig,
		"tls-cert-file":                      c.ServingCert,
		"tls-private-key-file":               c.ServingKey,
		"kubelet-client-certificate":         c.KubeletClientCert,
		"kubelet-client-key":                 c.KubeletClientKey,
		"kubelet-preferred-address-types":    "InternalIP,ExternalIP,Hostname",
		"etcd-servers":                       etcdServers,
		"service-cluster-ip-range":           cfg.ServiceCIDR,
		"service-account-issuer":             issuer,
		"api-audiences":                      issuer,
		"service-account-key-file":           c.ServiceAccountPub,
		"service-account-signing-key-file":   c.ServiceAccountKey,
		"requestheader-client-ca-file":       c.FrontProxyCA.CertFile,
		"requestheader-allowed-names":        "front-proxy-client",
		"requestheader-extra-headers-prefix": "X-Remote-Extra-",
		"requestheader-group-headers":        "X-Remote-Group",
		"requestheader-username-headers":     "X-Remote-User",
		"proxy-client-cert-file":             c.FrontProxyCert,
		"proxy-client-key-file":              c.FrontProxyKey,
		"profiling":                          "false",
		// One in-process server has no use for the extra watch-cache memory
		// of the default sizes on a small edge box.
		"default-watch-cache-size": "50",
	}
	return flagMap(d, append(etcdTLS, cfg.APIServerArgs...))
}

func controllerManagerArgs(cfg *config.Server, c *certs, leaderElect bool) []string {
	d := map[string]string{
		"kubeconfig":                       c.ControllerManager,
		"authentication-kubeconfig":        c.ControllerManager,
		"authorization-kubeconfig":         c.ControllerManager,
		"bind-address":                     "127.0.0.1",
		"secure-port":                      "10257",
		"allocate-node-cidrs":              "true",
		"cluster-cidr":                     cfg.ClusterCIDR,
		"service-cluster-ip-range":         cfg.ServiceCIDR,
		"cluster-signing-cert-file":        c.CA.CertFile,
		"cluster-signing-key-file":         c.CA.KeyFile,
		"root-ca-file":                     c.CA.CertFile,
		"service-account-private-key-file": c.ServiceAccountKey,
		"use-service-account-credentials":  "true",
		// No tokencleaner: it deletes a bootstrap token the moment it
		// expires, and then a refused join can only say "unknown token".
		// The API server refuses expired tokens itself; edgelet deletes
		// expired edgectl tokens an hour later (approver.go).
		"controllers":            "*,bootstrapsigner",
		"configure-cloud-routes": "false",
		"leader-elect":           strconv.FormatBool(leaderElect),
		"profiling":              "false",
		// At start every controller gets its own ServiceAccount and token
		// (use-service-account-credentials): a few hundred requests that
		// the default burst of 30 spreads over ~3.5 s, which is most of
		// the time between /readyz and a schedulable cluster. The API
		// server is local, so let the start-up burst through.
		"kube-api-qps":   "50",
		"kube-api-burst": "400",
	}
	return flagMap(d, cfg.ControllerArgs)
}

func schedulerArgs(cfg *config.Server, c *certs, leaderElect bool) []string {
	d := map[string]string{
		"kubeconfig":                c.Scheduler,
		"authentication-kubeconfig": c.Scheduler,
		"authorization-kubeconfig":  c.Scheduler,
		"bind-address":              "127.0.0.1",
		"secure-port":               "10259",
		"leader-elect":              strconv.FormatBool(leaderElect),
		"profiling":                 "false",
	}
	return flagMap(d, cfg.SchedulerArgs)
}

// MetricsServerPort is where metrics-server listens on a server (the
// upstream image's 10250 is kubelet's here).
const MetricsServerPort = 10253

// metricsServerArgs run metrics-server as system:metrics-server. kubelets
// serve self-signed certificates, as kind's and k3s's do, so their CA is
// not checked; the client certificate still authenticates to them.
func metricsServerArgs(cfg *config.Server, c *certs) []string {
	d := map[string]string{
		"kubeconfig":                      c.MetricsServer,
		"authentication-kubeconfig":       c.MetricsServer,
		"authorization-kubeconfig":        c.MetricsServer,
		"secure-port":                     strconv.Itoa(MetricsServerPort),
		"cert-dir":                        filepath.Join(cfg.TLSDir(), "metrics-server"),
		"kubelet-insecure-tls":            "true",
		"kubelet-preferred-address-types": "InternalIP",
		"metric-resolution":               "15s",
		"profiling":                       "false",
	}
	return flagMap(d, nil)
}
