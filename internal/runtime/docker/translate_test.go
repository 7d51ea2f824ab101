package docker

import (
	"testing"

	"github.com/edgectl/edgectl/internal/runtime"
)

func TestTranslateNodeFlags(t *testing.T) {
	spec := runtime.NodeSpec{Name: "n", Hostname: "n", Image: "img", Network: "net", IP: "10.89.0.10", Node: true,
		Tmpfs: []string{"/run", "/tmp"}, Mounts: []runtime.Mount{{Volume: "n-containerd", Target: "/var/lib/containerd"}},
		Ports: []runtime.PortMapping{{HostIP: "127.0.0.1", HostPort: 41000, ContainerPort: 6443}}}

	spec.Privileged = true
	_, host, netCfg, err := translate(spec)
	if err != nil {
		t.Fatal(err)
	}
	if !host.Privileged || host.CgroupnsMode != "private" || *host.Init || host.RestartPolicy.Name != "unless-stopped" {
		t.Errorf("privileged node: %+v", host)
	}
	if netCfg.EndpointsConfig["net"].IPAMConfig.IPv4Address != "10.89.0.10" {
		t.Error("static IP not requested")
	}
	if len(host.PortBindings) != 1 || host.Mounts[0].Source != "n-containerd" || len(host.Tmpfs) != 2 {
		t.Errorf("ports/mounts/tmpfs: %+v %+v %+v", host.PortBindings, host.Mounts, host.Tmpfs)
	}

	// Where --privileged is refused: everything but CAP_SYS_RESOURCE, all
	// devices, and no masked /proc or /sys paths (empty, not nil: nil means
	// the engine's defaults).
	spec.Privileged = false
	_, host, _, _ = translate(spec)
	if host.Privileged || host.CapDrop[0] != "SYS_RESOURCE" || host.CapAdd[0] != "ALL" ||
		host.MaskedPaths == nil || len(host.MaskedPaths) != 0 || host.ReadonlyPaths == nil || len(host.Resources.DeviceCgroupRules) != 1 {
		t.Errorf("unprivileged node: %+v", host)
	}

	// Helper containers get no elevated access at all.
	cfg, host, _, _ := translate(runtime.NodeSpec{Name: "lb", Image: "img", Network: "net", StopSignal: "SIGTERM"})
	if host.Privileged || len(host.CapAdd) != 0 || host.MaskedPaths != nil || cfg.StopSignal != "SIGTERM" {
		t.Errorf("helper container: %+v %+v", cfg, host)
	}
}
