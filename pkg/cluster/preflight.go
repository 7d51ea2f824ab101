package cluster

import (
	"context"
	"os"
	"strconv"
	"strings"

	"github.com/edgectl/edgectl/internal/runtime"
)

// inotify instances a node holds, measured on idle nodes (each watcher of a
// certificate, config or cgroup file is an instance of its own): a server
// 27, an agent 16. The host's other programs get a margin.
const (
	inotifyPerServer = 30
	inotifyPerAgent  = 20
	inotifyHost      = 40
)

// warnInotify warns when the host's fs.inotify.max_user_instances is too
// low for every running node plus the servers and agents being added. All
// root processes of the host share that limit (128 by default); past it,
// components of the newest nodes exit with "too many open files" and the
// nodes never get Ready. It is a warning, not an error: the engine may run
// on another host, and the figures are estimates.
func (p *Provider) warnInotify(ctx context.Context, servers, agents int) {
	data, err := os.ReadFile("/proc/sys/fs/inotify/max_user_instances")
	if err != nil {
		return
	}
	limit, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return
	}
	cs, err := p.rt.List(ctx, map[string]string{runtime.LabelCluster: ""})
	if err != nil {
		return
	}
	for _, c := range cs {
		if c.State != "running" {
			continue
		}
		switch c.Labels[runtime.LabelRole] {
		case RoleServer:
			servers++
		case RoleAgent:
			agents++
		}
	}
	need := servers*inotifyPerServer + agents*inotifyPerAgent + inotifyHost
	if limit < need {
		p.logger.Warnf("fs.inotify.max_user_instances is %d, and %d servers + %d agents on this host need about %d: "+
			"nodes past the limit fail with \"too many open files\" and never get Ready. "+
			"Raise it: sudo sysctl -w fs.inotify.max_user_instances=8192", limit, servers, agents, need)
	}
}
