// Package addons keeps the cluster in sync with the manifests directory
// (DATA_DIR/server/manifests): every *.yaml/*.json file is applied with
// server-side apply, re-applied when it changes, and the objects it created
// are deleted when the file (or the object's document in it) is removed.
// edgelet's own packaged manifests (CoreDNS) are written there at start.
package addons

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/template"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/klog/v2"
)

//go:embed manifests/*.yaml
var packaged embed.FS

// Values fill the packaged manifest templates.
type Values struct {
	ClusterDNS    string
	ClusterDomain string
	CoreDNSImage  string
	// The server's node name and IP, and metrics-server's port on it.
	NodeName    string
	NodeIP      string
	MetricsPort int
}

// WritePackaged renders edgelet's packaged manifests into dir, skipping the
// names in disable (file names without extension, e.g. "coredns"), and
// removing a disabled one that an earlier start wrote.
func WritePackaged(dir string, v Values, disable []string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	entries, err := packaged.ReadDir("manifests")
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		dst := filepath.Join(dir, name)
		if contains(disable, strings.TrimSuffix(name, filepath.Ext(name))) {
			_ = os.Remove(dst)
			continue
		}
		raw, err := packaged.ReadFile("manifests/" + name)
		if err != nil {
			return err
		}
		tmpl, err := template.New(name).Option("missingkey=error").Parse(string(raw))
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		if err := tmpl.Execute(&buf, v); err != nil {
			return fmt.Errorf("render %s: %w", name, err)
		}
		if old, err := os.ReadFile(dst); err == nil && bytes.Equal(old, buf.Bytes()) {
			continue
		}
		if err := os.WriteFile(dst, buf.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// objRef identifies an applied object, so it can be deleted later.
type objRef struct {
	Group, Version, Kind, Namespace, Name string
}

// state is what was applied from each file, persisted across restarts.
type state struct {
	Files map[string]fileState `json:"files"`
}

type fileState struct {
	Hash    string   `json:"hash"`
	Objects []objRef `json:"objects"`
}

// Manager applies the manifests directory.
type Manager struct {
	Dir       string
	StateFile string
	Interval  time.Duration
	dyn       dynamic.Interface
	mapper    mapper
	synced    bool // false until the first full apply of this process
}

// mapper finds the resource of a kind; Reset forgets what it cached, so a
// CRD applied a moment ago is found.
type mapper interface {
	meta.RESTMapper
	Reset()
}

// New returns a manager for dir that talks to the cluster through cfg.
func New(cfg *rest.Config, dir, stateFile string) (*Manager, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Manager{
		Dir: dir, StateFile: stateFile, Interval: 10 * time.Second, dyn: dyn,
		mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc)),
	}, nil
}

// Run syncs at once and then every Interval until ctx ends.
func (m *Manager) Run(ctx context.Context) {
	for {
		if err := m.Sync(ctx); err != nil && ctx.Err() == nil {
			klog.ErrorS(err, "Failed to apply manifests; retrying", "dir", m.Dir)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(m.Interval):
		}
	}
}

// Sync applies changed files and deletes what removed files created.
func (m *Manager) Sync(ctx context.Context) error {
	st := m.load()
	files, err := m.files()
	if err != nil {
		return err
	}
	var errs []error
	seen := map[string]bool{}
	for _, f := range files {
		seen[f] = true
		data, err := os.ReadFile(filepath.Join(m.Dir, f))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		sum := sha256.Sum256(data)
		hash := hex.EncodeToString(sum[:])
		// The first sync of a process re-applies everything: the datastore
		// may have been restored from a snapshot since the state was saved.
		if old, ok := st.Files[f]; ok && old.Hash == hash && m.synced {
			continue
		}
		refs, err := m.applyFile(ctx, f, data)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f, err))
			continue
		}
		m.deleteGone(ctx, st.Files[f].Objects, refs)
		st.Files[f] = fileState{Hash: hash, Objects: refs}
		klog.InfoS("Applied manifest", "file", f, "objects", len(refs))
	}
	for f, fs := range st.Files {
		if !seen[f] {
			m.deleteGone(ctx, fs.Objects, nil)
			delete(st.Files, f)
			klog.InfoS("Deleted objects of removed manifest", "file", f)
		}
	}
	if err := m.save(st); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		m.synced = true
	}
	return errors.Join(errs...)
}

func (m *Manager) files() ([]string, error) {
	entries, err := os.ReadDir(m.Dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	var out []string
	for _, e := range entries {
		ext := filepath.Ext(e.Name())
		if !e.IsDir() && !strings.HasPrefix(e.Name(), ".") && (ext == ".yaml" || ext == ".yml" || ext == ".json") {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

func (m *Manager) applyFile(ctx context.Context, file string, data []byte) ([]objRef, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var refs []objRef
	for {
		var obj unstructured.Unstructured
		if err := dec.Decode(&obj.Object); err != nil {
			if err == io.EOF {
				return refs, nil
			}
			return refs, err
		}
		if len(obj.Object) == 0 {
			continue
		}
		ref, err := m.apply(ctx, &obj)
		if err != nil {
			return refs, fmt.Errorf("%s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
		refs = append(refs, ref)
	}
}

func (m *Manager) apply(ctx context.Context, obj *unstructured.Unstructured) (objRef, error) {
	gvk := obj.GroupVersionKind()
	mapping, err := m.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		m.mapper.Reset() // a CRD from an earlier document may have just appeared
		if mapping, err = m.mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
			return objRef{}, err
		}
	}
	ri := m.resource(mapping, obj.GetNamespace())
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace && obj.GetNamespace() == "" {
		obj.SetNamespace(metav1.NamespaceDefault)
		ri = m.resource(mapping, metav1.NamespaceDefault)
	}
	body, err := json.Marshal(obj.Object)
	if err != nil {
		return objRef{}, err
	}
	force := true
	_, err = ri.Patch(ctx, obj.GetName(), types.ApplyPatchType, body, metav1.PatchOptions{FieldManager: "edgelet", Force: &force})
	return objRef{gvk.Group, gvk.Version, gvk.Kind, obj.GetNamespace(), obj.GetName()}, err
}

func (m *Manager) resource(mapping *meta.RESTMapping, ns string) dynamic.ResourceInterface {
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		return m.dyn.Resource(mapping.Resource).Namespace(ns)
	}
	return m.dyn.Resource(mapping.Resource)
}

// deleteGone deletes the objects in old that are not in keep.
func (m *Manager) deleteGone(ctx context.Context, old, keep []objRef) {
	kept := map[objRef]bool{}
	for _, r := range keep {
		kept[r] = true
	}
	for _, r := range old {
		if kept[r] {
			continue
		}
		mapping, err := m.mapper.RESTMapping(schema.GroupKind{Group: r.Group, Kind: r.Kind}, r.Version)
		if err != nil {
			continue
		}
		err = m.resource(mapping, r.Namespace).Delete(ctx, r.Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			klog.ErrorS(err, "Failed to delete object of removed manifest", "kind", r.Kind, "name", r.Name)
		}
	}
}

func (m *Manager) load() *state {
	st := &state{Files: map[string]fileState{}}
	if data, err := os.ReadFile(m.StateFile); err == nil {
		_ = json.Unmarshal(data, st)
		if st.Files == nil {
			st.Files = map[string]fileState{}
		}
	}
	return st
}

func (m *Manager) save(st *state) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := m.StateFile + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, m.StateFile)
}
