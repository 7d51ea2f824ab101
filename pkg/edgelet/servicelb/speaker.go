package servicelb

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"github.com/edgectl/edgectl/pkg/edgelet/hostnet"
)

// speaker is one node's side: it holds the addresses the controller gave
// this node, and forwards the Services' ports on the node's own IP.
type speaker struct {
	node, nodeIP, iface string
	lister              func() ([]*corev1.Service, error)
	forwards            map[int]*forwarder
	refused             map[int]bool // ports that could not be listened on, logged once
}

// Speak runs this node's side until ctx ends. Only Services the controller
// has labelled are watched, so a node holds none of the others in memory.
func Speak(ctx context.Context, client kubernetes.Interface, node, nodeIP string) error {
	iface, err := hostnet.InterfaceOf(nodeIP)
	if err != nil {
		return err
	}
	factory := informers.NewSharedInformerFactoryWithOptions(client, resync,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = LabelNode }))
	inf := factory.Core().V1().Services()
	kick := make(chan struct{}, 1)
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { notify(kick) },
		UpdateFunc: func(any, any) { notify(kick) },
		DeleteFunc: func(any) { notify(kick) },
	}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	factory.WaitForCacheSync(ctx.Done())
	s := &speaker{node: node, nodeIP: nodeIP, iface: iface, forwards: map[int]*forwarder{}, refused: map[int]bool{},
		lister: func() ([]*corev1.Service, error) { return inf.Lister().List(labels.Everything()) }}
	defer s.stopForwards()
	notify(kick)
	loop(ctx, kick, s.sync)
	return nil
}

// sync holds this node's addresses and forwards every served port.
func (s *speaker) sync(context.Context) error {
	svcs, err := s.lister()
	if err != nil {
		return err
	}
	svcs = oldestFirst(svcs)
	var held []netip.Addr
	targets := map[int]string{}
	for _, svc := range svcs {
		ip, ok := ingressIP(svc)
		if !ok || !Ours(svc) {
			continue
		}
		if svc.Labels[LabelNode] == s.node {
			held = append(held, ip)
		}
		for _, p := range svc.Spec.Ports {
			if p.Protocol != corev1.ProtocolTCP && p.Protocol != "" {
				continue // the published ports of the load balancer are TCP
			}
			if _, taken := targets[int(p.Port)]; !taken && svc.Spec.ClusterIP != "" && svc.Spec.ClusterIP != corev1.ClusterIPNone {
				targets[int(p.Port)] = net.JoinHostPort(svc.Spec.ClusterIP, strconv.Itoa(int(p.Port)))
			}
		}
	}
	if err := holdAddresses(s.iface, held); err != nil {
		return fmt.Errorf("hold addresses on %s: %w", s.iface, err)
	}
	s.syncForwards(targets)
	return nil
}

// syncForwards listens on NODE_IP:PORT for each target and stops the
// listeners whose port no Service serves any more.
func (s *speaker) syncForwards(targets map[int]string) {
	for port, f := range s.forwards {
		if _, ok := targets[port]; !ok {
			f.Close()
			delete(s.forwards, port)
		}
	}
	for port, target := range targets {
		if f, ok := s.forwards[port]; ok {
			f.target.Store(target)
			continue
		}
		f, err := listenForward(net.JoinHostPort(s.nodeIP, strconv.Itoa(port)), target)
		if err != nil && !s.refused[port] {
			s.refused[port] = true
			// Taken by edgelet itself (6443, 10250) or a host-network
			// pod: the EXTERNAL-IP still works, only the node's port does not.
			klog.InfoS("Not forwarding a LoadBalancer port on the node's IP", "port", port, "err", err)
		}
		if err != nil {
			continue
		}
		delete(s.refused, port)
		s.forwards[port] = f
	}
}

func (s *speaker) stopForwards() {
	for _, f := range s.forwards {
		f.Close()
	}
}
