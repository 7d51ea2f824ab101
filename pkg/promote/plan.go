// Package promote puts a cluster config on real hosts over SSH (issue 17):
// the same file that `cluster create` rehearses in containers, whose hosts
// section names the machine of each node. Plan looks and changes nothing.
package promote

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/edgectl/edgectl/internal/remote"
	"github.com/edgectl/edgectl/internal/sshaddr"
	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	"github.com/edgectl/edgectl/pkg/board"
	"github.com/edgectl/edgectl/pkg/build/nodeimage"
	"github.com/edgectl/edgectl/pkg/cluster"
)

// Actions a plan gives a host.
const (
	ActionInstall = "install" // no edgelet on the host
	ActionUpgrade = "upgrade" // another edgelet version than the bundle's
	ActionConfig  = "config"  // the bundle's version, other node files
	ActionNone    = "none"    // the bundle's version and the node files
	// ActionPrune is a Node whose host the file no longer has: apply
	// --prune drains and deletes it, and resets its host.
	ActionPrune = "prune"
)

// HostPlan is what apply would do on one host.
type HostPlan struct {
	Node     string `json:"node"` // ROLE:INDEX in the config
	SSH      string `json:"ssh"`
	Hostname string `json:"hostname,omitempty"` // the Node's name
	Arch     string `json:"arch,omitempty"`
	Action   string `json:"action,omitempty"`
	// Installed and Want are the edgelet versions on the host and in the
	// bundle apply would install.
	Installed string `json:"installed,omitempty"`
	Want      string `json:"want,omitempty"`
	// Changed are the node files (config, role, manifests) apply would
	// write on a host that runs the bundle's version.
	Changed []string `json:"changed,omitempty"`
	// Preflight is the join preflight's checks of the host.
	Preflight []board.Check `json:"preflight,omitempty"`
	// Error says why the host cannot be planned: unreachable, refused the
	// key, or failed the preflight.
	Error string `json:"error,omitempty"`
}

// Plan is what apply would do on every host.
type Plan struct {
	Cluster string     `json:"cluster"`
	Hosts   []HostPlan `json:"hosts"`
	// Prune are the cluster's Nodes whose hosts the file no longer has.
	Prune []HostPlan `json:"prune,omitempty"`
	// Changes counts the hosts apply would change (and the Nodes it would
	// prune, when asked to).
	Changes int `json:"changes"`
}

// Target is how edgectl reaches a host of the config (its bastion with the
// same key).
func Target(h v1alpha1.Host) (remote.Target, error) {
	a, err := sshaddr.Parse(h.SSH, 0)
	if err != nil {
		return remote.Target{}, err
	}
	t := remote.Target{User: a.User, Host: a.Host, Port: a.Port, KeyFile: h.KeyFile}
	if h.Bastion != "" {
		b, err := sshaddr.Parse(h.Bastion, 0)
		if err != nil {
			return remote.Target{}, err
		}
		t.Bastion = &remote.Target{User: b.User, Host: b.Host, Port: b.Port}
	}
	return t, nil
}

// MakePlan connects to every host of cfg at once, runs the join preflight
// on each, and says what apply would do there. It changes nothing on any
// host. The error names every host that cannot be reached, refuses the
// key, or fails the preflight; the plan is returned with it.
func MakePlan(ctx context.Context, cfg *v1alpha1.Cluster, prune bool) (*Plan, error) {
	plan, hosts, err := survey(ctx, cfg, prune)
	for _, h := range hosts {
		h.close()
	}
	return plan, err
}

// host is a host of the config while edgectl works on it.
type host struct {
	spec v1alpha1.Host
	conn *remote.Host
	plan *HostPlan
	// files are the node files it should have, by path (without the
	// token, which is written once, at install).
	files map[string][]byte
	arch  string
}

func (h *host) close() {
	if h.conn != nil {
		h.conn.Close()
	}
}

func (h *host) server() bool { return h.spec.Role == cluster.RoleServer }

// survey connects to every host at once, runs the preflight, and plans
// each: the files it should have against the ones it has. The hosts are
// returned connected (close them), in the order apply works on them
// (ordered). The Nodes to prune are listed when the first server runs;
// when its API does not answer, that is an error only if prune asks for
// them.
func survey(ctx context.Context, cfg *v1alpha1.Cluster, prune bool) (*Plan, []*host, error) {
	if err := cfg.ValidateHosts(); err != nil {
		return nil, nil, err
	}
	specs := ordered(cfg.Hosts)
	plan := &Plan{Cluster: cfg.Name, Hosts: make([]HostPlan, len(specs))}
	hosts := make([]*host, len(specs))
	var wg sync.WaitGroup
	for i, spec := range specs {
		hosts[i] = &host{spec: spec, plan: &plan.Hosts[i]}
		wg.Add(1)
		go func() {
			defer wg.Done()
			hosts[i].conn = probe(ctx, spec, hosts[i].plan)
		}()
	}
	wg.Wait()
	var errs []error
	for _, h := range hosts {
		if h.plan.Error != "" {
			errs = append(errs, fmt.Errorf("%s (%s): %s", h.plan.Node, h.plan.SSH, h.plan.Error))
		}
	}
	if len(errs) == 0 {
		errs = append(errs, planFiles(ctx, cfg, hosts)...)
	}
	if len(errs) == 0 {
		if err := firstServerRuns(hosts); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return plan, hosts, fmt.Errorf("%d of %d hosts cannot be promoted to; nothing was changed on any host:\n%w", len(errs), len(plan.Hosts), errors.Join(errs...))
	}
	if hosts[0].plan.Installed != "" {
		var err error
		if plan.Prune, err = removed(ctx, hosts); err != nil && prune {
			return plan, hosts, err
		}
	}
	for _, h := range plan.Hosts {
		if h.Action != ActionNone {
			plan.Changes++
		}
	}
	if prune {
		plan.Changes += len(plan.Prune)
	}
	return plan, hosts, nil
}

// firstServerRuns checks that the first server runs the cluster when any
// server does: the others join it, so a new host as server 0 would start a
// second cluster beside the running one.
func firstServerRuns(hosts []*host) error {
	if hosts[0].plan.Installed != "" {
		return nil
	}
	for _, h := range hosts[1:] {
		if h.server() && h.plan.Installed != "" {
			return fmt.Errorf("%s (%s) has no edgelet but %s (%s) runs one: the other servers join server 0, so server 0 must be a host of the running cluster; give a server that runs the index 0, and the new host another index", hosts[0].plan.Node, hosts[0].plan.SSH, h.plan.Node, h.plan.SSH)
		}
	}
	return nil
}

// removed lists the Nodes that apply made (they note their host's SSH
// address) on hosts that are not in the file any more.
func removed(ctx context.Context, hosts []*host) ([]HostPlan, error) {
	out, err := runKubectl(ctx, hosts[0].conn, "get", "nodes", "-o", "json")
	if err != nil {
		return nil, fmt.Errorf("list the cluster's nodes on %s: %w", hosts[0].plan.Hostname, err)
	}
	have := map[string]bool{}
	for _, h := range hosts {
		have[h.plan.Hostname] = true
	}
	return prunable([]byte(out), have)
}

// labelControlPlane marks a server's Node (its value is empty).
const labelControlPlane = "node-role.kubernetes.io/control-plane"

// prunable are the Nodes of a NodeList (JSON) that note their host's SSH
// address and are not in have: a server when it has the control-plane
// label, else an agent.
func prunable(nodeList []byte, have map[string]bool) ([]HostPlan, error) {
	var list struct {
		Items []struct {
			Metadata struct {
				Name        string            `json:"name"`
				Labels      map[string]string `json:"labels"`
				Annotations map[string]string `json:"annotations"`
			} `json:"metadata"`
		} `json:"items"`
	}
	if err := json.Unmarshal(nodeList, &list); err != nil {
		return nil, fmt.Errorf("read the cluster's nodes: %w", err)
	}
	var gone []HostPlan
	for _, n := range list.Items {
		m := n.Metadata
		ssh := m.Annotations[cluster.AnnotationSSH]
		if have[m.Name] || ssh == "" {
			continue
		}
		role := cluster.RoleAgent
		if _, ok := m.Labels[labelControlPlane]; ok {
			role = cluster.RoleServer
		}
		gone = append(gone, HostPlan{Node: role, SSH: ssh, Hostname: m.Name, Action: ActionPrune})
	}
	return gone, nil
}

// runKubectl runs kubectl on a server host, as its admin.
func runKubectl(ctx context.Context, server *remote.Host, args ...string) (string, error) {
	cmd := kubectl
	for _, arg := range args {
		cmd += " " + remote.Quote(arg)
	}
	return server.Run(ctx, cmd, nil)
}

// ordered are the hosts in the order promote works on them: the servers
// by index (the first one first), then the agents.
func ordered(hosts []v1alpha1.Host) []v1alpha1.Host {
	order := func(h v1alpha1.Host) int {
		if h.Role == cluster.RoleServer {
			return h.Index
		}
		return 1<<20 + h.Index
	}
	out := slices.Clone(hosts)
	slices.SortStableFunc(out, func(a, b v1alpha1.Host) int { return order(a) - order(b) })
	return out
}

// probe connects to a host and runs the preflight; the connection is
// returned when it was made.
func probe(ctx context.Context, h v1alpha1.Host, hp *HostPlan) *remote.Host {
	hp.Node = fmt.Sprintf("%s:%d", h.Role, h.Index)
	c, ssh, err := dial(ctx, h)
	hp.SSH = ssh
	if err != nil {
		hp.Error = err.Error()
		return nil
	}
	pre, err := board.RunPreflight(ctx, c, "", false)
	if err != nil {
		hp.Error = err.Error()
		return c
	}
	hp.Preflight, hp.Hostname, hp.Arch = pre.Checks, pre.Facts["hostname"], pre.Arch
	hp.Installed = pre.Facts["edgelet"]
	if err := pre.Err(); err != nil {
		hp.Error = err.Error()
		return c
	}
	if hp.Want, err = nodeimage.BundleVersion(nodeimage.Options{Arch: pre.Arch, Role: bundleRole(h.Role)}); err != nil {
		hp.Error = err.Error()
		return c
	}
	hp.Action = decide(hp.Installed, hp.Want)
	return c
}

// dial connects to a host of the config; ssh is how it was reached. The
// error says what to check.
func dial(ctx context.Context, h v1alpha1.Host) (c *remote.Host, ssh string, err error) {
	t, err := Target(h)
	if err != nil {
		return nil, h.SSH, err
	}
	c, err = remote.Dial(ctx, t)
	var auth *remote.AuthError
	var nerr net.Error
	switch {
	case errors.As(err, &auth):
		err = fmt.Errorf("%w (check the entry's user and keyFile: `ssh -i KEY USER@HOST true` must work)", err)
	case errors.As(err, &nerr):
		err = fmt.Errorf("%w (check the address, and that sshd runs there)", err)
	}
	return c, t.String(), err
}

// bundleRole is the bundle a node of role runs.
func bundleRole(role string) string {
	if role == cluster.RoleServer {
		return nodeimage.RoleServer
	}
	return nodeimage.RoleAgent
}

// planFiles works out the node files of every host, and which differ from
// the ones it has: a host that runs the bundle's version with other files
// gets ActionConfig.
func planFiles(ctx context.Context, cfg *v1alpha1.Cluster, hosts []*host) []error {
	var errs []error
	names := map[string]string{}
	servers, err := serverHosts(cfg)
	if err != nil {
		return []error{err}
	}
	for _, h := range hosts {
		if other, ok := names[h.plan.Hostname]; ok {
			errs = append(errs, fmt.Errorf("%s (%s): its hostname %q is also %s's: Nodes are named after their hosts, so give each host its own name (hostnamectl set-hostname)", h.plan.Node, h.plan.SSH, h.plan.Hostname, other))
			continue
		}
		names[h.plan.Hostname] = h.plan.Node
		hn, err := hostNode(cfg, h.spec, h.plan.Hostname, servers, []string{h.conn.Target.Host, h.plan.Hostname})
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", h.plan.Node, err))
			continue
		}
		conf, err := hn.Config.Marshal()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		j := board.Join{Config: conf, Role: h.spec.Role, Files: hn.Files}
		h.files, h.arch = j.HostFiles(), h.plan.Arch
		delete(h.files, board.TokenFile)
		if h.plan.Action != ActionNone {
			continue
		}
		paths := slices.Sorted(maps.Keys(h.files))
		sums, err := board.Sums(ctx, h.conn, append(paths, board.TokenFile))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s (%s): %w", h.plan.Node, h.plan.SSH, err))
			continue
		}
		if sums[board.TokenFile] == "" {
			// An install that stopped before it wrote the token.
			h.plan.Changed = append(h.plan.Changed, board.TokenFile)
		}
		for _, p := range paths {
			if sums[p] != fmt.Sprintf("%x", sha256.Sum256(h.files[p])) {
				h.plan.Changed = append(h.plan.Changed, p)
			}
		}
		if len(h.plan.Changed) > 0 {
			h.plan.Action = ActionConfig
		}
	}
	return errs
}

// serverHosts are the addresses of the servers' hosts, by index: agents
// reach the first, and fail over to the others.
func serverHosts(cfg *v1alpha1.Cluster) ([]string, error) {
	addrs := make([]string, cfg.Servers)
	for _, h := range cfg.Hosts {
		if h.Role != cluster.RoleServer || h.Index >= len(addrs) {
			continue
		}
		t, err := Target(h)
		if err != nil {
			return nil, err
		}
		addrs[h.Index] = t.Host
	}
	return addrs, nil
}

// hostNode is what the host of spec runs, as node name ("": its hostname,
// which edgelet takes): the config's node settings and the host's labels;
// an agent of several servers fails over between them.
func hostNode(cfg *v1alpha1.Cluster, spec v1alpha1.Host, name string, servers, sans []string) (cluster.HostNode, error) {
	hn, err := cluster.PlanHostNode(cfg, spec.Role, spec.Index, name, servers[0], sans)
	if err != nil {
		return hn, err
	}
	for k, v := range spec.Labels {
		if hn.Config.Labels == nil {
			hn.Config.Labels = map[string]string{}
		}
		hn.Config.Labels[k] = v
	}
	if spec.Role == cluster.RoleAgent {
		for _, s := range servers[1:] {
			hn.Config.Servers = append(hn.Config.Servers, "https://"+net.JoinHostPort(s, strconv.Itoa(cluster.APIPort)))
		}
	}
	return hn, nil
}

// decide is the action for a host that runs edgelet version installed
// ("" for none), given the bundle's version want.
func decide(installed, want string) string {
	switch installed {
	case "":
		return ActionInstall
	case want:
		return ActionNone
	default:
		return ActionUpgrade
	}
}

// Print writes the plan as a table, and the preflight problems of each host.
func (p *Plan) Print(w io.Writer) {
	fmt.Fprintf(w, "Plan for cluster %q on %d host(s): %d to change\n", p.Cluster, len(p.Hosts), p.Changes)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tHOST\tHOSTNAME\tARCH\tACTION\tEDGELET\tFILES")
	for _, h := range p.Hosts {
		action, version := h.Action, h.Want
		switch {
		case h.Error != "":
			action = "-"
		case h.Action == ActionUpgrade:
			version = h.Installed + " -> " + h.Want
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", h.Node, h.SSH, dash(h.Hostname), dash(h.Arch), dash(action), dash(version), dash(strings.Join(h.Changed, ",")))
	}
	for _, h := range p.Prune {
		fmt.Fprintf(tw, "%s (not in the file)\t%s\t%s\t-\t%s\t-\t-\n", h.Node, h.SSH, h.Hostname, h.Action)
	}
	tw.Flush()
	for _, h := range p.Hosts {
		for _, c := range h.Preflight {
			if c.Level != board.OK {
				fmt.Fprintf(w, "  %s %s: %s %s: %s\n", h.Node, c.Level, c.Name, c.Value, c.Hint)
			}
		}
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
