package promote

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	"github.com/edgectl/edgectl/pkg/board"
	"github.com/edgectl/edgectl/pkg/cluster"
)

// HostReset is what reset did on one host.
type HostReset struct {
	Node string `json:"node"`
	SSH  string `json:"ssh"`
	// Left is what of the node is still on the host (nothing, when the
	// reset worked).
	Left  []string `json:"left,omitempty"`
	Error string   `json:"error,omitempty"`
}

// Reset removes the cluster's node from every host of cfg (or from the
// hosts whose ROLE:INDEX is in only), at once: edgelet, its processes,
// units, mounts, data, interfaces and packet-filter chains. What is left
// on a host is named in the error. When every host is reset, the
// kubeconfig context is removed from kubeconfig.
func Reset(ctx context.Context, cfg *v1alpha1.Cluster, only []string, kubeconfig string) ([]HostReset, error) {
	if err := cfg.ValidateHosts(); err != nil {
		return nil, err
	}
	var specs []v1alpha1.Host
	for _, h := range cfg.Hosts {
		if len(only) == 0 || slices.Contains(only, fmt.Sprintf("%s:%d", h.Role, h.Index)) {
			specs = append(specs, h)
		}
	}
	if len(specs) < len(only) {
		return nil, fmt.Errorf("--host %s: name hosts of the file as ROLE:INDEX (server:0, agent:1)", strings.Join(only, ","))
	}
	out := make([]HostReset, len(specs))
	var wg sync.WaitGroup
	for i, spec := range specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = resetHost(ctx, spec)
		}()
	}
	wg.Wait()
	var errs []error
	for _, r := range out {
		switch {
		case r.Error != "":
			errs = append(errs, fmt.Errorf("%s (%s): %s", r.Node, r.SSH, r.Error))
		case len(r.Left) > 0:
			errs = append(errs, fmt.Errorf("%s (%s): still there: %s", r.Node, r.SSH, strings.Join(r.Left, ", ")))
		}
	}
	if len(errs) > 0 {
		return out, errors.Join(errs...)
	}
	if len(only) == 0 {
		if err := cluster.RemoveKubeconfig(kubeconfig, ContextName(cfg.Name)); err != nil {
			return out, err
		}
	}
	return out, nil
}

func resetHost(ctx context.Context, spec v1alpha1.Host) HostReset {
	r := HostReset{Node: fmt.Sprintf("%s:%d", spec.Role, spec.Index), SSH: spec.SSH}
	c, ssh, err := dial(ctx, spec)
	r.SSH = ssh
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer c.Close()
	if err := runHooks(ctx, c, spec, "reset", "before"); err != nil {
		r.Error = err.Error()
		return r
	}
	if r.Left, err = board.Uninstall(ctx, c); err != nil {
		r.Error = err.Error()
		return r
	}
	if err := runHooks(ctx, c, spec, "reset", "after"); err != nil {
		r.Error = err.Error()
	}
	return r
}
