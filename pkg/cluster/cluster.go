package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sort"
	"strconv"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	"github.com/edgectl/edgectl/internal/log"
	"github.com/edgectl/edgectl/internal/runtime"
	"github.com/edgectl/edgectl/internal/runtime/docker"
)

// Provider manages clusters on one container engine.
type Provider struct {
	rt     runtime.Provider
	logger *log.Logger
	// binfmtDir is where the kernel's binfmt_misc is (binfmt.Dir when
	// empty; a test points it elsewhere).
	binfmtDir string
	// memoFile remembers which engines refused --privileged ("" = no
	// memo, as in unit tests).
	memoFile string
}

// NewProvider connects to the engine from the environment (DOCKER_HOST).
func NewProvider(logger *log.Logger) (*Provider, error) {
	if logger == nil {
		logger = log.Discard()
	}
	rt, err := docker.New()
	if err != nil {
		return nil, engineError(err)
	}
	return &Provider{rt: rt, logger: logger, memoFile: defaultMemoFile()}, nil
}

// NewProviderWithRuntime uses rt (tests and other engines).
func NewProviderWithRuntime(rt runtime.Provider, logger *log.Logger) *Provider {
	if logger == nil {
		logger = log.Discard()
	}
	return &Provider{rt: rt, logger: logger}
}

// Runtime exposes the engine (for image builds and tests).
func (p *Provider) Runtime() runtime.Provider { return p.rt }

func engineError(err error) error {
	return edgeerrors.Wrap(edgeerrors.KindEngine,
		"start the engine (e.g. `sudo systemctl start docker`, or `make deps` on a fresh machine) or set DOCKER_HOST",
		fmt.Errorf("container engine not reachable: %w", err))
}

// Node is a node container of a cluster.
type Node struct {
	Name    string `json:"name"`
	Cluster string `json:"cluster"`
	Role    string `json:"role"`
	Index   int    `json:"index"`
	IP      string `json:"ip"`
	State   string `json:"state"`
	Image   string `json:"image"`
	// Platform is what the node runs: linux/ARCH of its node image.
	Platform string `json:"platform,omitempty"`
}

// Nodes lists the containers of cluster ("" for every cluster), sorted by
// role (servers first) and index.
func (p *Provider) Nodes(ctx context.Context, cluster string) ([]Node, error) {
	labels := map[string]string{runtime.LabelCluster: cluster}
	cs, err := p.rt.List(ctx, labels)
	if err != nil {
		return nil, engineError(err)
	}
	nodes := make([]Node, 0, len(cs))
	for _, c := range cs {
		idx, _ := strconv.Atoi(c.Labels[runtime.LabelIndex])
		ip := c.Labels[runtime.LabelIP]
		if ip == "" {
			ip = c.IP
		}
		n := Node{Name: c.Name, Cluster: c.Labels[runtime.LabelCluster], Role: c.Labels[runtime.LabelRole],
			Index: idx, IP: ip, State: c.State, Image: c.Labels[runtime.LabelImage]}
		if n.Role == RoleServer || n.Role == RoleAgent {
			if n.Platform, err = p.containerPlatform(ctx, n.Image, c.Image); err != nil {
				return nil, err
			}
		}
		nodes = append(nodes, n)
	}
	order := map[string]int{RoleServer: 0, RoleAgent: 1, RoleLoadBalancer: 2}
	sort.SliceStable(nodes, func(i, j int) bool {
		a, b := nodes[i], nodes[j]
		if a.Cluster != b.Cluster {
			return a.Cluster < b.Cluster
		}
		if order[a.Role] != order[b.Role] {
			return order[a.Role] < order[b.Role]
		}
		return a.Index < b.Index
	})
	return nodes, nil
}

// randomToken is the cluster's shared join secret.
func randomToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// hostSubnets lists the IPv4 networks of this host's interfaces.
func hostSubnets() []string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []string
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
			out = append(out, n.String())
		}
	}
	return out
}

// pickSubnet returns the first /24 of 10.89.0.0/16 that overlaps no network
// the engine knows.
func pickSubnet(used []string) (string, error) {
	var taken []netip.Prefix
	for _, u := range used {
		if p, err := netip.ParsePrefix(u); err == nil {
			taken = append(taken, p)
		}
	}
	for i := 0; i < 256; i++ {
		cand := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 89, byte(i), 0}), 24)
		free := true
		for _, t := range taken {
			if t.Overlaps(cand) {
				free = false
				break
			}
		}
		if free {
			return cand.String(), nil
		}
	}
	return "", fmt.Errorf("no free /24 left in 10.89.0.0/16: pass --subnet")
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
