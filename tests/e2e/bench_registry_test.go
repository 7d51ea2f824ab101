package e2e

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	"github.com/edgectl/edgectl/pkg/build/sysimage"
	"github.com/edgectl/edgectl/pkg/cluster"
)

// BenchmarkRegistryPull (issue 13) measures the time for a new 1+3 cluster to
// run pods of 5 images of ~50 MB on every node: through a cold registry cache
// (the images come from a fixture upstream), through the warm cache, and with
// `image import` from the engine instead of a registry. Each time runs from
// the start of create until every pod runs. Run it with
//
//	go test -run '^$' -bench RegistryPull -benchtime 1x -timeout 60m ./tests/e2e/
//
// and record the figures in docs/benchmarks.md.
func BenchmarkRegistryPull(b *testing.B) {
	e := setup(b)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Minute)
	defer cancel()
	upstream := startUpstream(ctx, b, e)
	echo := goBinary(b, "./images/echo", "echo")
	var refs []string
	images := map[string]v1.Image{}
	for i := range 5 {
		ref := fmt.Sprintf("docker.io/library/big%d:1.0", i)
		img := bigImage(b, echo, 50<<20)
		upstream.push(ctx, b, fmt.Sprintf("library/big%d:1.0", i), img)
		refs, images[ref] = append(refs, ref), img
	}
	const reg = prefix + "bench-cache"
	upstream.cache(ctx, b, reg, 0, "docker.io")
	for ref, img := range images {
		dockerLoad(ctx, b, ref, img)
	}
	for _, mode := range []string{"cold", "warm", "import"} {
		start := time.Now()
		name := prefix + "bench-reg-" + mode
		cfg := &v1alpha1.Cluster{Name: name, Agents: 3}
		if mode != "import" {
			cfg.Registries = []string{reg}
		}
		e.create(b, cfg)
		if mode == "import" {
			if err := e.p.ImportImages(ctx, cluster.ImportOptions{Cluster: name, Images: refs}); err != nil {
				b.Fatal(err)
			}
		}
		c := e.client(b, name)
		for _, ref := range refs {
			runImage(ctx, b, c, ref)
		}
		b.ReportMetric(time.Since(start).Seconds(), mode+"-s")
		if err := e.p.Delete(ctx, name, e.kubeconfig); err != nil {
			b.Fatal(err)
		}
	}
}

// bigImage is the echo image with a file of size random (incompressible) bytes.
func bigImage(b testing.TB, echo string, size int) v1.Image {
	b.Helper()
	data := make([]byte, size)
	if _, err := rand.Read(data); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "blob")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	img, err := sysimage.Build(sysimage.Spec{Arch: "amd64", Entrypoint: []string{"/echo"}, User: "65534",
		Files: map[string]string{"/echo": echo, "/blob": path}})
	if err != nil {
		b.Fatal(err)
	}
	return img
}
