package addons

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"
)

type staticMapper struct{ meta.RESTMapper }

func (staticMapper) Reset() {}

// newTestManager applies into a fake dynamic client that records every
// patch and delete, "resource/namespace/name" each.
func newTestManager(t *testing.T) (*Manager, *[]string) {
	t.Helper()
	m := meta.NewDefaultRESTMapper(nil)
	m.Add(schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, meta.RESTScopeNamespace)
	m.Add(schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, meta.RESTScopeRoot)
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		{Version: "v1", Resource: "configmaps"}: "ConfigMapList", {Version: "v1", Resource: "namespaces"}: "NamespaceList"})
	var actions []string
	dyn.PrependReactor("*", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		switch a := a.(type) {
		case k8stesting.PatchAction:
			actions = append(actions, "patch "+a.GetResource().Resource+"/"+a.GetNamespace()+"/"+a.GetName())
		case k8stesting.DeleteAction:
			actions = append(actions, "delete "+a.GetResource().Resource+"/"+a.GetNamespace()+"/"+a.GetName())
		}
		return true, nil, nil
	})
	dir := t.TempDir()
	return &Manager{Dir: filepath.Join(dir, "manifests"), StateFile: filepath.Join(dir, "state.json"), dyn: dyn, mapper: staticMapper{m}}, &actions
}

func TestSyncAppliesChangesAndDeletesWhatWasRemoved(t *testing.T) {
	ctx := context.Background()
	m, actions := newTestManager(t)
	write := func(name, body string) {
		if err := os.MkdirAll(m.Dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(m.Dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sync := func() []string {
		t.Helper()
		*actions = nil
		if err := m.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		got := append([]string(nil), *actions...)
		sort.Strings(got)
		return got
	}
	write("a.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: edge}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: one}\n")
	write("b.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: two, namespace: edge}\n")
	write("notes.txt", "not a manifest")
	if got, want := sync(), []string{"patch configmaps/default/one", "patch configmaps/edge/two", "patch namespaces//edge"}; !slices.Equal(got, want) {
		t.Fatalf("first sync %v, want %v", got, want)
	}
	if got := sync(); len(got) != 0 {
		t.Errorf("an unchanged dir was applied again: %v", got)
	}
	write("a.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: edge}\n")
	if got, want := sync(), []string{"delete configmaps/default/one", "patch namespaces//edge"}; !slices.Equal(got, want) {
		t.Errorf("after removing a document: %v, want %v", got, want)
	}
	_ = os.Remove(filepath.Join(m.Dir, "b.yaml"))
	if got, want := sync(), []string{"delete configmaps/edge/two"}; !slices.Equal(got, want) {
		t.Errorf("after removing a file: %v, want %v", got, want)
	}
	// A new process re-applies everything once: the datastore may have
	// been restored from a snapshot since.
	m2, actions2 := newTestManager(t)
	m2.Dir, m2.StateFile = m.Dir, m.StateFile
	if err := m2.Sync(ctx); err != nil || len(*actions2) != 1 {
		t.Errorf("first sync of a new process: %v %v", *actions2, err)
	}
	write("bad.yaml", "apiVersion: v1\nkind: Unknown\nmetadata: {name: x}\n")
	if err := m.Sync(ctx); err == nil || !strings.Contains(err.Error(), "bad.yaml") {
		t.Errorf("an unknown kind: %v", err)
	}
}

func TestWritePackagedHonoursDisable(t *testing.T) {
	dir := t.TempDir()
	v := Values{ClusterDNS: "10.43.0.10", ClusterDomain: "cluster.local", CoreDNSImage: "coredns:1"}
	if err := WritePackaged(dir, v, nil); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "coredns.yaml"))
	if err != nil || !strings.Contains(string(data), "10.43.0.10") || !strings.Contains(string(data), "coredns:1") {
		t.Fatalf("coredns manifest: %v\n%s", err, data)
	}
	if err := WritePackaged(dir, v, []string{"coredns"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "coredns.yaml")); !os.IsNotExist(err) {
		t.Error("a disabled manifest stayed")
	}
}
