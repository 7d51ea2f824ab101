package chartci

import (
	"context"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// cluster is the API access of one cluster under test.
type clusterAPI struct {
	client  kubernetes.Interface
	dynamic dynamic.Interface
	mapper  meta.RESTMapper
}

func newClusterAPI(cfg *rest.Config) (*clusterAPI, error) {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(client.Discovery()))
	return &clusterAPI{client: client, dynamic: dyn, mapper: mapper}, nil
}

// leftovers waits until none of objs exists any more and no pod but Helm's
// hook pods is left in ns, and names what is still there after timeout.
func (a *clusterAPI) leftovers(ctx context.Context, objs []object, ns string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var left []string
		for _, o := range objs {
			exists, err := a.exists(ctx, o)
			if err != nil {
				return err
			}
			if exists {
				left = append(left, o.String())
			}
		}
		pods, err := a.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, p := range pods.Items {
			if _, hook := p.Annotations["helm.sh/hook"]; hook {
				continue // Helm keeps hook pods (helm test's) by design
			}
			left = append(left, fmt.Sprintf("Pod %s/%s (%s)", ns, p.Name, p.Status.Phase))
		}
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after uninstall, still there %s later: %s", timeout, strings.Join(left, ", "))
		}
		if err := pause(ctx); err != nil {
			return err
		}
	}
}

func (a *clusterAPI) exists(ctx context.Context, o object) (bool, error) {
	gv, err := schema.ParseGroupVersion(o.APIVersion)
	if err != nil {
		return false, nil
	}
	m, err := a.mapper.RESTMapping(gv.WithKind(o.Kind).GroupKind(), gv.Version)
	if meta.IsNoMatchError(err) {
		return false, nil // its CRD went with the release
	}
	if err != nil {
		return false, err
	}
	var ri dynamic.ResourceInterface = a.dynamic.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ri = a.dynamic.Resource(m.Resource).Namespace(o.Namespace)
	}
	_, err = ri.Get(ctx, o.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// deleteNamespace starts the removal of ns, and so of the claims
// StatefulSets keep. It does not wait: the namespace controller takes
// 5-20 s, and the next install into ns waits for it (namespaceFree).
func (a *clusterAPI) deleteNamespace(ctx context.Context, ns string) error {
	err := a.client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// namespaceFree waits until ns is not terminating any more (a re-run on
// the same cluster).
func (a *clusterAPI) namespaceFree(ctx context.Context, ns string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		n, err := a.client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if apierrors.IsNotFound(err) || (err == nil && n.DeletionTimestamp == nil) {
			return nil
		}
		if err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("namespace %s still terminating after %s", ns, timeout)
		}
		if err := pause(ctx); err != nil {
			return err
		}
	}
}
