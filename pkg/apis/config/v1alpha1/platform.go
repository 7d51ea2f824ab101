package v1alpha1

import (
	"fmt"
	goruntime "runtime"
	"slices"
	"strings"
)

// Platforms are the node platforms edgectl builds images for.
var Platforms = []string{"linux/amd64", "linux/arm64"}

// HostPlatform is the platform edgectl runs on.
func HostPlatform() string { return "linux/" + goruntime.GOARCH }

// Platform is the platform of node i of role: its nodes[] entry's, else the
// agents' for an agent, else the host's.
func (c *Cluster) Platform(role string, i int) string {
	for _, n := range c.Nodes {
		if n.Role == role && n.Index == i && n.Platform != "" {
			return n.Platform
		}
	}
	if role == "agent" && c.AgentPlatform != "" {
		return c.AgentPlatform
	}
	return HostPlatform()
}

// Emulated tells whether a node of c runs another platform than the host's
// (under qemu user emulation).
func (c *Cluster) Emulated() bool {
	for role, n := range map[string]int{"server": c.Servers, "agent": c.Agents} {
		for i := 0; i < n; i++ {
			if c.Platform(role, i) != HostPlatform() {
				return true
			}
		}
	}
	return false
}

// ImageFor is the node image of platform: image itself for the host's
// platform, else image with "-ARCH" appended to its tag, which is how
// `edgectl image build --platform` names it.
func ImageFor(image, platform string) string {
	if platform == "" || platform == HostPlatform() {
		return image
	}
	return TagFor(image, strings.TrimPrefix(platform, "linux/"))
}

// TagFor is image with "-ARCH" appended to its tag (to ":latest" when it has
// none): the name of its arch variant in an engine that keeps one platform
// per tag.
func TagFor(image, arch string) string {
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		return image + "-" + arch
	}
	return image + ":latest-" + arch
}

// ParsePlatforms parses a comma-separated --platform value ("linux/amd64,
// linux/arm64") into architectures, in the order given, without repeats.
func ParsePlatforms(value string) ([]string, error) {
	var archs []string
	for _, p := range strings.Split(value, ",") {
		p = strings.TrimSpace(p)
		if err := checkPlatform("--platform", p); err != nil || p == "" {
			if err == nil {
				err = fmt.Errorf("--platform %q: must be one of %s", value, strings.Join(Platforms, ", "))
			}
			return nil, err
		}
		if arch := strings.TrimPrefix(p, "linux/"); !slices.Contains(archs, arch) {
			archs = append(archs, arch)
		}
	}
	return archs, nil
}

// checkPlatform checks one platform field.
func checkPlatform(field, p string) error {
	if p == "" || slices.Contains(Platforms, p) {
		return nil
	}
	return fmt.Errorf("%s %q: must be one of %s", field, p, strings.Join(Platforms, ", "))
}
