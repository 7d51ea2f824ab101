package servicelb

import (
	"context"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"

	"github.com/edgectl/edgectl/pkg/iprange"
)

func lbService(name string, age int, mutate ...func(*corev1.Service)) *corev1.Service {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name,
			CreationTimestamp: metav1.NewTime(time.Unix(1000-int64(age), 0))},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIP: "10.43.0.50",
			Ports: []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP}}},
	}
	for _, m := range mutate {
		m(svc)
	}
	return svc
}

func holding(ip string) func(*corev1.Service) {
	return func(s *corev1.Service) { s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: ip}} }
}

func TestAllocate(t *testing.T) {
	pool, _ := iprange.Parse("10.89.0.224-10.89.0.226")
	other := "example.com/other"
	svcs := []*corev1.Service{
		lbService("new", 1),
		lbService("keeps", 9, holding("10.89.0.226")),
		lbService("old", 5),
		lbService("foreign", 8, holding("10.89.0.224"), func(s *corev1.Service) { s.Spec.LoadBalancerClass = &other }),
		lbService("asks", 2, func(s *corev1.Service) { s.Spec.LoadBalancerIP = "10.89.0.226" }),
		lbService("outside", 3, func(s *corev1.Service) { s.Spec.LoadBalancerIP = "10.1.1.1" }),
		lbService("clusterip", 7, func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeClusterIP }),
	}
	a := allocate(svcs, pool)
	want := map[string]string{"default/keeps": "10.89.0.226", "default/old": "10.89.0.225"}
	for k, ip := range want {
		if a.ip[k].String() != ip {
			t.Errorf("%s got %v, want %s", k, a.ip[k], ip)
		}
	}
	if len(a.ip) != 2 {
		t.Errorf("allocated %v", a.ip)
	}
	for k, p := range map[string]string{"default/new": "no free address", "default/asks": "held by Service default/keeps",
		"default/outside": "not in network.loadBalancerRange"} {
		if !strings.Contains(a.problem[k], p) {
			t.Errorf("%s problem %q, want %q", k, a.problem[k], p)
		}
	}
}

func TestPickNode(t *testing.T) {
	svc := lbService("web", 1)
	if pickNode(svc, nil) != "" {
		t.Error("picked a node out of none")
	}
	n := pickNode(svc, []string{"b", "a", "c"})
	if n == "" || pickNode(svc, []string{"c", "a", "b"}) != n {
		t.Errorf("pick is not stable: %q", n)
	}
	svc.Labels = map[string]string{LabelNode: "c"}
	if pickNode(svc, []string{"a", "c"}) != "c" {
		t.Error("moved an address without need")
	}
}

func TestControllerAssignsAndReleases(t *testing.T) {
	pool, _ := iprange.Parse("10.89.0.224-10.89.0.224")
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}}
	client := fake.NewClientset(node, lbService("a", 2), lbService("b", 1))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := record.NewFakeRecorder(10)
	c := &controller{client: client, pool: pool, recorder: rec}
	c.factory = newFactory(client)
	c.factory.Start(ctx.Done())
	c.factory.WaitForCacheSync(ctx.Done())
	if err := c.sync(ctx); err != nil {
		t.Fatal(err)
	}
	a, _ := client.CoreV1().Services("default").Get(ctx, "a", metav1.GetOptions{})
	if ip, _ := ingressIP(a); ip != netip.MustParseAddr("10.89.0.224") || a.Labels[LabelNode] != "n1" {
		t.Fatalf("a: status %v labels %v", a.Status.LoadBalancer, a.Labels)
	}
	b, _ := client.CoreV1().Services("default").Get(ctx, "b", metav1.GetOptions{})
	if len(b.Status.LoadBalancer.Ingress) != 0 || b.Labels[LabelNode] != "" {
		t.Fatalf("b got an address from an exhausted pool: %v", b.Status.LoadBalancer)
	}
	events := strings.Join(drain(rec.Events), "\n")
	if !strings.Contains(events, ReasonAllocationFailed) || !strings.Contains(events, "no free address") {
		t.Errorf("events %s", events)
	}
}

func drain(ch chan string) (out []string) {
	for {
		select {
		case e := <-ch:
			out = append(out, e)
		default:
			return out
		}
	}
}

func TestARPFrame(t *testing.T) {
	mac, _ := net.ParseMAC("02:42:0a:59:00:0b")
	f := arpFrame(mac, netip.MustParseAddr("10.89.0.224"))
	if len(f) != 42 || f[12] != 0x08 || f[13] != 0x06 || f[21] != 1 {
		t.Fatalf("frame % x", f)
	}
	if net.IP(f[28:32]).String() != "10.89.0.224" || net.IP(f[38:42]).String() != "10.89.0.224" || net.HardwareAddr(f[22:28]).String() != mac.String() {
		t.Errorf("sender/target of % x", f)
	}
}

func TestForwarder(t *testing.T) {
	backend, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Close()
	go func() {
		c, err := backend.Accept()
		if err == nil {
			data, _ := io.ReadAll(c) // until the client's half-close
			_, _ = c.Write(append([]byte("got "), data...))
			c.Close()
		}
	}()
	f, err := listenForward("127.0.0.1:0", backend.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := net.Dial("tcp", f.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	_, _ = c.Write([]byte("ping"))
	_ = c.(*net.TCPConn).CloseWrite()
	reply, _ := io.ReadAll(c)
	if string(reply) != "got ping" {
		t.Errorf("reply %q", reply)
	}
}
