package agent

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestKubeletConfigFollowsTheHost(t *testing.T) {
	for _, v1 := range []bool{true, false} {
		data, err := kubeletConfig("10.43.0.10", "cluster.local", "/ca.crt", "/etc/resolv.conf", v1)
		if err != nil {
			t.Fatal(err)
		}
		var cfg map[string]any
		if err := yaml.Unmarshal(data, &cfg); err != nil {
			t.Fatal(err)
		}
		if cfg["failCgroupV1"] != !v1 || cfg["kind"] != "KubeletConfiguration" || cfg["clusterDomain"] != "cluster.local" {
			t.Errorf("cgroup v1 %v: %v", v1, cfg)
		}
	}
	data, err := kubeProxyConfig("/kp.yaml", "n0", "10.42.0.0/16")
	if err != nil || !strings.Contains(string(data), "10.42.0.0/16") || !strings.Contains(string(data), "n0") {
		t.Errorf("kube-proxy config: %s %v", data, err)
	}
}

func TestNetworkConfigs(t *testing.T) {
	data, err := cniConfig("10.42.3.0/24", 1450)
	if err != nil {
		t.Fatal(err)
	}
	var conf struct {
		Plugins []map[string]any `json:"plugins"`
	}
	if err := json.Unmarshal(data, &conf); err != nil || len(conf.Plugins) != 2 || conf.Plugins[0]["mtu"] != float64(1450) ||
		!strings.Contains(string(data), `"subnet": "10.42.3.0/24"`) {
		t.Errorf("CNI config: %s %v", data, err)
	}
	if data, _ := flannelNetConf("10.42.0.0/16", ""); !strings.Contains(string(data), `"Network":"10.42.0.0/16"`) || !strings.Contains(string(data), "vxlan") {
		t.Errorf("flannel: %s", data)
	}
}

func TestContainerdConfig(t *testing.T) {
	data, err := renderContainerdConfig(containerdParams{Socket: "/run/c.sock", Snapshotter: "overlayfs", SandboxImage: "pause:1",
		RestrictOOMScoreAdj: true, CNIBinDir: "/opt/cni/bin", CNIConfDir: "/etc/cni/net.d"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/run/c.sock", "pause:1", "restrict_oom_score_adj = true", "/opt/cni/bin"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("containerd config lacks %q:\n%s", want, data)
		}
	}
}

func TestSmallHelpers(t *testing.T) {
	if got := dashArgs([]string{"max-pods=33", "--v=2"}); !slices.Equal(got, []string{"--max-pods=33", "--v=2"}) {
		t.Errorf("dashArgs = %v", got)
	}
	for conf, want := range map[string]bool{
		"nameserver 127.0.0.53\n":               false,
		"nameserver 127.0.0.11\nnameserver ::1": false,
		"# x\nnameserver 10.0.0.2\n":            true,
	} {
		if hasRoutableNameserver(conf) != want {
			t.Errorf("hasRoutableNameserver(%q) != %v", conf, want)
		}
	}
}

func TestLeakRulesRejectOnlyOnTheExternalInterface(t *testing.T) {
	if local := strings.Join(leakRules("eth0", true, "10.43.0.0/16")[0], " "); !strings.Contains(local, "! --ctstate DNAT") {
		t.Errorf("a local rule rejects DNATed packets: %s", local)
	}
	rules := leakRules("eth0", false, "10.43.0.0/16", "10.42.0.0/16")
	if len(rules) != 4 {
		t.Fatalf("%d rules", len(rules))
	}
	for _, r := range rules {
		s := strings.Join(r, " ")
		if !strings.Contains(s, "-o eth0") || !strings.Contains(s, "-j REJECT") {
			t.Errorf("rule %q", s)
		}
	}
	if !strings.Contains(strings.Join(rules[0], " "), "-d 10.43.0.0/16 -o eth0") || !strings.Contains(strings.Join(rules[0], " "), "tcp-reset") {
		t.Errorf("first rule %v", rules[0])
	}
}
