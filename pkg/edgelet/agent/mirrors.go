package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/edgectl/edgectl/pkg/edgelet/pki"
)

// hostsTOML is containerd's certs.d/HOST/hosts.toml that sends every pull of
// HOST to mirror first. When the mirror fails, containerd falls back to
// server, or without one to the registry's own default address.
func hostsTOML(mirror, server string) []byte {
	var b []byte
	b = append(b, "# Written by edgelet from its node config (mirrors); rewritten at every start.\n"...)
	if server != "" {
		b = fmt.Appendf(b, "server = %q\n", server)
	}
	return fmt.Appendf(b, "\n[host.%q]\n  capabilities = [\"pull\", \"resolve\", \"push\"]\n", mirror)
}

// writeMirrors makes dir/HOST/hosts.toml for each mirror and removes the
// host directories no mirror names: edgelet owns dir.
func writeMirrors(dir string, mirrors, servers map[string]string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	hosts := make([]string, 0, len(mirrors))
	for h := range mirrors {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	for _, h := range hosts {
		if err := os.MkdirAll(filepath.Join(dir, h), 0o755); err != nil {
			return err
		}
		if err := pki.WriteFileIfChanged(filepath.Join(dir, h, "hosts.toml"), hostsTOML(mirrors[h], servers[h]), 0o644); err != nil {
			return err
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if _, ok := mirrors[e.Name()]; !ok && !strings.HasPrefix(e.Name(), ".") {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}
