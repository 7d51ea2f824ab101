package v1alpha1

import (
	"strings"
	"testing"
)

func TestPlatformAndImageFor(t *testing.T) {
	other := "linux/arm64"
	if HostPlatform() == other {
		other = "linux/amd64"
	}
	arch := strings.TrimPrefix(other, "linux/")
	c := &Cluster{Servers: 1, Agents: 3, AgentPlatform: other,
		Nodes: []Node{{Role: "agent", Index: 2, Platform: HostPlatform()}, {Role: "server", Index: 0, Platform: other}}}
	for _, tc := range []struct {
		role  string
		index int
		want  string
	}{{"server", 0, other}, {"agent", 0, other}, {"agent", 1, other}, {"agent", 2, HostPlatform()}} {
		if got := c.Platform(tc.role, tc.index); got != tc.want {
			t.Errorf("%s %d: platform %s, want %s", tc.role, tc.index, got, tc.want)
		}
	}
	if got := (&Cluster{}).Platform("agent", 0); got != HostPlatform() {
		t.Errorf("default platform %s", got)
	}
	for image, want := range map[string]string{
		"edgectl/node:dev":            "edgectl/node:dev-" + arch,
		"localhost:5000/node:v1":      "localhost:5000/node:v1-" + arch,
		"localhost:5000/node":         "localhost:5000/node:latest-" + arch,
		"ghcr.io/edgectl/node:v0.9.0": "ghcr.io/edgectl/node:v0.9.0-" + arch,
	} {
		if got := ImageFor(image, other); got != want {
			t.Errorf("ImageFor(%s) = %s, want %s", image, got, want)
		}
		if got := ImageFor(image, HostPlatform()); got != image {
			t.Errorf("ImageFor(%s, host) = %s", image, got)
		}
	}
}

func TestValidatePlatforms(t *testing.T) {
	c := &Cluster{}
	SetDefaults(c)
	c.Agents = 1
	c.AgentPlatform = "linux/riscv64"
	c.Nodes = []Node{{Role: "agent", Index: 0, Platform: "arm64"}}
	err := c.Validate()
	for _, want := range []string{`agentPlatform "linux/riscv64"`, `nodes[0].platform "arm64"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
	c.AgentPlatform, c.Nodes = "linux/arm64", nil
	c.Image = "edgectl/node@sha256:" + strings.Repeat("a", 64)
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "digest") {
		t.Errorf("a digest with a platform: %v", err)
	}
}

func TestParsePlatforms(t *testing.T) {
	got, err := ParsePlatforms("linux/amd64, linux/arm64,linux/amd64")
	if err != nil || strings.Join(got, ",") != "amd64,arm64" {
		t.Errorf("got %v, %v", got, err)
	}
	for _, bad := range []string{"", "arm64", "linux/riscv64", "linux/amd64,"} {
		if _, err := ParsePlatforms(bad); err == nil || !strings.Contains(err.Error(), "linux/amd64, linux/arm64") {
			t.Errorf("%q: %v, want an error listing the platforms", bad, err)
		}
	}
}
