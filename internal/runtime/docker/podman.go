package docker

import (
	"context"
	"strings"
	"syscall"

	"github.com/docker/docker/api/types/container"
)

// isPodman tells Podman's Docker-compatible API from Docker's, once.
func (p *Provider) isPodman(ctx context.Context) bool {
	p.podmanOnce.Do(func() {
		v, err := p.cli.ServerVersion(ctx)
		if err != nil {
			return
		}
		for _, c := range v.Components {
			if strings.Contains(strings.ToLower(c.Name), "podman") {
				p.podman = true
			}
		}
	})
	return p.podman
}

// podmanUlimits are the limits a node gets under Podman. Rootful Podman
// raises a container's nofile and nproc to 1048576/4194304 unless told
// otherwise, and runc's setrlimit then fails on a host whose hard limits are
// lower and whose engine lacks CAP_SYS_RESOURCE ("error setting rlimit type
// 7"). Lowering a limit is always allowed: take the host's hard nofile, and
// an nproc under the 32768 that Podman gives its conmon monitor (measured on
// Podman 4.3; a higher value failed with "rlimit type 6").
func podmanUlimits() []*container.Ulimit {
	nofile := int64(1 << 20)
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err == nil && int64(l.Max) < nofile {
		nofile = int64(l.Max)
	}
	return []*container.Ulimit{
		{Name: "nofile", Soft: nofile, Hard: nofile},
		{Name: "nproc", Soft: 32768, Hard: 32768},
	}
}
