package chartci

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"
)

// object is one resource a release made.
type object struct {
	APIVersion, Kind, Namespace, Name string
}

func (o object) String() string { return fmt.Sprintf("%s %s/%s", o.Kind, o.Namespace, o.Name) }

// parseManifest lists the objects of a rendered release manifest; ns is
// the release's namespace, for objects that name none.
func parseManifest(manifest, ns string) []object {
	var objs []object
	for _, doc := range strings.Split(manifest, "\n---") {
		var m struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
			} `json:"metadata"`
		}
		if yaml.Unmarshal([]byte(doc), &m) != nil || m.Kind == "" || m.Metadata.Name == "" {
			continue
		}
		o := object{APIVersion: m.APIVersion, Kind: m.Kind, Namespace: m.Metadata.Namespace, Name: m.Metadata.Name}
		if o.Namespace == "" {
			o.Namespace = ns
		}
		objs = append(objs, o)
	}
	return objs
}

// errFailed marks a state that waiting cannot mend (a failed Job).
var errFailed = errors.New("failed")

// state says whether an object is ready and, if not, why.
type state struct {
	ready  bool
	reason string
	failed bool
}

// waitReady waits until every Deployment, StatefulSet, DaemonSet, Job,
// bare Pod, PersistentVolumeClaim (one a pod uses, or of Immediate
// binding) and LoadBalancer Service in objs is ready. On a timeout or a
// failed Job the error names each object that is not ready, and why:
// its conditions, its pods' states and its events.
func waitReady(ctx context.Context, client kubernetes.Interface, objs []object, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var waiting []string
		failed := false
		for _, o := range objs {
			st, err := check(ctx, client, o)
			if err != nil {
				return err
			}
			if st.ready {
				continue
			}
			failed = failed || st.failed
			waiting = append(waiting, fmt.Sprintf("%s: %s", o, st.reason))
		}
		if len(waiting) == 0 {
			return nil
		}
		if failed {
			return fmt.Errorf("%w:\n  %s", errFailed, strings.Join(waiting, "\n  "))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for:\n  %s", timeout, strings.Join(waiting, "\n  "))
		}
		if err := pause(ctx); err != nil {
			return err
		}
	}
}

// pause waits a second between two looks at the cluster.
func pause(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Second):
		return nil
	}
}

func check(ctx context.Context, c kubernetes.Interface, o object) (state, error) {
	get := metav1.GetOptions{}
	var st state
	var err error
	switch o.Kind {
	case "Deployment":
		var d *appsv1.Deployment
		if d, err = c.AppsV1().Deployments(o.Namespace).Get(ctx, o.Name, get); err == nil {
			want := replicas(d.Spec.Replicas)
			st.ready = d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas == want &&
				d.Status.AvailableReplicas == want && d.Status.Replicas == want
			st.reason = fmt.Sprintf("%d of %d replicas available%s", d.Status.AvailableReplicas, want,
				deploymentConditions(d)+podsWhy(ctx, c, o.Namespace, d.Spec.Selector))
		}
	case "StatefulSet":
		var s *appsv1.StatefulSet
		if s, err = c.AppsV1().StatefulSets(o.Namespace).Get(ctx, o.Name, get); err == nil {
			want := replicas(s.Spec.Replicas)
			st.ready = s.Status.ObservedGeneration >= s.Generation && s.Status.ReadyReplicas == want &&
				(s.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType || s.Status.UpdatedReplicas == want)
			st.reason = fmt.Sprintf("%d of %d replicas ready%s", s.Status.ReadyReplicas, want,
				podsWhy(ctx, c, o.Namespace, s.Spec.Selector))
		}
	case "DaemonSet":
		var d *appsv1.DaemonSet
		if d, err = c.AppsV1().DaemonSets(o.Namespace).Get(ctx, o.Name, get); err == nil {
			want := d.Status.DesiredNumberScheduled
			st.ready = d.Status.ObservedGeneration >= d.Generation && d.Status.NumberReady == want &&
				d.Status.UpdatedNumberScheduled == want
			st.reason = fmt.Sprintf("%d of %d pods ready%s", d.Status.NumberReady, want,
				podsWhy(ctx, c, o.Namespace, d.Spec.Selector))
		}
	case "Job":
		st, err = jobState(ctx, c, o)
	case "Pod":
		var p *corev1.Pod
		if p, err = c.CoreV1().Pods(o.Namespace).Get(ctx, o.Name, get); err == nil {
			st.ready = p.Status.Phase == corev1.PodSucceeded || podReady(p)
			st.reason = podWhy(ctx, c, p)
		}
	case "PersistentVolumeClaim":
		st, err = claimState(ctx, c, o)
	case "Service":
		var s *corev1.Service
		if s, err = c.CoreV1().Services(o.Namespace).Get(ctx, o.Name, get); err == nil {
			st.ready = s.Spec.Type != corev1.ServiceTypeLoadBalancer || len(s.Status.LoadBalancer.Ingress) > 0
			st.reason = "type LoadBalancer, no ingress address yet"
			if cls := s.Spec.LoadBalancerClass; cls != nil {
				st.reason += fmt.Sprintf(" (loadBalancerClass %q: edgectl's servicelb serves only Services without a class)", *cls)
			}
			st.reason += eventsWhy(ctx, c, o)
		}
	default:
		return state{ready: true}, nil
	}
	if apierrors.IsNotFound(err) {
		return state{reason: "not found"}, nil
	}
	return st, err
}

func replicas(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

func jobState(ctx context.Context, c kubernetes.Interface, o object) (state, error) {
	j, err := c.BatchV1().Jobs(o.Namespace).Get(ctx, o.Name, metav1.GetOptions{})
	if err != nil {
		return state{}, err
	}
	for _, cond := range j.Status.Conditions {
		if cond.Status != corev1.ConditionTrue {
			continue
		}
		switch cond.Type {
		case batchv1.JobComplete:
			return state{ready: true}, nil
		case batchv1.JobFailed:
			return state{failed: true, reason: fmt.Sprintf("Job failed: %s: %s%s", cond.Reason, cond.Message,
				podsWhy(ctx, c, o.Namespace, j.Spec.Selector))}, nil
		}
	}
	return state{reason: fmt.Sprintf("%d succeeded, %d active, %d failed%s", j.Status.Succeeded, j.Status.Active,
		j.Status.Failed, podsWhy(ctx, c, o.Namespace, j.Spec.Selector))}, nil
}

// claimState: a claim of a WaitForFirstConsumer class that no pod uses is
// not waited for; it binds when a consumer comes.
func claimState(ctx context.Context, c kubernetes.Interface, o object) (state, error) {
	pvc, err := c.CoreV1().PersistentVolumeClaims(o.Namespace).Get(ctx, o.Name, metav1.GetOptions{})
	if err != nil {
		return state{}, err
	}
	if pvc.Status.Phase == corev1.ClaimBound {
		return state{ready: true}, nil
	}
	class := ""
	if pvc.Spec.StorageClassName != nil {
		class = *pvc.Spec.StorageClassName
	}
	if class != "" {
		sc, err := c.StorageV1().StorageClasses().Get(ctx, class, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return state{reason: fmt.Sprintf("Pending: StorageClass %q does not exist%s", class, eventsWhy(ctx, c, o))}, nil
		case err != nil:
			return state{}, err
		case sc.VolumeBindingMode != nil && *sc.VolumeBindingMode == storagev1.VolumeBindingWaitForFirstConsumer && !claimUsed(ctx, c, pvc):
			return state{ready: true}, nil
		}
	}
	return state{reason: fmt.Sprintf("%s, not bound%s", pvc.Status.Phase, eventsWhy(ctx, c, o))}, nil
}

func claimUsed(ctx context.Context, c kubernetes.Interface, pvc *corev1.PersistentVolumeClaim) bool {
	pods, err := c.CoreV1().Pods(pvc.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return true
	}
	for _, p := range pods.Items {
		for _, v := range p.Spec.Volumes {
			if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == pvc.Name {
				return true
			}
		}
	}
	return false
}

func deploymentConditions(d *appsv1.Deployment) string {
	var out []string
	for _, cond := range d.Status.Conditions {
		if cond.Status == corev1.ConditionFalse || cond.Type == appsv1.DeploymentReplicaFailure {
			out = append(out, fmt.Sprintf("%s=%s %s: %s", cond.Type, cond.Status, cond.Reason, cond.Message))
		}
	}
	if len(out) == 0 {
		return ""
	}
	return "; " + strings.Join(out, "; ")
}

// podsWhy describes up to three pods of selector that are not ready.
func podsWhy(ctx context.Context, c kubernetes.Interface, ns string, selector *metav1.LabelSelector) string {
	sel, err := metav1.LabelSelectorAsSelector(selector)
	if err != nil {
		return ""
	}
	pods, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return ""
	}
	sort.Slice(pods.Items, func(i, j int) bool { return pods.Items[i].Name < pods.Items[j].Name })
	var out []string
	for i := range pods.Items {
		p := &pods.Items[i]
		if podReady(p) || p.Status.Phase == corev1.PodSucceeded {
			continue
		}
		if len(out) == 3 {
			out = append(out, "…")
			break
		}
		out = append(out, "pod "+p.Name+": "+podWhy(ctx, c, p))
	}
	if len(out) == 0 {
		return ""
	}
	return "\n    " + strings.Join(out, "\n    ")
}

func podReady(p *corev1.Pod) bool {
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podWhy is a pod's phase, why it is not scheduled, its containers'
// waiting and terminated reasons, and its warning events.
func podWhy(ctx context.Context, c kubernetes.Interface, p *corev1.Pod) string {
	parts := []string{string(p.Status.Phase)}
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse {
			parts = append(parts, fmt.Sprintf("not scheduled: %s", cond.Message))
		}
	}
	statuses := append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...)
	for _, s := range statuses {
		switch {
		case s.State.Waiting != nil:
			parts = append(parts, fmt.Sprintf("container %s waiting: %s %s", s.Name, s.State.Waiting.Reason, s.State.Waiting.Message))
		case s.State.Terminated != nil && s.State.Terminated.ExitCode != 0:
			parts = append(parts, fmt.Sprintf("container %s exited %d (%s)%s", s.Name, s.State.Terminated.ExitCode,
				s.State.Terminated.Reason, logTail(ctx, c, p, s.Name, false)))
		}
		if t := s.LastTerminationState.Terminated; t != nil && t.ExitCode != 0 {
			parts = append(parts, fmt.Sprintf("container %s last exited %d (%s), %d restarts%s", s.Name, t.ExitCode, t.Reason,
				s.RestartCount, logTail(ctx, c, p, s.Name, true)))
		}
	}
	return strings.Join(parts, "; ") + eventsWhy(ctx, c, object{Kind: "Pod", Namespace: p.Namespace, Name: p.Name})
}

// logTail is the last lines of a container's log, for the reason a
// container failed.
func logTail(ctx context.Context, c kubernetes.Interface, p *corev1.Pod, container string, previous bool) string {
	lines := int64(3)
	data, err := c.CoreV1().Pods(p.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{Container: container,
		Previous: previous, TailLines: &lines}).DoRaw(ctx)
	if err != nil || len(strings.TrimSpace(string(data))) == 0 {
		return ""
	}
	return ", log: " + strings.Join(strings.Split(strings.TrimSpace(string(data)), "\n"), " / ")
}

// eventsWhy is the newest three distinct warning (or, failing that, any)
// events of o.
func eventsWhy(ctx context.Context, c kubernetes.Interface, o object) string {
	evs, err := c.CoreV1().Events(o.Namespace).List(ctx, metav1.ListOptions{
		FieldSelector: "involvedObject.kind=" + o.Kind + ",involvedObject.name=" + o.Name})
	if err != nil || len(evs.Items) == 0 {
		return "; no events"
	}
	items := evs.Items
	sort.Slice(items, func(i, j int) bool { return eventTime(items[i]).After(eventTime(items[j])) })
	var warnings []corev1.Event
	for _, e := range items {
		if e.Type == corev1.EventTypeWarning {
			warnings = append(warnings, e)
		}
	}
	if len(warnings) > 0 {
		items = warnings
	}
	var out []string
	seen := map[string]bool{}
	for _, e := range items {
		msg := e.Reason + ": " + strings.TrimSpace(e.Message)
		if seen[msg] {
			continue
		}
		seen[msg] = true
		out = append(out, msg)
		if len(out) == 3 {
			break
		}
	}
	return "; events: " + strings.Join(out, " | ")
}

func eventTime(e corev1.Event) time.Time {
	if !e.LastTimestamp.IsZero() {
		return e.LastTimestamp.Time
	}
	if !e.EventTime.IsZero() {
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}
