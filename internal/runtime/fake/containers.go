package fake

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	goruntime "runtime"
	"sort"
	"strings"

	"github.com/edgectl/edgectl/internal/runtime"
)

// CreateNode creates the volumes and the container, writes its files and
// starts it.
func (r *Runtime) CreateNode(ctx context.Context, s runtime.NodeSpec) error {
	if err := r.check("create", s.Name); err != nil {
		return err
	}
	r.mu.Lock()
	if _, ok := r.containers[s.Name]; ok {
		r.mu.Unlock()
		return fmt.Errorf("create container %s: name in use", s.Name)
	}
	if _, ok := r.networks[s.Network]; !ok {
		r.mu.Unlock()
		return fmt.Errorf("create container %s: network %s: %w", s.Name, s.Network, runtime.ErrNotFound)
	}
	if _, ok := r.images[s.Image]; !ok {
		r.mu.Unlock()
		return fmt.Errorf("create container %s: image %s: %w", s.Name, s.Image, runtime.ErrNotFound)
	}
	for _, m := range s.Mounts {
		if m.Volume != "" {
			r.volumes[m.Volume] = s.Labels
		}
	}
	c := &Container{Spec: s, State: "created", Files: map[string][]byte{}}
	for p, data := range s.Files {
		c.Files[p] = data
	}
	r.containers[s.Name] = c
	r.mu.Unlock()
	for _, pm := range s.Ports {
		if r.TakenPorts[pm.HostPort] {
			return fmt.Errorf("start container %s: %w", s.Name, &runtime.PortTakenError{Port: pm.HostPort})
		}
	}
	if s.Node && s.Privileged && r.RefusePrivileged {
		return fmt.Errorf("start container %s: %w: unable to apply caps: operation not permitted", s.Name, runtime.ErrPrivilegeRefused)
	}
	return r.Start(ctx, s.Name)
}

// List returns the containers with all the labels.
func (r *Runtime) List(_ context.Context, labels map[string]string) ([]runtime.Container, error) {
	if err := r.check("list", ""); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []runtime.Container
	for name, c := range r.containers {
		if matches(c.Spec.Labels, labels) {
			nets := append([]string{c.Spec.Network}, c.Extra...)
			sort.Strings(nets)
			out = append(out, runtime.Container{Name: name, ID: "id-" + name, Image: c.Spec.Image, State: c.State,
				Labels: c.Spec.Labels, IP: c.Spec.IP, Network: c.Spec.Network, Networks: nets})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (r *Runtime) setState(name, op, state string) error {
	return r.withContainer(op, name, "", func(c *Container) error { c.State = state; return nil })
}

// withContainer checks op (on name and detail), then runs fn on the
// container under the lock.
func (r *Runtime) withContainer(op, name, detail string, fn func(*Container) error) error {
	if err := r.check(op, name+detail); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[name]
	if !ok {
		return fmt.Errorf("container %s: %w", name, runtime.ErrNotFound)
	}
	return fn(c)
}

// Start starts a container and runs OnStart.
func (r *Runtime) Start(_ context.Context, name string) error {
	if err := r.setState(name, "start", "running"); err != nil {
		return err
	}
	if r.OnStart != nil {
		r.OnStart(r, name)
	}
	return nil
}

// Stop stops a container.
func (r *Runtime) Stop(_ context.Context, name string) error {
	return r.setState(name, "stop", "exited")
}

// Signal records a signal; KILL stops the container.
func (r *Runtime) Signal(_ context.Context, name, signal string) error {
	if signal == "KILL" {
		return r.setState(name, "kill", "exited")
	}
	return r.check("signal-"+signal, name)
}

// Remove deletes a container; a missing one is fine.
func (r *Runtime) Remove(_ context.Context, name string) error {
	return r.forget("remove", name, func() { delete(r.containers, name) })
}

// forget runs del under the lock after checking op.
func (r *Runtime) forget(op, name string, del func()) error {
	if err := r.check(op, name); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	del()
	return nil
}

// ListVolumes lists the volumes with all the labels.
func (r *Runtime) ListVolumes(_ context.Context, labels map[string]string) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for name, l := range r.volumes {
		if matches(l, labels) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, nil
}

// RemoveVolume deletes a volume; a missing one is fine.
func (r *Runtime) RemoveVolume(_ context.Context, name string) error {
	return r.forget("volume-remove", name, func() { delete(r.volumes, name) })
}

// ExecDirect is Exec: the fake has no shell to leave out.
func (r *Runtime) ExecDirect(ctx context.Context, name string, cmd []string) (runtime.ExecResult, error) {
	return r.Exec(ctx, name, cmd, nil)
}

// Exec runs cmd through the OnExec hook, in a running container only.
func (r *Runtime) Exec(_ context.Context, name string, cmd []string, stdin io.Reader) (runtime.ExecResult, error) {
	err := r.check("exec", name+": "+strings.Join(cmd, " "))
	r.mu.Lock()
	c, ok := r.containers[name]
	running := ok && c.State == "running"
	r.mu.Unlock()
	if err != nil {
		return runtime.ExecResult{}, err
	}
	if !running {
		return runtime.ExecResult{}, fmt.Errorf("exec in %s: container is not running", name)
	}
	var in string
	if stdin != nil {
		data, _ := io.ReadAll(stdin)
		in = string(data)
	}
	if r.OnExec != nil {
		return r.OnExec(r, name, cmd, in)
	}
	return r.DefaultExec(name, cmd)
}

// DefaultExec prints a file for `cat FILE` and succeeds for anything else.
func (r *Runtime) DefaultExec(name string, cmd []string) (runtime.ExecResult, error) {
	if len(cmd) == 2 && cmd[0] == "cat" {
		r.mu.Lock()
		data, ok := r.containers[name].Files[cmd[1]]
		r.mu.Unlock()
		if !ok {
			return runtime.ExecResult{ExitCode: 1, Stderr: "cat: " + cmd[1] + ": No such file or directory\n"}, nil
		}
		return runtime.ExecResult{Stdout: string(data)}, nil
	}
	return runtime.ExecResult{}, nil
}

// WriteFiles writes files into a container.
func (r *Runtime) WriteFiles(_ context.Context, name string, files map[string][]byte) error {
	return r.withContainer("write", name, "", func(c *Container) error {
		for p, data := range files {
			c.Files[p] = data
		}
		return nil
	})
}

// ReadFile reads a file of a container.
func (r *Runtime) ReadFile(_ context.Context, name, path string) ([]byte, error) {
	var data []byte
	err := r.withContainer("read", name, ":"+path, func(c *Container) error {
		var ok bool
		if data, ok = c.Files[path]; !ok {
			return fmt.Errorf("%s in %s: %w", path, name, runtime.ErrNotFound)
		}
		return nil
	})
	return data, err
}

// Logs writes a line that names the container.
func (r *Runtime) Logs(_ context.Context, name string, w io.Writer) error {
	_, err := fmt.Fprintf(w, "log of %s\n", name)
	return err
}

// ImageLabel returns a label of an image.
func (r *Runtime) ImageLabel(_ context.Context, ref, label string) (string, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	labels, ok := r.images[ref]
	if !ok {
		return "", false, nil
	}
	return labels[label], true, nil
}

// LoadImage reads the archive and records it. The images of a `docker
// save` archive (manifest.json) are kept under their tags, with their
// config's labels.
func (r *Runtime) LoadImage(_ context.Context, archive io.Reader) error {
	data, err := io.ReadAll(archive)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, "load")
	if err != nil {
		return err
	}
	for tag, labels := range savedImages(data) {
		r.images[tag] = labels
	}
	return nil
}

// savedImages reads a `docker save` archive: each tag's config labels.
// Anything else holds none.
func savedImages(data []byte) map[string]map[string]string {
	files := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		if b, err := io.ReadAll(tr); err == nil {
			files[path.Clean(h.Name)] = b
		}
	}
	var manifest []struct {
		Config   string
		RepoTags []string
	}
	if json.Unmarshal(files["manifest.json"], &manifest) != nil {
		return nil
	}
	out := map[string]map[string]string{}
	for _, m := range manifest {
		var cfg struct {
			Config struct{ Labels map[string]string }
		}
		_ = json.Unmarshal(files[path.Clean(m.Config)], &cfg)
		labels := cfg.Config.Labels
		if labels == nil {
			labels = map[string]string{}
		}
		for _, t := range m.RepoTags {
			out[t] = labels
		}
	}
	return out
}

// SaveImage streams the refs' names, one per line, as the "archive".
func (r *Runtime) SaveImage(_ context.Context, refs []string) (io.ReadCloser, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ref := range refs {
		if _, ok := r.images[ref]; !ok {
			return nil, fmt.Errorf("image %s: %w", ref, runtime.ErrNotFound)
		}
	}
	return io.NopCloser(bytes.NewReader([]byte(strings.Join(refs, "\n")))), nil
}

// ImageID is the ref's own name.
func (r *Runtime) ImageID(_ context.Context, ref string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.images[ref]; !ok {
		return "", fmt.Errorf("image %s: %w", ref, runtime.ErrNotFound)
	}
	return "sha256:" + ref, nil
}

// ImagePlatform is linux/ plus the image's io.edgectl.arch label, else the
// host's architecture.
func (r *Runtime) ImagePlatform(_ context.Context, ref string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	labels, ok := r.images[ref]
	if !ok {
		return "", nil
	}
	if arch := labels["io.edgectl.arch"]; arch != "" {
		return "linux/" + arch, nil
	}
	return "linux/" + goruntime.GOARCH, nil
}

// ReadImageFiles returns, for each path of a known image, "ref:path".
func (r *Runtime) ReadImageFiles(_ context.Context, ref string, paths []string) (map[string][]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.images[ref]; !ok {
		return nil, fmt.Errorf("image %s: %w", ref, runtime.ErrNotFound)
	}
	files := map[string][]byte{}
	for _, p := range paths {
		files[p] = []byte(ref + ":" + p)
	}
	return files, nil
}

// RemoveImage forgets an image.
func (r *Runtime) RemoveImage(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.images, strings.TrimPrefix(id, "sha256:"))
	return nil
}
