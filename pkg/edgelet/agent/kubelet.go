package agent

import (
	"fmt"
	"os"
	"strings"

	"sigs.k8s.io/yaml"
)

// kubeletConfig renders the KubeletConfiguration file. Values that differ from
// upstream defaults each say why.
func kubeletConfig(clusterDNS, clusterDomain, caFile, resolvConf string, cgroupV1 bool) ([]byte, error) {
	cfg := map[string]any{
		"apiVersion": "kubelet.config.k8s.io/v1beta1",
		"kind":       "KubeletConfiguration",
		"authentication": map[string]any{
			"anonymous": map[string]any{"enabled": false},
			"webhook":   map[string]any{"enabled": true},
			"x509":      map[string]any{"clientCAFile": caFile},
		},
		"authorization":            map[string]any{"mode": "Webhook"},
		"cgroupDriver":             "cgroupfs",
		"clusterDNS":               []string{clusterDNS},
		"clusterDomain":            clusterDomain,
		"containerRuntimeEndpoint": "unix://" + ContainerdSocket,
		// Kubernetes 1.35 refuses cgroup v1 hosts unless told otherwise, and
		// many CI hosts and boards still run v1.
		"failCgroupV1": !cgroupV1,
		// Nodes share the host's swap setting; refusing to start helps no one.
		"failSwapOn":   false,
		"readOnlyPort": 0,
		"resolvConf":   resolvConf,
		// Node containers share one disk: the default 10%/15% thresholds
		// evict pods on a developer laptop long before it is really full.
		"evictionHard": map[string]string{
			"imagefs.available": "2%",
			"nodefs.available":  "2%",
			"memory.available":  "50Mi",
		},
		"imageGCHighThresholdPercent": 100,
		"serializeImagePulls":         false,
		"rotateCertificates":          true,
		"protectKernelDefaults":       false,
		// Logging must equal what the other in-process components apply
		// (see component.AllowSharedLogging).
		"logging": map[string]any{"format": "text", "flushFrequency": "5s", "verbosity": 0},
	}
	return yaml.Marshal(cfg)
}

// kubeProxyConfig renders the KubeProxyConfiguration file.
func kubeProxyConfig(kubeconfig, nodeName, clusterCIDR string) ([]byte, error) {
	cfg := map[string]any{
		"apiVersion":       "kubeproxy.config.k8s.io/v1alpha1",
		"kind":             "KubeProxyConfiguration",
		"clientConnection": map[string]any{"kubeconfig": kubeconfig},
		// IPVS is not available on every kernel (not on the CI hosts).
		"mode":             "iptables",
		"hostnameOverride": nodeName,
		"clusterCIDR":      clusterCIDR,
		// A node container cannot write the host-wide nf_conntrack_max.
		"conntrack":          map[string]any{"maxPerCore": 0},
		"metricsBindAddress": "127.0.0.1:10249",
		"logging":            map[string]any{"format": "text", "flushFrequency": "5s", "verbosity": 0},
	}
	return yaml.Marshal(cfg)
}

// cgroupV1 reports whether the host mounts cgroup v1 controllers.
func cgroupV1() bool {
	_, err := os.Stat("/sys/fs/cgroup/cgroup.controllers")
	return err != nil
}

// hasCapSysResource reports whether this process may set negative
// oom_score_adj values (CAP_SYS_RESOURCE, bit 24, in the effective set).
func hasCapSysResource() bool {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			var caps uint64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%x", &caps); err != nil {
				return false
			}
			return caps&(1<<24) != 0
		}
	}
	return false
}
