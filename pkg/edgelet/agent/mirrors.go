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
// server, or without one to the registry's own default address. A resolver
// (an emulated node's platformResolver) is asked first to resolve tags.
func hostsTOML(resolver, mirror, server string) []byte {
	var b []byte
	b = append(b, "# Written by edgelet from its node config (mirrors); rewritten at every start.\n"...)
	if server != "" {
		b = fmt.Appendf(b, "server = %q\n", server)
	}
	if resolver != "" {
		// containerd resolves a tag on hosts that can pull and resolve
		// both; the resolver answers 404 to every fetch, and containerd
		// goes on to the next host.
		b = fmt.Appendf(b, "\n# The tags of multi-platform images resolve to this node's platform.\n[host.%q]\n  capabilities = [\"pull\", \"resolve\"]\n", resolver)
	}
	if mirror != "" {
		b = fmt.Appendf(b, "\n[host.%q]\n  capabilities = [\"pull\", \"resolve\", \"push\"]\n", mirror)
	}
	return b
}

// defaultHosts is certs.d's _default, for the registries no mirror names.
const defaultHosts = "_default"

// writeMirrors makes dir/HOST/hosts.toml for each mirror and removes the
// host directories no mirror names: edgelet owns dir. With a resolver,
// every registry (through dir/_default) asks it first to resolve tags.
func writeMirrors(dir string, mirrors, servers map[string]string, resolver string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files := map[string][]byte{}
	for h, m := range mirrors {
		files[h] = hostsTOML(resolver, m, servers[h])
	}
	if resolver != "" {
		files[defaultHosts] = hostsTOML(resolver, "", "")
	}
	hosts := make([]string, 0, len(files))
	for h := range files {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	for _, h := range hosts {
		if err := os.MkdirAll(filepath.Join(dir, h), 0o755); err != nil {
			return err
		}
		if err := pki.WriteFileIfChanged(filepath.Join(dir, h, "hosts.toml"), files[h], 0o644); err != nil {
			return err
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if _, ok := files[e.Name()]; !ok && !strings.HasPrefix(e.Name(), ".") {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}
