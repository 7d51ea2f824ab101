package servicelb

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"

	"github.com/edgectl/edgectl/pkg/iprange"
)

// Event reasons on a Service.
const (
	ReasonAllocated        = "IPAllocated"
	ReasonAllocationFailed = "AllocationFailed"
)

// resync is how often every Service is looked at again without a change.
const resync = 30 * time.Second

// controller hands out addresses and picks the nodes that hold them.
type controller struct {
	client   kubernetes.Interface
	pool     iprange.Range
	recorder record.EventRecorder
	factory  informers.SharedInformerFactory
}

// Run serves LoadBalancer Services from pool until ctx ends. With HA
// servers each runs it; their writes are idempotent and conflicts retry.
func Run(ctx context.Context, client kubernetes.Interface, pool iprange.Range) {
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	c := &controller{
		client: client, pool: pool,
		recorder: broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "edgelet-servicelb"}),
		factory:  newFactory(client),
	}
	kick := make(chan struct{}, 1)
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { notify(kick) },
		UpdateFunc: func(any, any) { notify(kick) },
		DeleteFunc: func(any) { notify(kick) },
	}
	for _, inf := range []cache.SharedIndexInformer{
		c.factory.Core().V1().Services().Informer(),
		c.factory.Core().V1().Nodes().Informer(),
		c.factory.Discovery().V1().EndpointSlices().Informer(),
	} {
		if _, err := inf.AddEventHandler(handler); err != nil {
			klog.ErrorS(err, "servicelb: no event handler")
			return
		}
	}
	c.factory.Start(ctx.Done())
	defer c.factory.Shutdown()
	c.factory.WaitForCacheSync(ctx.Done())
	klog.InfoS("Serving LoadBalancer Services", "range", pool.String())
	loop(ctx, kick, c.sync)
}

func newFactory(client kubernetes.Interface) informers.SharedInformerFactory {
	f := informers.NewSharedInformerFactory(client, resync)
	// The listers sync reads; their informers start with the factory.
	f.Core().V1().Services().Informer()
	f.Core().V1().Nodes().Informer()
	f.Discovery().V1().EndpointSlices().Informer()
	return f
}

// notify wakes a loop without blocking; wakes that arrive together merge.
func notify(kick chan struct{}) {
	select {
	case kick <- struct{}{}:
	default:
	}
}

// loop runs sync after each wake (events arriving within 100 ms merge), and
// again after a second while it fails.
func loop(ctx context.Context, kick chan struct{}, sync func(context.Context) error) {
	retry := time.NewTimer(time.Hour)
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-kick:
		case <-retry.C:
		}
		time.Sleep(100 * time.Millisecond)
		if err := sync(ctx); err != nil && ctx.Err() == nil {
			klog.ErrorS(err, "servicelb sync failed; retrying")
			retry.Reset(time.Second)
		}
	}
}

// sync brings every Service's address and holding node up to date.
func (c *controller) sync(ctx context.Context) error {
	svcs, err := c.factory.Core().V1().Services().Lister().List(labels.Everything())
	if err != nil {
		return err
	}
	nodes, err := c.factory.Core().V1().Nodes().Lister().List(labels.Everything())
	if err != nil {
		return err
	}
	var ready []string
	for _, n := range nodes {
		if nodeReady(n) {
			ready = append(ready, n.Name)
		}
	}
	alloc := allocate(svcs, c.pool)
	var errs []error
	for _, svc := range svcs {
		var ip netip.Addr
		node := ""
		if Ours(svc) {
			ip = alloc.ip[key(svc)]
			candidates := ready
			if svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal {
				candidates = c.endpointNodes(svc, ready)
			}
			if ip.IsValid() {
				node = pickNode(svc, candidates)
			}
			if p := alloc.problem[key(svc)]; p != "" {
				c.recorder.Event(svc, corev1.EventTypeWarning, ReasonAllocationFailed, p)
			}
		} else if _, labelled := svc.Labels[LabelNode]; !labelled {
			continue // never ours
		}
		if err := c.apply(ctx, svc, ip, node); err != nil {
			errs = append(errs, fmt.Errorf("service %s: %w", key(svc), err))
		}
	}
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// endpointNodes are the nodes of ready that run a ready endpoint of svc:
// with externalTrafficPolicy Local only they may hold its address.
func (c *controller) endpointNodes(svc *corev1.Service, ready []string) []string {
	sel := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: svc.Name})
	eps, err := c.factory.Discovery().V1().EndpointSlices().Lister().EndpointSlices(svc.Namespace).List(sel)
	if err != nil {
		return nil
	}
	var out []string
	for _, s := range eps {
		for _, ep := range s.Endpoints {
			if ep.NodeName != nil && (ep.Conditions.Ready == nil || *ep.Conditions.Ready) &&
				slices.Contains(ready, *ep.NodeName) && !slices.Contains(out, *ep.NodeName) {
				out = append(out, *ep.NodeName)
			}
		}
	}
	return out
}

// apply writes ip into svc's status and node into its label; an invalid ip
// clears both (a Service that is no longer ours, or has no address).
func (c *controller) apply(ctx context.Context, svc *corev1.Service, ip netip.Addr, node string) error {
	cur, held := ingressIP(svc)
	switch {
	case ip.IsValid() && (!held || cur != ip || len(svc.Status.LoadBalancer.Ingress) != 1):
		upd := svc.DeepCopy()
		upd.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: ip.String()}}
		if _, err := c.client.CoreV1().Services(svc.Namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{}); err != nil {
			return err
		}
		c.recorder.Eventf(svc, corev1.EventTypeNormal, ReasonAllocated, "Assigned %s from network.loadBalancerRange %s", ip, c.pool)
	case !ip.IsValid() && held && c.pool.Contains(cur) && (Ours(svc) || svc.Labels[LabelNode] != ""):
		upd := svc.DeepCopy()
		upd.Status.LoadBalancer.Ingress = nil
		if _, err := c.client.CoreV1().Services(svc.Namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{}); err != nil {
			return err
		}
	}
	if svc.Labels[LabelNode] == node {
		return nil
	}
	var value any // JSON null removes the label
	if node != "" {
		value = node
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": map[string]any{LabelNode: value}}})
	_, err := c.client.CoreV1().Services(svc.Namespace).Patch(ctx, svc.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err == nil && node != "" {
		klog.InfoS("LoadBalancer address held by node", "service", key(svc), "ip", ip, "node", node)
	}
	return err
}
