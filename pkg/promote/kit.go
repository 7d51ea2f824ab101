package promote

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/edgectl/edgectl/internal/fsutil"
	"github.com/edgectl/edgectl/internal/log"
	"github.com/edgectl/edgectl/internal/remote"
	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	nodev1 "github.com/edgectl/edgectl/pkg/apis/node/v1alpha1"
	"github.com/edgectl/edgectl/pkg/board"
	"github.com/edgectl/edgectl/pkg/build/nodeimage"
	"github.com/edgectl/edgectl/pkg/cluster"
	"github.com/edgectl/edgectl/pkg/edgelet/pki"
	"github.com/edgectl/edgectl/pkg/edgelet/token"
)

// KitFile is one file of an offline kit.
type KitFile struct {
	Node string `json:"node,omitempty"` // ROLE:INDEX it installs
	Path string `json:"path"`
}

// Kit writes into dir an offline kit of cfg's cluster, for a site where
// edgectl cannot reach the hosts: the board bundle of each platform and
// role, and per host a script (ROLE-INDEX.sh) that installs the bundle
// beside it and writes the node's files. The kit holds the cluster's CA
// key and join secret: keep it private. The cluster's CA is made here, so
// that the agents' scripts can pin it before any server runs. A node is
// named after its host's hostname, as apply names it.
func Kit(ctx context.Context, cfg *v1alpha1.Cluster, dir string, lg *log.Logger) ([]KitFile, error) {
	if err := cfg.ValidateHosts(); err != nil {
		return nil, err
	}
	if lg == nil {
		lg = log.Discard()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	secret, err := cluster.RandomToken()
	if err != nil {
		return nil, err
	}
	caDir, err := os.MkdirTemp("", "edgectl-kit-ca")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(caDir)
	ca, err := pki.EnsureCA(caDir, "ca", "edgelet-ca")
	if err != nil {
		return nil, err
	}
	caKey, err := os.ReadFile(ca.KeyFile)
	if err != nil {
		return nil, err
	}
	hash, err := pki.Hash(ca.CertPEM())
	if err != nil {
		return nil, err
	}
	agentToken := token.FromSecret(secret)
	agentToken.CAHash = hash

	servers, err := serverHosts(cfg)
	if err != nil {
		return nil, err
	}
	specs := ordered(cfg.Hosts)
	var files []KitFile
	bundles := map[string]bool{}
	for _, h := range specs {
		t, err := Target(h)
		if err != nil {
			return nil, err
		}
		ref := fmt.Sprintf("%s:%d", h.Role, h.Index)
		arch := strings.TrimPrefix(cfg.Platform(h.Role, h.Index), "linux/")
		// No name: edgelet takes the host's hostname.
		hn, err := hostNode(cfg, h, "", servers, []string{t.Host})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ref, err)
		}
		conf, err := hn.Config.Marshal()
		if err != nil {
			return nil, err
		}
		j := board.Join{Cluster: cfg.Name, Node: ref, Arch: arch, Role: h.Role, Config: conf, Token: agentToken.String(), Files: hn.Files}
		if h.Role == cluster.RoleServer {
			j.Token = secret
			if h.Index == 0 {
				tls := filepath.Join(nodev1.DefaultDataDir, "server", "tls")
				if j.Files == nil {
					j.Files = map[string][]byte{}
				}
				j.Files[filepath.Join(tls, "ca.crt")] = ca.CertPEM()
				j.Files[filepath.Join(tls, "ca.key")] = caKey
			}
		}
		script, err := j.Script()
		if err != nil {
			return nil, err
		}
		name := fmt.Sprintf("%s-%d.sh", h.Role, h.Index)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o700); err != nil {
			return nil, err
		}
		files = append(files, KitFile{Node: ref, Path: name})
		if bundles[j.BundleFile()] {
			continue
		}
		bundles[j.BundleFile()] = true
		lg.Infof("Adding the linux/%s %s bundle (from the build cache; built once per edgelet source change)", arch, h.Role)
		src, err := nodeimage.CachedBundle(ctx, nodeimage.Options{Arch: arch, Role: bundleRole(h.Role)}, lg.Writer())
		if err != nil {
			return nil, fmt.Errorf("board bundle for linux/%s: %w", arch, err)
		}
		if err := fsutil.CopyFile(src, filepath.Join(dir, j.BundleFile())); err != nil {
			return nil, err
		}
		files = append(files, KitFile{Path: j.BundleFile()})
	}
	readme := kitReadme(cfg.Name, agentToken.ID, files)
	if err := os.WriteFile(filepath.Join(dir, "README"), []byte(readme), 0o600); err != nil {
		return nil, err
	}
	return append(files, KitFile{Path: "README"}), nil
}

func kitReadme(name, tokenID string, files []KitFile) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Offline kit of edgectl cluster %s, written by `edgectl promote bundle`.\n", name)
	b.WriteString("It holds the cluster's CA key and join secret: keep it private.\n")
	fmt.Fprintf(&b, "The servers' scripts hold the server secret; the agents' hold the cluster join\n"+
		"token %s made from it, which does not expire. Once every node runs, make the kit's\n"+
		"copy useless: on each server, write a new secret (e.g. `openssl rand -hex 16`) to\n"+
		"/etc/edgelet/token and `systemctl restart edgelet`, one server at a time, then delete\n"+
		"the old token: `kubectl -n kube-system delete secret bootstrap-token-%s`. Running\n"+
		"nodes keep running: each holds its own certificate.\n\n", tokenID, tokenID)
	b.WriteString("Copy this directory to each host, and run there as root, in this order\n")
	b.WriteString("(the first server before the others, the servers before the agents):\n\n")
	for _, f := range files {
		if f.Node != "" {
			fmt.Fprintf(&b, "  sh %s    # on the host of %s\n", remote.Quote(f.Path), f.Node)
		}
	}
	b.WriteString("\nEach script installs the bundle beside it and starts the node (journalctl -u edgelet -f).\n")
	b.WriteString("The admin kubeconfig is /etc/edgelet/edgelet.yaml on the first server.\n")
	b.WriteString("Remove a node with /usr/local/sbin/edgelet-uninstall on its host.\n")
	return b.String()
}
