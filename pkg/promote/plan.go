// Package promote puts a cluster config on real hosts over SSH (issue 17):
// the same file that `cluster create` rehearses in containers, whose hosts
// section names the machine of each node. Plan looks and changes nothing.
package promote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"text/tabwriter"

	"github.com/edgectl/edgectl/internal/remote"
	"github.com/edgectl/edgectl/internal/sshaddr"
	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	"github.com/edgectl/edgectl/pkg/board"
	"github.com/edgectl/edgectl/pkg/build/nodeimage"
)

// Actions a plan gives a host.
const (
	ActionInstall = "install" // no edgelet on the host
	ActionUpgrade = "upgrade" // another edgelet version than the bundle's
	ActionNone    = "none"    // the bundle's version is installed
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
	// Changes counts the hosts apply would change.
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
func MakePlan(ctx context.Context, cfg *v1alpha1.Cluster) (*Plan, error) {
	if err := cfg.ValidateHosts(); err != nil {
		return nil, err
	}
	plan := &Plan{Cluster: cfg.Name, Hosts: make([]HostPlan, len(cfg.Hosts))}
	var wg sync.WaitGroup
	for i, h := range cfg.Hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			plan.Hosts[i] = planHost(ctx, h)
		}()
	}
	wg.Wait()
	var errs []error
	for _, hp := range plan.Hosts {
		if hp.Error != "" {
			errs = append(errs, fmt.Errorf("%s (%s): %s", hp.Node, hp.SSH, hp.Error))
		} else if hp.Action != ActionNone {
			plan.Changes++
		}
	}
	if len(errs) > 0 {
		return plan, fmt.Errorf("%d of %d hosts cannot be promoted to; nothing was changed on any host:\n%w", len(errs), len(plan.Hosts), errors.Join(errs...))
	}
	return plan, nil
}

func planHost(ctx context.Context, h v1alpha1.Host) HostPlan {
	hp := HostPlan{Node: fmt.Sprintf("%s:%d", h.Role, h.Index), SSH: h.SSH}
	t, err := Target(h)
	if err != nil {
		hp.Error = err.Error()
		return hp
	}
	hp.SSH = t.String()
	c, err := remote.Dial(ctx, t)
	var auth *remote.AuthError
	switch {
	case errors.As(err, &auth):
		hp.Error = err.Error() + " (check the entry's user and keyFile: `ssh -i KEY USER@HOST true` must work)"
		return hp
	case err != nil:
		hp.Error = err.Error()
		var nerr net.Error
		if errors.As(err, &nerr) {
			hp.Error += " (check the address, and that sshd runs there)"
		}
		return hp
	}
	defer c.Close()
	pre, err := board.RunPreflight(ctx, c, "", false)
	if err != nil {
		hp.Error = err.Error()
		return hp
	}
	hp.Preflight, hp.Hostname, hp.Arch = pre.Checks, pre.Facts["hostname"], pre.Arch
	hp.Installed = pre.Facts["edgelet"]
	if err := pre.Err(); err != nil {
		hp.Error = err.Error()
		return hp
	}
	role := nodeimage.RoleAgent
	if h.Role == "server" {
		role = nodeimage.RoleServer
	}
	if hp.Want, err = nodeimage.BundleVersion(nodeimage.Options{Arch: pre.Arch, Role: role}); err != nil {
		hp.Error = err.Error()
		return hp
	}
	hp.Action = decide(hp.Installed, hp.Want)
	return hp
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
	fmt.Fprintln(tw, "NODE\tHOST\tHOSTNAME\tARCH\tACTION\tEDGELET")
	for _, h := range p.Hosts {
		action, version := h.Action, h.Want
		switch {
		case h.Error != "":
			action = "-"
		case h.Action == ActionUpgrade:
			version = h.Installed + " -> " + h.Want
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", h.Node, h.SSH, dash(h.Hostname), dash(h.Arch), dash(action), dash(version))
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
