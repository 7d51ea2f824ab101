package docker

import "testing"

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
