package promote

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	"github.com/edgectl/edgectl/pkg/board"
)

func TestDecide(t *testing.T) {
	for _, c := range []struct{ installed, want, action string }{
		{"", "abc", ActionInstall}, {"abc", "abc", ActionNone}, {"old", "abc", ActionUpgrade},
	} {
		if got := decide(c.installed, c.want); got != c.action {
			t.Errorf("decide(%q, %q) = %s, want %s", c.installed, c.want, got, c.action)
		}
	}
}

func TestTarget(t *testing.T) {
	tg, err := Target(v1alpha1.Host{SSH: "pi@10.0.0.5:2222", KeyFile: "/k", Bastion: "gw@jump"})
	if err != nil || tg.String() != "pi@10.0.0.5:2222" || tg.KeyFile != "/k" || tg.Bastion == nil || tg.Bastion.String() != "gw@jump:22" {
		t.Errorf("Target: %+v %v", tg, err)
	}
}

// A config whose hosts section is wrong is refused before any connection.
func TestMakePlanChecksHostsFirst(t *testing.T) {
	cfg := &v1alpha1.Cluster{Name: "shop", Agents: 1, Hosts: []v1alpha1.Host{{Role: "server", Index: 0, SSH: "192.0.2.1"}}}
	v1alpha1.SetDefaults(cfg)
	plan, err := MakePlan(context.Background(), cfg, false)
	if plan != nil || err == nil || !strings.Contains(err.Error(), "agent:0 has no host") {
		t.Errorf("plan %v, err %v", plan, err)
	}
}

func TestPrint(t *testing.T) {
	p := &Plan{Cluster: "shop", Changes: 2, Hosts: []HostPlan{
		{Node: "server:0", SSH: "root@10.0.0.10:22", Hostname: "pi-1", Arch: "arm64", Action: ActionUpgrade, Installed: "old", Want: "new",
			Preflight: []board.Check{{Name: "swap", Value: "1 device(s) on", Level: board.Warn, Hint: "swapoff -a"}}},
		{Node: "agent:0", SSH: "root@10.0.0.11:22", Error: "unreachable"},
	}}
	var b bytes.Buffer
	p.Print(&b)
	for _, want := range []string{`cluster "shop" on 2 host(s): 2 to change`, "upgrade", "old -> new", "agent:0", "server:0 warn: swap 1 device(s) on: swapoff -a"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("plan output lacks %q:\n%s", want, b.String())
		}
	}
}

func TestPlanJSONRoundTrip(t *testing.T) {
	p := &Plan{Cluster: "shop", Hosts: []HostPlan{{Node: "agent:0", Preflight: []board.Check{{Name: "swap", Level: board.Warn}, {Name: "arch", Level: board.Fail}}}}}
	data, err := json.Marshal(p)
	if err != nil || !strings.Contains(string(data), `"level":"warn"`) {
		t.Fatalf("%s %v", data, err)
	}
	var back Plan
	if err := json.Unmarshal(data, &back); err != nil || back.Hosts[0].Preflight[1].Level != board.Fail {
		t.Errorf("round trip: %+v %v", back, err)
	}
}

func TestOrdered(t *testing.T) {
	hosts := []v1alpha1.Host{{Role: "agent", Index: 1}, {Role: "server", Index: 1}, {Role: "agent", Index: 0}, {Role: "server", Index: 0}}
	var got []string
	for _, h := range ordered(hosts) {
		got = append(got, h.Role+":"+string(rune('0'+h.Index)))
	}
	if strings.Join(got, " ") != "server:0 server:1 agent:0 agent:1" {
		t.Errorf("ordered: %v", got)
	}
	if hosts[0].Role != "agent" {
		t.Error("ordered changed its argument")
	}
}

func TestHookCommands(t *testing.T) {
	var none *v1alpha1.Hooks
	h := &v1alpha1.Hooks{Upgrade: v1alpha1.HookPoints{Before: []string{"a"}, After: []string{"b"}}}
	if none.Commands("apply", "before") != nil || h.Commands("apply", "before") != nil ||
		strings.Join(h.Commands("upgrade", "before"), "") != "a" || strings.Join(h.Commands("upgrade", "after"), "") != "b" {
		t.Error("Hooks.Commands")
	}
}

// A new host as server 0 beside servers that run would start a second
// cluster: refused. A fresh cluster, or a running server 0, is fine.
func TestFirstServerRuns(t *testing.T) {
	hostsOf := func(installed ...string) []*host {
		var hs []*host
		for i, v := range installed {
			hs = append(hs, &host{spec: v1alpha1.Host{Role: "server", Index: i}, plan: &HostPlan{Node: "server:" + string(rune('0'+i)), Installed: v}})
		}
		return append(hs, &host{spec: v1alpha1.Host{Role: "agent"}, plan: &HostPlan{Node: "agent:0", Installed: "v1"}})
	}
	if err := firstServerRuns(hostsOf("", "", "")); err != nil {
		t.Errorf("fresh servers: %v", err)
	}
	if err := firstServerRuns(hostsOf("v1", "", "v1")); err != nil {
		t.Errorf("running server 0: %v", err)
	}
	if err := firstServerRuns(hostsOf("", "v1", "v1")); err == nil || !strings.Contains(err.Error(), "server:0") || !strings.Contains(err.Error(), "server:1") {
		t.Errorf("new server 0 beside running servers: %v", err)
	}
}

// The control-plane label's value is empty: its presence makes a server.
func TestPrunable(t *testing.T) {
	list := `{"items":[
{"metadata":{"name":"s0","labels":{"node-role.kubernetes.io/control-plane":""},"annotations":{"edgectl.io/ssh":"root@10.0.0.1:22"}}},
{"metadata":{"name":"s2","labels":{"node-role.kubernetes.io/control-plane":""},"annotations":{"edgectl.io/ssh":"root@10.0.0.3:22"}}},
{"metadata":{"name":"a1","labels":{"site":"shop"},"annotations":{"edgectl.io/ssh":"root@10.0.0.5:22"}}},
{"metadata":{"name":"joined","labels":{}}}]}`
	gone, err := prunable([]byte(list), map[string]bool{"s0": true})
	if err != nil || len(gone) != 2 || gone[0].Node != "server" || gone[0].Hostname != "s2" || gone[1].Node != "agent" || gone[1].SSH != "root@10.0.0.5:22" {
		t.Errorf("prunable: %+v %v", gone, err)
	}
}
