package server

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/edgectl/edgectl/pkg/edgelet/config"
)

func TestBundleSealOpen(t *testing.T) {
	sealed, err := seal("cluster secret", []byte("ca.key bytes"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("ca.key bytes")) {
		t.Fatal("the bundle is not encrypted")
	}
	plain, err := open("cluster secret", sealed)
	if err != nil || string(plain) != "ca.key bytes" {
		t.Fatalf("open: %q %v", plain, err)
	}
	if _, err := open("another secret", sealed); err == nil || !strings.Contains(err.Error(), "--token") {
		t.Errorf("a wrong secret opened the bundle: %v", err)
	}
	if _, err := open("cluster secret", []byte("x")); err == nil {
		t.Error("a short bundle opened")
	}
	again, _ := seal("cluster secret", []byte("ca.key bytes"))
	if bytes.Equal(again, sealed) {
		t.Error("two seals of the same data are equal: the nonce is not random")
	}
}

func TestFlagMapLetsTheUserOverride(t *testing.T) {
	got := flagMap(map[string]string{"v": "0", "bind-address": "0.0.0.0"}, []string{"--v=2", "feature-gates=A=true"})
	want := []string{"--bind-address=0.0.0.0", "--feature-gates=A=true", "--v=2"}
	if !slices.Equal(got, want) {
		t.Errorf("flagMap = %v, want %v", got, want)
	}
}

func testServer(t *testing.T) *config.Server {
	cfg := &config.Server{BindAddress: "0.0.0.0", HTTPSPort: 6443, TLSSANs: []string{"10.89.0.2", "lb.example"}}
	cfg.DataDir, cfg.NodeName, cfg.NodeIP = t.TempDir(), "s0", "10.89.0.10"
	cfg.ClusterCIDR, cfg.ServiceCIDR, cfg.ClusterDomain = "10.42.0.0/16", "10.43.0.0/16", "cluster.local"
	cfg.APIServerArgs = []string{"v=2"}
	cfg.ControllerArgs = []string{"node-monitor-grace-period=20s"}
	return cfg
}

// The component args carry the config and the user's args, over the
// certificates ensureCerts really made.
func TestComponentArgs(t *testing.T) {
	cfg := testServer(t)
	c, err := ensureCerts(cfg)
	if err != nil {
		t.Fatal(err)
	}
	api := strings.Join(apiServerArgs(cfg, c, "unix:///kine.sock", nil), " ")
	for _, want := range []string{"--advertise-address=10.89.0.10", "--secure-port=6443", "--service-cluster-ip-range=10.43.0.0/16",
		"--etcd-servers=unix:///kine.sock", "--v=2", "--client-ca-file=" + c.CA.CertFile} {
		if !strings.Contains(api, want) {
			t.Errorf("kube-apiserver args lack %s:\n%s", want, api)
		}
	}
	kcm := strings.Join(controllerManagerArgs(cfg, c, true), " ")
	for _, want := range []string{"--cluster-cidr=10.42.0.0/16", "--node-monitor-grace-period=20s", "--leader-elect=true"} {
		if !strings.Contains(kcm, want) {
			t.Errorf("kube-controller-manager args lack %s:\n%s", want, kcm)
		}
	}
	if s := strings.Join(schedulerArgs(cfg, c, false), " "); !strings.Contains(s, "--leader-elect=false") {
		t.Errorf("scheduler args: %s", s)
	}
	spec, err := servingSpec(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var ips []string
	for _, ip := range spec.IPs {
		ips = append(ips, ip.String())
	}
	if !slices.Contains(ips, "10.43.0.1") || !slices.Contains(ips, "10.89.0.2") || !slices.Contains(spec.DNSNames, "lb.example") {
		t.Errorf("serving cert SANs: %v %v", ips, spec.DNSNames)
	}
	again, err := ensureCerts(cfg)
	if err != nil || !again.CA.Cert.Equal(c.CA.Cert) {
		t.Errorf("a restart made a new CA: %v", err)
	}
}

func TestLabelControlPlaneWaitsForTheNode(t *testing.T) {
	client := fake.NewSimpleClientset()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() {
		labelControlPlane(ctx, client, "s0", 10*time.Millisecond)
		close(done)
	}()
	time.Sleep(50 * time.Millisecond) // the Node registers a moment later
	if _, err := client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "s0"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	<-done
	n, err := client.CoreV1().Nodes().Get(ctx, "s0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := n.Labels[LabelControlPlane]; !ok || v != "" {
		t.Errorf("labels %v", n.Labels)
	}
}
