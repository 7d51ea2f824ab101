// Package netem impairs a node's network link for real: delay, jitter, loss
// and a rate limit on the packets that leave the node, optionally only those
// to some peers. It needs no sch_netem, which many kernels (this CI's, some
// VM and WSL ones) lack:
//   - loss is an iptables rule with the statistic match, dropping at random;
//   - delay and jitter are an NFQUEUE rule whose queue a delay line in
//     edgelet serves, releasing each packet when its delay has passed;
//   - the rate is an HTB class (all egress, or the peers' traffic only).
//
// Every rule lives in its own chain (EDGELET-NET), HTB handle and systemd
// unit, so Clear removes exactly what Apply made. The state is kept under
// /run, so a node restart heals the link.
package netem

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	netv1 "github.com/edgectl/edgectl/pkg/apis/netem/v1alpha1"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Spec is an impairment of a node's egress link.
type Spec = netv1.Spec

const (
	chain     = "EDGELET-NET"
	queueNum  = 7317
	delayUnit = "edgelet-net-delay"
	// StateFile holds the applied Spec.
	StateFile = "/run/edgelet/net.json"
)

// Apply replaces the node's impairment with s.
func Apply(ctx context.Context, s Spec, self string) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if err := Clear(ctx); err != nil {
		return err
	}
	if s.Interface == "" {
		dev, err := defaultInterface(ctx)
		if err != nil {
			return err
		}
		s.Interface = dev
	}
	s.Since = time.Now().UTC().Truncate(time.Second)
	// The state is written first: if a step fails, Clear reads it and
	// removes what the steps before made (the qdisc is found through it).
	if err := os.MkdirAll("/run/edgelet", 0o755); err != nil {
		return err
	}
	data, _ := json.MarshalIndent(s, "", "  ")
	if err := os.WriteFile(StateFile, data, 0o644); err != nil {
		return err
	}
	if err := apply(ctx, s, self); err != nil {
		_ = Clear(ctx)
		return err
	}
	return nil
}

func apply(ctx context.Context, s Spec, self string) error {
	ipt := func(args ...string) error {
		return run(ctx, "iptables", append([]string{"-w", "-t", "mangle"}, args...)...)
	}
	if s.Delay > 0 {
		// The delay line runs first: the rule below bypasses the queue
		// until it is bound, so no packet waits for a reader that is not there.
		args := []string{"--unit", delayUnit, "--collect", "--quiet", self, "net", "delay-line",
			"--delay", s.Delay.String(), "--jitter", s.Jitter.String()}
		if err := run(ctx, "systemd-run", args...); err != nil {
			return err
		}
		if err := waitQueueBound(ctx); err != nil {
			return err
		}
	}
	if err := ipt("-N", chain); err != nil {
		return err
	}
	if s.Loss > 0 {
		p := strconv.FormatFloat(s.Loss/100, 'f', 4, 64)
		if err := ipt("-A", chain, "-m", "statistic", "--mode", "random", "--probability", p, "-j", "DROP"); err != nil {
			return err
		}
	}
	if s.Delay > 0 {
		if err := ipt("-A", chain, "-j", "NFQUEUE", "--queue-num", strconv.Itoa(queueNum), "--queue-bypass"); err != nil {
			return err
		}
	}
	targets := s.Peers
	if len(targets) == 0 {
		targets = []string{""}
	}
	for _, peer := range targets {
		args := []string{"-I", "POSTROUTING", "-o", s.Interface}
		if peer != "" {
			args = append(args, "-d", peer)
		}
		if err := ipt(append(args, "-j", chain)...); err != nil {
			return err
		}
	}
	if s.Rate != "" {
		return shape(ctx, s)
	}
	return nil
}

// shape limits the rate with HTB: class 1:10 at the rate, and a default
// class 1:20 that is not limited when only some peers are impaired.
func shape(ctx context.Context, s Spec) error {
	bits, _ := netv1.RateBits(s.Rate)
	burst := strconv.FormatUint(max(bits/8/50, 3200), 10) // 20 ms worth, at least two MTUs
	def := "10"
	if len(s.Peers) > 0 {
		def = "20"
	}
	tc := func(args ...string) error { return run(ctx, "tc", args...) }
	if err := tc("qdisc", "replace", "dev", s.Interface, "root", "handle", "1:", "htb", "default", def); err != nil {
		return err
	}
	if err := tc("class", "add", "dev", s.Interface, "parent", "1:", "classid", "1:10", "htb",
		"rate", s.Rate, "burst", burst, "cburst", burst); err != nil {
		return err
	}
	if len(s.Peers) == 0 {
		return nil
	}
	if err := tc("class", "add", "dev", s.Interface, "parent", "1:", "classid", "1:20", "htb", "rate", "100gbit"); err != nil {
		return err
	}
	for _, peer := range s.Peers {
		if err := tc("filter", "add", "dev", s.Interface, "parent", "1:", "protocol", "ip", "prio", "1",
			"u32", "match", "ip", "dst", peer+"/32", "flowid", "1:10"); err != nil {
			return err
		}
	}
	return nil
}

// Clear removes whatever Apply made; it is safe when nothing was applied.
func Clear(ctx context.Context) error {
	var errs []error
	_ = exec.CommandContext(ctx, "systemctl", "stop", delayUnit).Run()
	out, _ := exec.CommandContext(ctx, "iptables", "-w", "-t", "mangle", "-S", "POSTROUTING").Output()
	for _, line := range strings.Split(string(out), "\n") {
		if !strings.HasSuffix(line, "-j "+chain) {
			continue
		}
		args := append([]string{"-w", "-t", "mangle", "-D"}, strings.Fields(line)[1:]...)
		if err := run(ctx, "iptables", args...); err != nil {
			errs = append(errs, err)
		}
	}
	if exec.CommandContext(ctx, "iptables", "-w", "-t", "mangle", "-S", chain).Run() == nil {
		for _, op := range []string{"-F", "-X"} {
			if err := run(ctx, "iptables", "-w", "-t", "mangle", op, chain); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if s, err := Current(); err == nil && s.Rate != "" {
		// Back to the interface's default qdisc.
		_ = exec.CommandContext(ctx, "tc", "qdisc", "del", "dev", s.Interface, "root").Run()
	}
	if err := os.Remove(StateFile); err != nil && !os.IsNotExist(err) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Current is the applied spec, or a zero Spec when the link is healthy.
func Current() (Spec, error) {
	var s Spec
	data, err := os.ReadFile(StateFile)
	if os.IsNotExist(err) {
		return s, nil
	}
	if err != nil {
		return s, err
	}
	return s, json.Unmarshal(data, &s)
}

// RunDelayLine serves the NFQUEUE of Apply until ctx ends: each packet is
// released after delay ± a uniform jitter, never before the packet ahead of
// it (a link delays; it does not reorder).
func RunDelayLine(ctx context.Context, delay, jitter time.Duration) error {
	q, err := openQueue(queueNum, 65536)
	if err != nil {
		return err
	}
	type packet struct {
		id  uint32
		due time.Time
	}
	pending := make(chan packet, 65536)
	readErr := make(chan error, 1)
	go func() {
		var last time.Time
		readErr <- q.Read(func(id uint32) {
			d := delay
			if jitter > 0 {
				d += time.Duration(rand.Int64N(int64(2*jitter+1))) - jitter
			}
			due := time.Now().Add(max(d, 0))
			if due.Before(last) {
				due = last
			}
			last = due
			pending <- packet{id, due}
		})
	}()
	go func() {
		<-ctx.Done()
		q.Close()
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-readErr:
			if ctx.Err() != nil {
				return nil
			}
			return err
		case p := <-pending:
			if wait := time.Until(p.due); wait > 0 {
				select {
				case <-time.After(wait):
				case <-ctx.Done():
					return nil
				}
			}
			if err := q.Verdict(p.id); err != nil && ctx.Err() == nil {
				return fmt.Errorf("verdict: %w", err)
			}
		}
	}
}

// waitQueueBound waits until a process has bound the NFQUEUE (listed in
// /proc/net/netfilter/nfnetlink_queue of this network namespace).
func waitQueueBound(ctx context.Context) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		data, _ := os.ReadFile("/proc/net/netfilter/nfnetlink_queue")
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) > 0 && f[0] == strconv.Itoa(queueNum) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	out, _ := exec.Command("journalctl", "-u", delayUnit, "-n", "5", "--no-pager").CombinedOutput()
	return fmt.Errorf("the delay line did not bind NFQUEUE %d (is nfnetlink_queue available?): %s", queueNum, strings.TrimSpace(string(out)))
}

// defaultInterface is the device of the default route: the node's link.
func defaultInterface(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "ip", "-o", "route", "show", "default").Output()
	if err != nil {
		return "", fmt.Errorf("ip route: %w", err)
	}
	f := strings.Fields(string(out))
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "dev" {
			return f[i+1], nil
		}
	}
	return "", errors.New("no default route: pass --interface")
}

func run(ctx context.Context, name string, args ...string) error {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
