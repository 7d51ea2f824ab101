package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgectl/edgectl/internal/log"
	"github.com/edgectl/edgectl/pkg/cluster"
	"github.com/edgectl/edgectl/pkg/registry"
)

// prefix names every cluster and registry this suite makes; `ci chart`
// names its clusters ci-CHART-XXXXX, and the suite's charts are e2e-*.
const prefix, ciPrefix = "e2e-", "ci-e2e-"

// TestMain lets one run of the suite at a time use the engine: the tests
// pick fixed names, subnets and host ports, so two runs on one machine (a
// CI job and a developer's run) would take each other's clusters. A later
// run waits for the lock; once it holds it, whatever carries the suite's
// prefix was left by a run that was killed, and is removed.
func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	unlock, err := lockEngine()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	removeLeftovers()
	if binaries.dir, err = os.MkdirTemp("", "edgectl-e2e-bin-"); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(binaries.dir)
	unlock()
	os.Exit(code)
}

func lockEngine() (func(), error) {
	path := filepath.Join(os.TempDir(), "edgectl-e2e.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: another run of this suite holds %s; waiting for it to end\n", path)
		start := time.Now()
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		fmt.Fprintf(os.Stderr, "e2e: lock taken after %s\n", time.Since(start).Round(time.Second))
	}
	return func() { _ = f.Close() }, nil
}

// removeLeftovers deletes the clusters and registries a killed run left.
// Errors are only reported: the tests that need the names will say more.
func removeLeftovers() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	p, err := cluster.NewProvider(log.New(os.Stderr, 0, false))
	if err != nil {
		return
	}
	names, err := p.Clusters(ctx)
	if err != nil {
		return
	}
	kubeconfig := filepath.Join(os.TempDir(), "edgectl-e2e-leftovers.kubeconfig")
	defer os.Remove(kubeconfig)
	for _, name := range names {
		if !strings.HasPrefix(name, prefix) && !strings.HasPrefix(name, ciPrefix) {
			continue
		}
		fmt.Fprintf(os.Stderr, "e2e: removing cluster %s, left by an earlier run\n", name)
		if err := p.Delete(ctx, name, kubeconfig); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: delete %s: %v\n", name, err)
		}
	}
	m := registry.NewManager(p.Runtime(), log.New(os.Stderr, 0, false))
	regs, err := m.List(ctx)
	if err != nil {
		return
	}
	for _, r := range regs {
		if !strings.HasPrefix(r.Name, prefix) {
			continue
		}
		fmt.Fprintf(os.Stderr, "e2e: removing registry %s, left by an earlier run\n", r.Name)
		if err := m.Delete(ctx, r.Name, true, nil); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: delete registry %s: %v\n", r.Name, err)
		}
	}
}
