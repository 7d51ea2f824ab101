package helmcontroller

import (
	"context"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
)

// resync is how often every HelmChart is looked at without a change (a
// failed install is retried then).
const resync = 30 * time.Second

// controller reconciles HelmCharts one at a time.
type controller struct {
	dyn      dynamic.Interface
	helm     *helm
	recorder record.EventRecorder
}

// Run installs, upgrades and uninstalls the charts of HelmCharts until ctx
// ends. kubeconfig is the cluster admin's; dir holds Helm's repository cache.
func Run(ctx context.Context, kubeconfig, dir string, dyn dynamic.Interface, client kubernetes.Interface) {
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	c := &controller{dyn: dyn, helm: &helm{kubeconfig: kubeconfig, dir: dir},
		recorder: broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "edgelet-helm-controller"})}
	klog.InfoS("Serving HelmCharts")
	for {
		w, err := c.dyn.Resource(GVR).Namespace(metav1.NamespaceAll).Watch(ctx, metav1.ListOptions{})
		if err == nil {
			c.syncAll(ctx)
			timer := time.NewTimer(resync)
		events:
			for {
				select {
				case <-ctx.Done():
					w.Stop()
					timer.Stop()
					return
				case _, ok := <-w.ResultChan():
					if !ok {
						break events
					}
				case <-timer.C:
					break events
				}
				drain(w.ResultChan())
				c.syncAll(ctx)
			}
			w.Stop()
			timer.Stop()
			continue
		}
		// The CRD is applied with the packaged manifests, just after the API is up.
		klog.V(2).InfoS("Waiting for the HelmChart resource", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
	}
}

// drain takes the events that are already queued: one sync covers them.
func drain(events <-chan watch.Event) {
	for {
		select {
		case _, ok := <-events:
			if !ok {
				return
			}
		default:
			return
		}
	}
}

// syncAll reconciles every HelmChart.
func (c *controller) syncAll(ctx context.Context) {
	list, err := c.dyn.Resource(GVR).Namespace(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		klog.ErrorS(err, "List HelmCharts")
		return
	}
	for i := range list.Items {
		if err := c.sync(ctx, &list.Items[i]); err != nil && ctx.Err() == nil {
			klog.ErrorS(err, "HelmChart", "chart", list.Items[i].GetNamespace()+"/"+list.Items[i].GetName())
		}
	}
}

// sync brings one HelmChart's release in line with it.
func (c *controller) sync(ctx context.Context, obj *unstructured.Unstructured) error {
	ch, err := decode(obj)
	if obj.GetDeletionTimestamp() != nil {
		if !slices.Contains(obj.GetFinalizers(), Finalizer) {
			return nil
		}
		if err == nil {
			if err := c.helm.uninstall(ctx, obj.GetName(), ch); err != nil {
				c.recorder.Eventf(obj, corev1.EventTypeWarning, "UninstallFailed", "uninstall %s: %v", obj.GetName(), err)
				return err
			}
			c.recorder.Eventf(obj, corev1.EventTypeNormal, "Uninstalled", "Uninstalled release %s from %s", obj.GetName(), ch.releaseNamespace())
		}
		obj.SetFinalizers(slices.DeleteFunc(obj.GetFinalizers(), func(f string) bool { return f == Finalizer }))
		_, err := c.dyn.Resource(GVR).Namespace(obj.GetNamespace()).Update(ctx, obj, metav1.UpdateOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	if err != nil {
		return c.setStatus(ctx, obj, Status{ObservedGeneration: obj.GetGeneration()}, "InvalidSpec", err)
	}
	if !slices.Contains(obj.GetFinalizers(), Finalizer) {
		obj.SetFinalizers(append(obj.GetFinalizers(), Finalizer))
		updated, err := c.dyn.Resource(GVR).Namespace(obj.GetNamespace()).Update(ctx, obj, metav1.UpdateOptions{})
		if err != nil {
			return err
		}
		obj = updated
	}
	if ch.status.ObservedGeneration == obj.GetGeneration() && meta.IsStatusConditionTrue(ch.status.Conditions, ConditionDeployed) {
		return nil
	}
	klog.InfoS("Installing a HelmChart", "chart", ch.key(), "generation", obj.GetGeneration())
	rev, err := c.helm.apply(ctx, obj.GetName(), ch)
	st := Status{ObservedGeneration: obj.GetGeneration(), ReleaseName: obj.GetName(), ReleaseNamespace: ch.releaseNamespace(),
		ReleaseRevision: rev, Conditions: ch.status.Conditions}
	if err != nil {
		c.recorder.Eventf(obj, corev1.EventTypeWarning, "InstallFailed", "%v", err)
		return c.setStatus(ctx, obj, st, "InstallFailed", err)
	}
	c.recorder.Eventf(obj, corev1.EventTypeNormal, "Deployed", "Release %s revision %d deployed in %s", obj.GetName(), rev, ch.releaseNamespace())
	return c.setStatus(ctx, obj, st, "Deployed", nil)
}

// setStatus writes st with the Deployed condition: true without an error,
// false with reason and the error's text.
func (c *controller) setStatus(ctx context.Context, obj *unstructured.Unstructured, st Status, reason string, failure error) error {
	cond := metav1.Condition{Type: ConditionDeployed, Status: metav1.ConditionTrue, Reason: reason, ObservedGeneration: obj.GetGeneration(),
		Message: fmt.Sprintf("release %s revision %d", st.ReleaseName, st.ReleaseRevision)}
	if failure != nil {
		cond.Status, cond.Message = metav1.ConditionFalse, failure.Error()
	}
	meta.SetStatusCondition(&st.Conditions, cond)
	var raw map[string]any
	if err := convert(st, &raw); err != nil {
		return err
	}
	obj = obj.DeepCopy()
	obj.Object["status"] = raw
	_, err := c.dyn.Resource(GVR).Namespace(obj.GetNamespace()).UpdateStatus(ctx, obj, metav1.UpdateOptions{})
	if failure != nil && err == nil {
		return failure
	}
	return err
}
