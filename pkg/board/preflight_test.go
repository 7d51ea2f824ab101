package board

import (
	"strings"
	"testing"
	"time"
)

func healthy() map[string]string {
	return map[string]string{"arch": "aarch64", "os": "Debian GNU/Linux 12 (bookworm)", "kernel": "6.1.0", "hostname": "pi-7",
		"time": "1000", "cgroup": "v2", "controllers": "cpuset cpu io memory pids", "overlay": "yes", "br_netfilter": "yes",
		"tun": "yes", "swap": "0", "mem_available_kb": "3000000", "disk_free_kb": "20000000", "systemd": "yes",
		"missing_packages": "", "ports_in_use": "", "other_kubernetes": "", "edgelet": "", "api": "reachable", "api_address": "192.168.1.20:6443"}
}

func TestJudge(t *testing.T) {
	now := time.Unix(1000, 0)
	if p := Judge("pi", healthy(), now, false); p.Err() != nil || p.Arch != "arm64" {
		t.Fatalf("healthy host: arch %q, %v", p.Arch, p.Err())
	}
	for _, c := range []struct {
		name  string
		facts map[string]string
		force bool
		fail  []string // names of the failed checks
	}{
		{name: "32-bit arm", facts: map[string]string{"arch": "armv7l"}, fail: []string{"arch"}},
		{name: "no memory controller", facts: map[string]string{"controllers": "cpuset cpu io pids"}, fail: []string{"cgroups"}},
		{name: "no pids controller warns", facts: map[string]string{"controllers": "cpu memory"}},
		{name: "clock off by an hour", facts: map[string]string{"time": "4600"}, fail: []string{"clock"}},
		{name: "k3s", facts: map[string]string{"other_kubernetes": "k3s"}, fail: []string{"kubernetes"}},
		{name: "k3s forced", facts: map[string]string{"other_kubernetes": "k3s"}, force: true},
		{name: "port taken", facts: map[string]string{"ports_in_use": "10250"}, fail: []string{"ports"}},
		{name: "port ours", facts: map[string]string{"ports_in_use": "10250", "edgelet": "abc"}},
		{name: "api unreachable, no packages, tiny disk", facts: map[string]string{"api": "unreachable", "missing_packages": "gzip", "disk_free_kb": "1000"},
			fail: []string{"disk", "packages", "api"}},
		{name: "no systemd, no overlay", facts: map[string]string{"systemd": "no", "overlay": "no"}, fail: []string{"systemd", "overlay"}},
		{name: "a container board: no /dev/kmsg, read-only /proc/sys, overlay root",
			facts: map[string]string{"kmsg": "no", "proc_sys": "ro", "overlay_mount": "no (in /var/lib: mount: wrong fs type)"},
			fail:  []string{"kmsg", "proc_sys", "overlay_mount"}},
		{name: "a board whose checks pass", facts: map[string]string{"kmsg": "yes", "proc_sys": "rw", "overlay_mount": "yes"}},
	} {
		f := healthy()
		for k, v := range c.facts {
			f[k] = v
		}
		p := Judge("pi", f, now, c.force)
		var failed []string
		for _, ch := range p.Failed() {
			failed = append(failed, ch.Name)
		}
		if strings.Join(failed, ",") != strings.Join(c.fail, ",") {
			t.Errorf("%s: failed %v, want %v", c.name, failed, c.fail)
		}
		if err := p.Err(); (err != nil) != (len(c.fail) > 0) {
			t.Errorf("%s: Err %v", c.name, err)
		} else if err != nil {
			for _, name := range c.fail {
				if !strings.Contains(err.Error(), name+":") {
					t.Errorf("%s: error does not name %s: %v", c.name, name, err)
				}
			}
		}
	}
}

func TestParseFacts(t *testing.T) {
	f := ParseFacts("arch=x86_64\nos=Debian GNU/Linux 12 (bookworm)\ncontrollers=cpu memory \njunk\n")
	if f["arch"] != "x86_64" || f["os"] != "Debian GNU/Linux 12 (bookworm)" || f["controllers"] != "cpu memory" || len(f) != 3 {
		t.Errorf("facts %v", f)
	}
}

func TestJoinScript(t *testing.T) {
	j := Join{Cluster: "edge", Node: "pi-7", Arch: "arm64", Role: "agent", Token: "E1abc::def.123", Config: []byte("role: agent\nnodeName: pi-7\n")}
	s, err := j.Script()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"edgectl-bundle-linux-arm64-agent.tar.gz", "role: agent\nnodeName: pi-7\nEDGECTL_FILE", "<<'EDGECTL_FILE'\nE1abc::def.123\nEDGECTL_FILE", "systemctl restart edgelet"} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q:\n%s", want, s)
		}
	}
	j.Token = "x\nrm -rf /"
	if _, err := j.Script(); err == nil {
		t.Error("a token of two lines was written into the script")
	}
	j.Token = "E1abc::def.123"
	j.Files = map[string][]byte{"/var/lib/edgelet/server/manifests/a.yaml": []byte("x\nEDGECTL_FILE\n"), "/b": {0xff}}
	s, _ = j.Script()
	for _, want := range []string{"base64 -d >'/b.edgectl-new' <<'EDGECTL_FILE'\n/w==\n", "<<'EDGECTL_FILE'\neApFREdFQ1RMX0ZJTEUK\n"} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q:\n%s", want, s)
		}
	}
}

func TestUnitTrouble(t *testing.T) {
	for _, c := range []struct {
		facts map[string]string
		want  string
	}{
		{map[string]string{"ActiveState": "active", "NRestarts": "0", "ExecMainStatus": "0"}, ""},
		{map[string]string{"ActiveState": "activating", "NRestarts": "2", "ExecMainStatus": "1"}, ""},
		{map[string]string{"ActiveState": "activating", "NRestarts": "3", "ExecMainStatus": "1"}, "is restarting in a loop (3 restarts, the last exit status 1)"},
		{map[string]string{"ActiveState": "failed", "ExecMainStatus": "3"}, "token"},
		{map[string]string{"ActiveState": "failed", "ExecMainStatus": "1"}, "failed (exit status 1)"},
		{map[string]string{"ActiveState": "active"}, ""}, // an old systemd without NRestarts
	} {
		if got := unitTrouble(c.facts); got != c.want {
			t.Errorf("%v: %q, want %q", c.facts, got, c.want)
		}
	}
}
