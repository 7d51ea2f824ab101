package chartci

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/edgectl/edgectl/internal/archive"
)

// dumpNamespace writes what a CI system needs to see why a release in ns
// failed: every event, each pod, workload, claim and Service with its
// status, and each container's log (and its previous one).
func (a *clusterAPI) dumpNamespace(ctx context.Context, ns, dir string) error {
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		return err
	}
	evs, err := a.client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	sort.Slice(evs.Items, func(i, j int) bool { return eventTime(evs.Items[i]).Before(eventTime(evs.Items[j])) })
	var b strings.Builder
	for _, e := range evs.Items {
		fmt.Fprintf(&b, "%s  %-7s %-20s %s/%s: %s\n", eventTime(e).Format("15:04:05"), e.Type, e.Reason,
			e.InvolvedObject.Kind, e.InvolvedObject.Name, strings.TrimSpace(e.Message))
	}
	if err := os.WriteFile(filepath.Join(dir, "events.txt"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	if err := a.describeAll(ctx, ns, filepath.Join(dir, "objects.yaml")); err != nil {
		return err
	}
	pods, err := a.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, p := range pods.Items {
		for _, c := range append(append([]corev1.Container{}, p.Spec.InitContainers...), p.Spec.Containers...) {
			for _, previous := range []bool{false, true} {
				name := p.Name + "_" + c.Name + ".log"
				if previous {
					name = p.Name + "_" + c.Name + ".previous.log"
				}
				a.saveLog(ctx, ns, p.Name, c.Name, previous, filepath.Join(dir, "logs", name))
			}
		}
	}
	return nil
}

func (a *clusterAPI) saveLog(ctx context.Context, ns, pod, container string, previous bool, path string) {
	rc, err := a.client.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: container, Previous: previous}).Stream(ctx)
	if err != nil {
		if !previous {
			_ = os.WriteFile(path, []byte("no log: "+err.Error()+"\n"), 0o644)
		}
		return
	}
	defer rc.Close()
	f, err := os.Create(path)
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = io.Copy(f, rc)
}

// describeAll writes each pod, workload, claim and Service of ns with its
// spec and status (as ` + "`kubectl get -o yaml`" + `, without managed fields);
// their events are in events.txt. kubectl's describe package would add
// 20 MB to edgectl.
func (a *clusterAPI) describeAll(ctx context.Context, ns, path string) error {
	opts := metav1.ListOptions{}
	lists := []func() (runtime.Object, error){
		func() (runtime.Object, error) { return a.client.CoreV1().Pods(ns).List(ctx, opts) },
		func() (runtime.Object, error) { return a.client.AppsV1().Deployments(ns).List(ctx, opts) },
		func() (runtime.Object, error) { return a.client.AppsV1().StatefulSets(ns).List(ctx, opts) },
		func() (runtime.Object, error) { return a.client.AppsV1().DaemonSets(ns).List(ctx, opts) },
		func() (runtime.Object, error) { return a.client.BatchV1().Jobs(ns).List(ctx, opts) },
		func() (runtime.Object, error) { return a.client.CoreV1().PersistentVolumeClaims(ns).List(ctx, opts) },
		func() (runtime.Object, error) { return a.client.CoreV1().Services(ns).List(ctx, opts) },
	}
	var b strings.Builder
	for _, list := range lists {
		l, err := list()
		if err != nil {
			return err
		}
		kind := strings.TrimSuffix(fmt.Sprintf("%T", l), "List")
		kind = kind[strings.LastIndex(kind, ".")+1:]
		err = meta.EachListItem(l, func(o runtime.Object) error {
			acc, err := meta.Accessor(o)
			if err != nil {
				return err
			}
			acc.SetManagedFields(nil)
			out, err := yaml.Marshal(o)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, "--- # %s %s/%s\n%s", kind, ns, acc.GetName(), out)
			return nil
		})
		if err != nil {
			return err
		}
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// writeTarball packs dir into dir + ".tar.gz" and removes dir.
func writeTarball(dir string) (string, error) {
	entries, err := archive.Tree(dir)
	if err != nil {
		return "", err
	}
	dst := dir + ".tar.gz"
	if _, err := archive.WriteGzipFile(dst, entries, gzip.DefaultCompression); err != nil {
		return "", err
	}
	return dst, os.RemoveAll(dir)
}
