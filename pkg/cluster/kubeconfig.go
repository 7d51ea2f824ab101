package cluster

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	"github.com/edgectl/edgectl/internal/probe"
	"github.com/edgectl/edgectl/internal/runtime"
	nodev1 "github.com/edgectl/edgectl/pkg/apis/node/v1alpha1"
)

// fetchKubeconfig waits for a server to write its admin kubeconfig, then
// points it at the API port published on the host and names everything
// after the cluster. With viaLB (the cluster's first server, the only one
// the load balancer can reach yet) it asks the API's /readyz on the host
// port every 100 ms while the server boots, and reads the file (a `docker
// exec`, which costs the engine the CPU the booting server needs) only
// when the API is ready, or every 2 s; otherwise it reads it every 250 ms.
func (p *Provider) fetchKubeconfig(ctx context.Context, cluster, server, hostIP string, apiPort int, viaLB bool) (*clientcmdapi.Config, error) {
	deadline := time.Now().Add(3 * time.Minute)
	readyz := "https://" + hostPort(hostIP, apiPort) + "/readyz"
	every, interval := 250*time.Millisecond, 250*time.Millisecond
	if viaLB {
		every, interval = 2*time.Second, 100*time.Millisecond
	}
	var lastRead time.Time
	for {
		if time.Since(lastRead) >= every || (viaLB && apiReady(ctx, readyz)) {
			lastRead = time.Now()
			res, err := p.rt.Exec(ctx, server, []string{"cat", nodev1.DefaultKubeconfig}, nil)
			if err == nil && res.ExitCode == 0 && res.Stdout != "" {
				kc, err := clientcmd.Load([]byte(res.Stdout))
				if err != nil {
					return nil, fmt.Errorf("parse kubeconfig of %s: %w", server, err)
				}
				return renameKubeconfig(kc, Context(cluster), "https://"+hostPort(hostIP, apiPort)), nil
			}
		}
		if time.Now().After(deadline) {
			return nil, edgeerrors.New(edgeerrors.KindTimeout, fmt.Sprintf("look at `docker logs %s` and `docker exec %s journalctl -u edgelet`", server, server),
				"server %s did not write %s within 3m", server, nodev1.DefaultKubeconfig)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(interval):
		}
	}
}

// apiReady tells whether url (an API's /readyz, anonymous) answers 200.
func apiReady(ctx context.Context, url string) bool {
	status, _, err := probe.Get(ctx, url)
	return err == nil && status == http.StatusOK
}

func hostPort(ip string, port int) string {
	if ip == "0.0.0.0" || ip == "" {
		ip = "127.0.0.1"
	}
	if strings.Contains(ip, ":") {
		ip = "[" + ip + "]"
	}
	return ip + ":" + strconv.Itoa(port)
}

// renameKubeconfig returns kc with one cluster, user and context named name.
func renameKubeconfig(kc *clientcmdapi.Config, name, server string) *clientcmdapi.Config {
	out := clientcmdapi.NewConfig()
	ctx := kc.Contexts[kc.CurrentContext]
	if ctx == nil {
		return out
	}
	cl := kc.Clusters[ctx.Cluster].DeepCopy()
	cl.Server = server
	out.Clusters[name] = cl
	out.AuthInfos[name] = kc.AuthInfos[ctx.AuthInfo].DeepCopy()
	out.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	out.CurrentContext = name
	return out
}

// KubeconfigPath is the file edgectl merges into: the first entry of
// $KUBECONFIG, or ~/.kube/config.
func KubeconfigPath(explicit string) string {
	if explicit != "" {
		return explicit
	}
	if env := os.Getenv("KUBECONFIG"); env != "" {
		for _, p := range filepath.SplitList(env) {
			if p != "" {
				return p
			}
		}
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".kube", "config")
}

// lockKubeconfig takes an exclusive lock on path's ".lock" file, as kubectl
// and kind do: creates running at the same time (CI jobs) each read, change
// and write the same file, and without the lock one would drop another's
// context.
func lockKubeconfig(path string) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	return lockFile(path + ".lock")
}

// lockFile holds an exclusive flock on path (created if missing) until
// unlock. The kernel drops it if the process dies.
func lockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

// mergeKubeconfig writes the cluster's entries into the kubeconfig file.
func mergeKubeconfig(path string, kc *clientcmdapi.Config, name string, switchContext bool) error {
	return editKubeconfig(KubeconfigPath(path), func(existing *clientcmdapi.Config) bool {
		existing.Clusters[name] = kc.Clusters[name]
		existing.AuthInfos[name] = kc.AuthInfos[name]
		existing.Contexts[name] = kc.Contexts[name]
		if switchContext || existing.CurrentContext == "" {
			existing.CurrentContext = name
		}
		return true
	})
}

// removeKubeconfig deletes the cluster's entries; a missing file is fine.
func removeKubeconfig(path, name string) error {
	path = KubeconfigPath(path)
	if _, err := os.Stat(path); os.IsNotExist(err) {
		return nil
	}
	return editKubeconfig(path, func(existing *clientcmdapi.Config) bool {
		if existing.Contexts[name] == nil && existing.Clusters[name] == nil {
			return false
		}
		delete(existing.Clusters, name)
		delete(existing.AuthInfos, name)
		delete(existing.Contexts, name)
		if existing.CurrentContext == name {
			existing.CurrentContext = ""
		}
		return true
	})
}

// editKubeconfig reads the file under its lock, lets edit change it, and
// writes it back when edit says it changed.
func editKubeconfig(path string, edit func(*clientcmdapi.Config) bool) error {
	unlock, err := lockKubeconfig(path)
	if err != nil {
		return err
	}
	defer unlock()
	existing, err := loadOrEmpty(path)
	if err != nil {
		return err
	}
	if !edit(existing) {
		return nil
	}
	return clientcmd.WriteToFile(*existing, path)
}

func loadOrEmpty(path string) (*clientcmdapi.Config, error) {
	kc, err := clientcmd.LoadFromFile(path)
	if os.IsNotExist(err) {
		return clientcmdapi.NewConfig(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("read kubeconfig %s: %w", path, err)
	}
	return kc, nil
}

// Kubeconfig returns the cluster's kubeconfig (for the host) as YAML.
func (p *Provider) Kubeconfig(ctx context.Context, cluster string) ([]byte, error) {
	kc, err := p.hostKubeconfig(ctx, cluster)
	if err != nil {
		return nil, err
	}
	return clientcmd.Write(*kc)
}

// hostKubeconfig is the cluster's kubeconfig for the host, read from a
// running server.
func (p *Provider) hostKubeconfig(ctx context.Context, cluster string) (*clientcmdapi.Config, error) {
	server, err := p.runningServer(ctx, cluster, "")
	if err != nil {
		return nil, err
	}
	apiPort, _ := strconv.Atoi(server.Labels[runtime.LabelAPIPort])
	return p.fetchKubeconfig(ctx, cluster, server.Name, "127.0.0.1", apiPort, false)
}

// MergeKubeconfig writes the cluster's context into the kubeconfig file at
// path (KubeconfigPath rules) and returns the file it wrote.
func (p *Provider) MergeKubeconfig(ctx context.Context, cluster, path string, switchContext bool) (string, error) {
	kc, err := p.hostKubeconfig(ctx, cluster)
	if err != nil {
		return "", err
	}
	return KubeconfigPath(path), mergeKubeconfig(path, kc, Context(cluster), switchContext)
}
