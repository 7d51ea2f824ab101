package binfmt

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	const good = "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: POCF\noffset 0\n"
	cases := []struct {
		name    string
		files   map[string]string // nil: not mounted
		reason  string            // "" = usable
		fixHint string
	}{
		{"not mounted", nil, "not mounted", "mount -t binfmt_misc"},
		{"no entry", map[string]string{"register": ""}, "no qemu-aarch64 entry", "apt-get install qemu-user-static"},
		{"disabled", map[string]string{"register": "", "qemu-aarch64": strings.Replace(good, "enabled", "disabled", 1)}, "disabled", "update-binfmts --enable qemu-aarch64"},
		{"no F flag", map[string]string{"register": "", "qemu-aarch64": strings.Replace(good, "POCF", "OC", 1)}, "lacks the F flag", "--reinstall"},
		{"usable", map[string]string{"register": "", "qemu-aarch64": good}, "", ""},
	}
	for _, c := range cases {
		dir := filepath.Join(t.TempDir(), "binfmt_misc")
		if c.files != nil {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for name, data := range c.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		err := Check(dir, "arm64")
		if c.reason == "" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		var p *Problem
		if !errors.As(err, &p) || !strings.Contains(p.Reason, c.reason) || !strings.Contains(p.Fix, c.fixHint) {
			t.Errorf("%s: got %v (fix %q), want reason %q and a fix with %q", c.name, err, fixOf(p), c.reason, c.fixHint)
		}
	}
	if err := Check(t.TempDir(), "riscv64"); err == nil {
		t.Error("riscv64 accepted")
	}
}

func fixOf(p *Problem) string {
	if p == nil {
		return ""
	}
	return p.Fix
}
