// Package board prepares a host that edgectl did not create (a board, a VM,
// a server in a rack) to run edgelet from a board bundle, over SSH: the
// preflight, the install, the node config, and the removal that leaves the
// host as it was.
package board

import (
	"bufio"
	"context"
	_ "embed"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/edgectl/edgectl/internal/remote"
)

//go:embed preflight.sh
var preflightScript string

// Level of a preflight check.
type Level int

// Levels, from harmless to refusing.
const (
	OK Level = iota
	Warn
	Fail
)

func (l Level) String() string { return [...]string{"ok", "warn", "FAIL"}[l] }

// MarshalText writes a level as its name in JSON: ok, warn or fail.
func (l Level) MarshalText() ([]byte, error) { return []byte(strings.ToLower(l.String())), nil }

// UnmarshalText reads a level's name.
func (l *Level) UnmarshalText(b []byte) error {
	for _, v := range []Level{OK, Warn, Fail} {
		if strings.EqualFold(string(b), v.String()) {
			*l = v
			return nil
		}
	}
	return fmt.Errorf("preflight level %q: want ok, warn or fail", b)
}

// Check is one line of the preflight.
type Check struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	Level Level  `json:"level"`
	Hint  string `json:"hint,omitempty"`
}

// Preflight is what a host is, and whether it can run a node.
type Preflight struct {
	Host   string            `json:"host"`
	Facts  map[string]string `json:"facts"`
	Arch   string            `json:"arch"` // GOARCH of the host, when supported
	Checks []Check           `json:"checks"`
}

// Thresholds of the preflight.
const (
	minMemKB, lowMemKB   = 300 << 10, 600 << 10
	minDiskKB, lowDiskKB = 1 << 20, 3 << 20
	maxSkew, warnSkew    = 5 * time.Minute, 5 * time.Second
)

// RunPreflight reads the host's facts and judges them; api (HOST:PORT) is
// the cluster's API address, which the host must reach. force lets a host
// that runs another Kubernetes (k3s, a kubelet) pass, with a warning.
func RunPreflight(ctx context.Context, h *remote.Host, api string, force bool) (*Preflight, error) {
	out, err := h.Run(ctx, "EDGECTL_API="+remote.Quote(api)+" sh -s", strings.NewReader(preflightScript))
	if err != nil {
		if strings.Contains(err.Error(), "sudo") || strings.Contains(err.Error(), "password") {
			return nil, fmt.Errorf("%s: user %q cannot run commands as root without a password (sudo -n): %w; log in as root or allow passwordless sudo", h.Target, h.Target.User, err)
		}
		return nil, fmt.Errorf("preflight on %s: %w", h.Target, err)
	}
	return Judge(h.Target.String(), ParseFacts(out), time.Now(), force), nil
}

// ParseFacts reads key=value lines.
func ParseFacts(out string) map[string]string {
	facts := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			facts[k] = strings.TrimSpace(v)
		}
	}
	return facts
}

// GoArch maps `uname -m` to the platform's architecture; "" when edgectl has
// no bundle for it.
func GoArch(machine string) string {
	switch machine {
	case "x86_64", "amd64":
		return "amd64"
	case "aarch64", "arm64":
		return "arm64"
	}
	return ""
}

// Judge turns facts into checks; now is the local clock, against which the
// host's is compared (the cluster's servers share it).
func Judge(host string, f map[string]string, now time.Time, force bool) *Preflight {
	p := &Preflight{Host: host, Facts: f, Arch: GoArch(f["arch"])}
	add := func(name, value string, level Level, hint string) {
		p.Checks = append(p.Checks, Check{Name: name, Value: value, Level: level, Hint: hint})
	}
	if p.Arch == "" {
		add("arch", f["arch"], Fail, "edgectl has bundles for linux/amd64 and linux/arm64 only: on a Raspberry Pi, install the 64-bit Raspberry Pi OS")
	} else {
		add("arch", f["arch"]+" (linux/"+p.Arch+")", OK, "")
	}
	add("os", f["os"], OK, "")
	add("kernel", f["kernel"], OK, "")
	if f["systemd"] != "yes" {
		add("systemd", "not running", Fail, "edgelet runs as a systemd service: boot the host with systemd")
	} else {
		add("systemd", "running", OK, "")
	}
	ctrl := strings.Fields(f["controllers"])
	var lack []string
	for _, c := range []string{"cpu", "memory", "pids"} {
		if !contains(ctrl, c) {
			lack = append(lack, c)
		}
	}
	cg := "cgroup " + f["cgroup"] + ": " + strings.Join(ctrl, " ")
	switch {
	case contains(lack, "cpu") || contains(lack, "memory"):
		add("cgroups", cg, Fail, "no "+strings.Join(lack, ", ")+" controller: on a Raspberry Pi add `cgroup_enable=memory cgroup_memory=1` to /boot/firmware/cmdline.txt and reboot")
	case len(lack) > 0:
		add("cgroups", cg, Warn, "no "+strings.Join(lack, ", ")+" controller: pod limits on it are not enforced")
	default:
		add("cgroups", cg, OK, "")
	}
	for _, feat := range []struct{ name, hint string }{
		{"overlay", "containerd's snapshotter needs overlayfs: load the overlay module"},
		{"br_netfilter", "Services from pods on this node need br_netfilter: load the module"},
		{"tun", "the pod-traffic tunnel needs /dev/net/tun: load the tun module"},
	} {
		level := Warn
		if feat.name == "overlay" {
			level = Fail
		}
		if f[feat.name] == "yes" {
			add(feat.name, "yes", OK, "")
		} else {
			add(feat.name, "no", level, feat.hint)
		}
	}
	// Hosts that pass the checks above and still cannot run a node: a
	// container or LXC "board", some NAS and router systems. An older
	// preflight (no such fact) says nothing.
	if f["kmsg"] == "no" {
		add("kmsg", "/dev/kmsg not readable", Fail, "kubelet reads the kernel log: give the host /dev/kmsg (a container: --device /dev/kmsg; LXC: lxc.mount.entry for it)")
	}
	if f["proc_sys"] == "ro" {
		add("proc_sys", "/proc/sys read-only", Fail, "kube-proxy sets conntrack sysctls: /proc/sys must be writable (a container or LXC host: make it privileged)")
	}
	if m := f["overlay_mount"]; m != "" && m != "yes" {
		add("overlay_mount", "cannot mount an overlay where containerd keeps its snapshots: "+strings.TrimPrefix(m, "no "), Fail,
			"put /var/lib/containerd on a real filesystem (ext4, xfs, btrfs), not on an overlay root: a disk, or a volume in a container")
	} else if m == "yes" {
		add("overlay_mount", "a test overlay mounts in /var/lib/containerd", OK, "")
	}
	if f["swap"] != "0" {
		add("swap", f["swap"]+" device(s) on", Warn, "kubelet runs with swap on; `swapoff -a` for predictable pod memory")
	} else {
		add("swap", "off", OK, "")
	}
	if t, err := strconv.ParseInt(f["time"], 10, 64); err == nil {
		skew := time.Unix(t, 0).Sub(now.Truncate(time.Second))
		if skew < 0 {
			skew = -skew
		}
		switch {
		case skew > maxSkew:
			add("clock", fmt.Sprintf("%s off", skew), Fail, "certificates will not verify: set the host's clock (timedatectl set-ntp true)")
		case skew > warnSkew:
			add("clock", fmt.Sprintf("%s off", skew), Warn, "set up NTP (timedatectl set-ntp true)")
		default:
			add("clock", "in step", OK, "")
		}
	}
	sizeCheck := func(name, key, what string, fail, warn int64, hint string) {
		n, err := strconv.ParseInt(f[key], 10, 64)
		switch {
		case err != nil:
			add(name, "unknown", Warn, "")
		case n < fail:
			add(name, fmt.Sprintf("%d MB %s (needs ≥ %d MB)", n>>10, what, fail>>10), Fail, hint)
		case n < warn:
			add(name, fmt.Sprintf("%d MB %s (want ≥ %d MB)", n>>10, what, warn>>10), Warn, hint)
		default:
			add(name, fmt.Sprintf("%d MB %s", n>>10, what), OK, "")
		}
	}
	sizeCheck("memory", "mem_available_kb", "available", minMemKB, lowMemKB, "stop other services, or use a board with more memory")
	sizeCheck("disk", "disk_free_kb", "free on /var/lib", minDiskKB, lowDiskKB, "free disk space on /var/lib")
	if m := f["missing_packages"]; m != "" {
		add("packages", "missing "+m, Fail, "apt-get install -y "+m)
	} else {
		add("packages", "mount tar gzip", OK, "")
	}
	ours := f["edgelet"] != ""
	switch busy := f["ports_in_use"]; {
	case busy == "":
		add("ports", "10250 10256 10249 free", OK, "")
	case ours:
		add("ports", busy+" in use by edgelet", OK, "")
	default:
		add("ports", busy+" in use", Fail, "another kubelet or kube-proxy listens there: stop it first")
	}
	if other := f["other_kubernetes"]; other != "" {
		level, hint := Fail, "remove it first (k3s: /usr/local/bin/k3s-uninstall.sh), or pass --force to install beside it"
		if force {
			level, hint = Warn, "--force: installing beside it"
		}
		add("kubernetes", other+" found", level, hint)
	}
	switch f["api"] {
	case "reachable":
		add("api", f["api_address"]+" reachable", OK, "")
	case "unreachable":
		add("api", "cannot connect to "+f["api_address"], Fail, "the host needs outbound TCP to the cluster's --api-address: check that address, and the host's route and firewall")
	}
	if ours {
		add("edgelet", "installed ("+f["edgelet"]+"), server "+orDash(f["edgelet_server"]), OK, "")
	} else {
		add("edgelet", "not installed", OK, "")
	}
	return p
}

// Failed lists the failed checks.
func (p *Preflight) Failed() []Check {
	var out []Check
	for _, c := range p.Checks {
		if c.Level == Fail {
			out = append(out, c)
		}
	}
	return out
}

// Err is nil when no check failed, or names every failure and its fix.
func (p *Preflight) Err() error {
	failed := p.Failed()
	if len(failed) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s cannot run a node:", p.Host)
	for _, c := range failed {
		fmt.Fprintf(&b, "\n  - %s: %s", c.Name, c.Value)
		if c.Hint != "" {
			fmt.Fprintf(&b, " (%s)", c.Hint)
		}
	}
	return &PreflightError{msg: b.String(), Checks: failed}
}

// PreflightError is a host that failed its preflight.
type PreflightError struct {
	msg    string
	Checks []Check
}

func (e *PreflightError) Error() string { return e.msg }

// Print writes the preflight as a table.
func (p *Preflight) Print(w io.Writer) {
	fmt.Fprintf(w, "Preflight of %s:\n", p.Host)
	for _, c := range p.Checks {
		fmt.Fprintf(w, "  %-4s  %-12s %s", c.Level, c.Name, c.Value)
		if c.Hint != "" && c.Level != OK {
			fmt.Fprintf(w, "  → %s", c.Hint)
		}
		fmt.Fprintln(w)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
