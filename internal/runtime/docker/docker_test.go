package docker

import (
	"errors"
	"testing"

	"github.com/edgectl/edgectl/internal/runtime"
)

func TestSplitExitStatus(t *testing.T) {
	for in, want := range map[string]struct {
		rest string
		code int
		ok   bool
	}{
		"\nedgectl-exit-status=0\n":                    {"", 0, true},
		"warning\n\nedgectl-exit-status=3\n":           {"warning\n", 3, true},
		"no newline at end\nedgectl-exit-status=127\n": {"no newline at end", 127, true},
		"killed": {"killed", 0, false},
	} {
		rest, code, ok := splitExitStatus(in)
		if rest != want.rest || code != want.code || ok != want.ok {
			t.Errorf("splitExitStatus(%q) = %q %d %v, want %+v", in, rest, code, ok, want)
		}
	}
}

func TestEngineErrorsAreTyped(t *testing.T) {
	ports := []runtime.PortMapping{{HostPort: 6443}, {HostPort: 41000}}
	if port, ok := portTaken(errors.New("driver failed programming external connectivity: Bind for 127.0.0.1:41000 failed: port is already allocated"), ports); !ok || port != 41000 {
		t.Errorf("port taken: %d %v", port, ok)
	}
	if _, ok := portTaken(errors.New("no such image"), ports); ok {
		t.Error("an unrelated error is a taken port")
	}
	if !subnetTaken(errors.New("Pool overlaps with other one on this address space")) || subnetTaken(errors.New("permission denied")) {
		t.Error("subnet overlap not told apart")
	}
	if !privilegeRefused(errors.New("runc create failed: unable to apply caps: operation not permitted")) {
		t.Error("privilege refusal not recognised")
	}
}
