package agent

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"syscall"
	"text/template"
	"time"

	"k8s.io/klog/v2"

	nodev1 "github.com/edgectl/edgectl/pkg/apis/node/v1alpha1"
	"github.com/edgectl/edgectl/pkg/edgelet/pki"
)

// ContainerdSocket is where containerd serves CRI and its own API.
const ContainerdSocket = "/run/containerd/containerd.sock"

// containerdConfig is the template of containerd's config (v3 schema, used by
// containerd 2.x).
var containerdConfig = template.Must(template.New("containerd").Parse(`# Written by edgelet; changes are overwritten at start.
version = 3
root = "/var/lib/containerd"
state = "/run/containerd"

[grpc]
  address = "{{.Socket}}"

[plugins.'io.containerd.cri.v1.images']
  snapshotter = "{{.Snapshotter}}"
{{- if .ImagePlatform}}
  # containerd is the host's own, under emulation: pods run images of this
  # node's platform, not of containerd's.
  [plugins.'io.containerd.cri.v1.images'.runtime_platforms.runc]
    platform = "{{.ImagePlatform}}"
{{- end}}
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = "{{.SandboxImage}}"
  [plugins.'io.containerd.cri.v1.images'.registry]
    config_path = "{{.RegistryDir}}"

[plugins.'io.containerd.cri.v1.runtime']
  enable_selinux = false
  # AppArmor profiles cannot be loaded from inside a node container.
  disable_apparmor = true
{{- if .RestrictOOMScoreAdj}}
  # Without CAP_SYS_RESOURCE runc cannot set a negative oom_score_adj and every
  # pod sandbox fails with "can't get final child's PID from pipe: EOF".
  restrict_oom_score_adj = true
{{- end}}
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        SystemdCgroup = {{.SystemdCgroup}}
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ["{{.CNIBinDir}}"]
    conf_dir = "{{.CNIConfDir}}"

[plugins.'io.containerd.grpc.v1.cri']
  stream_server_address = "127.0.0.1"
`))

type containerdParams struct {
	Socket              string
	Snapshotter         string
	SandboxImage        string
	RegistryDir         string
	RestrictOOMScoreAdj bool
	SystemdCgroup       bool
	CNIBinDir           string
	CNIConfDir          string
	ImagePlatform       string // images for runc, when not containerd's own platform
}

func renderContainerdConfig(p containerdParams) ([]byte, error) {
	var buf bytes.Buffer
	if err := containerdConfig.Execute(&buf, p); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// startContainerd writes containerd's config and runs it as a child process
// that dies with edgelet (Pdeathsig), then waits for its socket.
func (a *agent) startContainerd(ctx context.Context) error {
	dir := filepath.Join(a.cfg.AgentDir(), "containerd")
	registryDir := filepath.Join(a.cfg.AgentDir(), "etc", "containerd", "certs.d")
	for _, d := range []string{dir, cniConfDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	// Emulated (nodev1.NativeDir): the host's own containerd, shim and runc,
	// and a resolver that gives it the tags of this node's platform.
	bin, path, platform, resolver := "containerd", os.Getenv("PATH"), "", ""
	if _, err := os.Stat(filepath.Join(nodev1.NativeDir, "containerd")); err == nil {
		bin, path, platform = filepath.Join(nodev1.NativeDir, "containerd"), nodev1.NativeDir+":"+path, "linux/"+goruntime.GOARCH
		r, err := newPlatformResolver(platform, a.cfg.Mirrors, a.cfg.MirrorServers)
		if err != nil {
			return err
		}
		if resolver, err = r.serve(ctx); err != nil {
			return fmt.Errorf("platform resolver: %w", err)
		}
		klog.InfoS("Emulated node: running the host's containerd and runc", "dir", nodev1.NativeDir, "imagePlatform", platform, "resolver", resolver)
	}
	if err := writeMirrors(registryDir, a.cfg.Mirrors, a.cfg.MirrorServers, resolver); err != nil {
		return fmt.Errorf("registry mirrors: %w", err)
	}
	conf, err := renderContainerdConfig(containerdParams{
		ImagePlatform:       platform,
		Socket:              ContainerdSocket,
		Snapshotter:         "overlayfs",
		SandboxImage:        a.cfg.SandboxImage,
		RegistryDir:         registryDir,
		RestrictOOMScoreAdj: a.cfg.Unprivileged,
		CNIBinDir:           cniBinDir,
		CNIConfDir:          cniConfDir,
	})
	if err != nil {
		return err
	}
	confPath := filepath.Join(dir, "config.toml")
	if err := pki.WriteFileIfChanged(confPath, conf, 0o644); err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(dir, "containerd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, "--config", confPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Pdeathsig: containerd must not outlive edgelet, or a restart would find
	// the socket taken. Setpgid keeps a terminal's Ctrl-C from reaching it first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	cmd.Env = append(os.Environ(), "PATH="+path+":/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	if os.Getenv("GOGC") == "" {
		// As for edgelet itself: an idle containerd's heap is mostly
		// garbage between collections. GOGC in edgelet's environment wins.
		cmd.Env = append(cmd.Env, "GOGC=50")
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start containerd (is it installed?): %w", err)
	}
	exited := make(chan error, 1)
	go func() {
		exited <- cmd.Wait()
		logf.Close()
	}()
	go func() {
		select {
		case <-ctx.Done():
			_ = cmd.Process.Signal(syscall.SIGTERM)
		case err := <-exited:
			klog.ErrorS(err, "containerd exited; see its log", "log", logf.Name())
			a.exited(ctx, "containerd", fmt.Errorf("%v (log: %s)", err, logf.Name()))
		}
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if c, err := net.DialTimeout("unix", ContainerdSocket, time.Second); err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("containerd did not open %s within 60s; see %s", ContainerdSocket, logf.Name())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// importImages loads every image tarball of the offline bundle into
// containerd's k8s.io namespace before kubelet starts, so that no system pod
// needs a registry. A tarball is imported once; a marker records its size and
// modification time.
func (a *agent) importImages(ctx context.Context) error {
	dir := a.cfg.ImagesDir()
	entries, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !(strings.HasSuffix(name, ".tar") || strings.HasSuffix(name, ".tar.gz")) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		stamp := fmt.Sprintf("%d-%d", info.Size(), info.ModTime().UnixNano())
		marker := filepath.Join(a.cfg.AgentDir(), "images-imported", name)
		if old, err := os.ReadFile(marker); err == nil && string(old) == stamp {
			continue
		}
		start := time.Now()
		// At the lowest CPU priority: a server imports while its API server
		// boots, which is what a create waits for.
		out, err := exec.CommandContext(ctx, "nice", "-n", "19", "ctr", "--address", ContainerdSocket, "--namespace", "k8s.io",
			"images", "import", "--label", "io.cri-containerd.pinned=pinned", filepath.Join(dir, name)).CombinedOutput()
		if err != nil {
			return fmt.Errorf("import image %s: %v: %s", name, err, out)
		}
		klog.InfoS("Imported offline image bundle", "file", name, "duration", time.Since(start))
		if err := os.MkdirAll(filepath.Dir(marker), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(marker, []byte(stamp), 0o644); err != nil {
			return err
		}
	}
	return nil
}
