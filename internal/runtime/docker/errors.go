package docker

import (
	"strconv"
	"strings"

	"github.com/edgectl/edgectl/internal/runtime"
)

// The Engine API reports these failures only as messages; they are told
// apart here, at the engine boundary, and returned as typed errors
// (runtime.ErrPrivilegeRefused, *runtime.SubnetTakenError,
// *runtime.PortTakenError) that pkg/cluster checks with errors.Is/As.

// privilegeRefused tells the engine's refusal of --privileged from other
// start failures. The Engine API gives only the OCI runtime's message.
func privilegeRefused(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "apply caps") || strings.Contains(msg, "operation not permitted")
}

// portTaken tells a host port bound by someone else from other start
// failures ("Bind for 127.0.0.1:41000 failed: port is already allocated",
// or "address already in use"), and which of the ports it was.
func portTaken(err error, ports []runtime.PortMapping) (int, bool) {
	msg := err.Error()
	if !strings.Contains(msg, "port is already allocated") && !strings.Contains(msg, "address already in use") {
		return 0, false
	}
	for _, pm := range ports {
		if strings.Contains(msg, ":"+strconv.Itoa(pm.HostPort)) {
			return pm.HostPort, true
		}
	}
	return 0, true
}

// subnetTaken tells an overlap from other network failures: Docker says
// "Pool overlaps with other one on this address space", Podman "subnet ...
// is already used". The Engine API gives only the message.
func subnetTaken(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "overlaps") || strings.Contains(msg, "already used")
}
