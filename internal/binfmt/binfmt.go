// Package binfmt tells whether this host's kernel runs the binaries of
// another architecture through qemu user emulation, as a node of another
// platform needs: a binfmt_misc entry for the architecture, enabled, with
// the F flag, so that the kernel opens the interpreter when the entry is
// registered and containers (other mount namespaces) can use it.
package binfmt

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Dir is where the kernel's binfmt_misc filesystem is mounted.
const Dir = "/proc/sys/fs/binfmt_misc"

// entries are the binfmt_misc entry names of qemu-user-static per GOARCH.
var entries = map[string]string{"arm64": "qemu-aarch64", "amd64": "qemu-x86_64"}

// Problem is why emulation of an architecture does not work, and the
// command that fixes it.
type Problem struct {
	Arch, Reason, Fix string
}

func (p *Problem) Error() string {
	return fmt.Sprintf("this host cannot run %s nodes: %s", p.Arch, p.Reason)
}

// Check returns nil when the kernel under dir (Dir on a real host) runs
// arch's binaries through an F-flagged interpreter, else a *Problem.
func Check(dir, arch string) error {
	entry, ok := entries[arch]
	if !ok {
		return fmt.Errorf("no emulation for architecture %q", arch)
	}
	install := "apt-get install qemu-user-static binfmt-support"
	enable := "update-binfmts --enable " + entry
	if _, err := os.Stat(filepath.Join(dir, "register")); err != nil {
		return &Problem{Arch: arch, Reason: "binfmt_misc is not mounted at " + dir,
			Fix: fmt.Sprintf("mount -t binfmt_misc binfmt_misc %s && %s (with qemu-user-static installed: %s)", dir, enable, install)}
	}
	data, err := os.ReadFile(filepath.Join(dir, entry))
	if errors.Is(err, os.ErrNotExist) {
		return &Problem{Arch: arch, Reason: "no " + entry + " entry in " + dir, Fix: install + " && " + enable}
	}
	if err != nil {
		return err
	}
	lines := strings.Split(string(data), "\n")
	if strings.TrimSpace(lines[0]) != "enabled" {
		return &Problem{Arch: arch, Reason: "the " + entry + " entry is disabled", Fix: enable}
	}
	for _, l := range lines {
		if flags, ok := strings.CutPrefix(l, "flags:"); ok && strings.Contains(flags, "F") {
			return nil
		}
	}
	return &Problem{Arch: arch, Reason: "the " + entry + " entry lacks the F flag, so containers cannot find its interpreter",
		Fix: "update-binfmts --disable " + entry + " && " + install + " --reinstall && " + enable + " (Debian's qemu-user-static registers it with F)"}
}
