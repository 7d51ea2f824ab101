package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	"github.com/edgectl/edgectl/pkg/promote"
)

// TestPromotePlan (issue 17): `promote plan` on fresh hosts (plain Debian
// machine containers, one server and two agents) lists an install on each
// and leaves every file on them as it was; a bad hosts section is refused
// with all its problems at once; a host that refuses the key is named.
func TestPromotePlan(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e")
	}
	arch := strings.TrimPrefix(v1alpha1.HostPlatform(), "linux/")
	image := machineImage(t, arch)
	hosts := []string{"e2e-promote-s0", "e2e-promote-a0", "e2e-promote-a1"}
	ips := map[string]string{}
	for _, h := range hosts {
		startMachine(t, image, h, "--network", "podman")
		ips[h] = strings.TrimSpace(podmanOut(t, "inspect", "-f", "{{.NetworkSettings.IPAddress}}", h))
	}
	edgectl := edgectlRunner(t)
	dir := t.TempDir()
	write := func(name, hostsYAML string) string {
		f := filepath.Join(dir, name)
		cfg := "apiVersion: edgectl.io/v1alpha1\nkind: Cluster\nname: shop\nagents: 2\nhosts:\n" + hostsYAML
		if err := os.WriteFile(f, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	entry := func(role string, index int, host, key string) string {
		return fmt.Sprintf("- {role: %s, index: %d, ssh: root@%s, keyFile: %s}\n", role, index, ips[host], key)
	}
	key := sshKey(t)
	good := write("good.yaml", entry("server", 0, hosts[0], key)+entry("agent", 0, hosts[1], key)+entry("agent", 1, hosts[2], key))

	// Every file's mtime, but the login records SSH itself keeps (/var/log).
	mtimes := func(h string) string {
		return machineSh(t, h, `find / -xdev \( -path /proc -o -path /sys -o -path /run -o -path /tmp -o -path /var/log \) -prune -o -printf '%T@ %p\n' | sort`)
	}
	before := map[string]string{}
	for _, h := range hosts {
		before[h] = mtimes(h)
	}
	out, err := edgectl("promote", "plan", "-f", good)
	if err != nil {
		t.Fatalf("plan: %v\n%s", err, out)
	}
	t.Logf("plan:\n%s", out)
	if !strings.Contains(out, "3 to change") || strings.Count(out, " install ") != 3 {
		t.Errorf("plan on fresh hosts does not list 3 installs:\n%s", out)
	}
	for _, h := range hosts {
		if after := mtimes(h); after != before[h] {
			t.Errorf("plan changed files on %s", h)
		}
	}
	out, err = edgectl("promote", "plan", "-f", good, "-o", "json")
	var plan promote.Plan
	if err != nil || json.Unmarshal([]byte(out), &plan) != nil || plan.Changes != 3 || len(plan.Hosts) != 3 || plan.Hosts[1].Hostname != hosts[1] {
		t.Errorf("plan -o json: %v %+v\n%s", err, plan, out)
	}

	bad := write("bad.yaml", entry("server", 0, hosts[0], key)+entry("agent", 3, hosts[1], key)+entry("agent", 0, hosts[0], key))
	out, err = edgectl("promote", "plan", "-f", bad)
	for _, want := range []string{"hosts[1]: role \"agent\" index 3 matches no node", "hosts[2].ssh: " + ips[hosts[0]] + ":22 is also hosts[0]'s address", "agent:1 has no host"} {
		if err == nil || !strings.Contains(out, want) {
			t.Errorf("bad hosts: err %v, want %q in:\n%s", err, want, out)
		}
	}

	other, _ := newSSHKey(t, t.TempDir())
	refused := write("refused.yaml", entry("server", 0, hosts[0], key)+entry("agent", 0, hosts[1], other)+entry("agent", 1, hosts[2], key))
	out, err = edgectl("promote", "plan", "-f", refused)
	if want := "agent:0 (root@" + ips[hosts[1]] + ":22): "; err == nil || !strings.Contains(out, want) || !strings.Contains(out, "refused") {
		t.Errorf("a host that refuses the key: err %v, want %q in:\n%s", err, want, out)
	}
	t.Logf("refused key:\n%s", lastLines(out, 3))
}
