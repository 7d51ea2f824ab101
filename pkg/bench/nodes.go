package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/edgectl/edgectl/pkg/build/nodeimage"
)

// memScript prints "Rss: N" and "Pss: N" (kB) of every edgelet, containerd
// and shim process of a node. comm is cut at 15 characters, so the shim
// is "containerd-shim".
const memScript = `for p in $(pgrep -x edgelet) $(pgrep -x containerd) $(pgrep -x containerd-shim); do
  awk '/^(Rss|Pss):/ {print $1, $2}' /proc/$p/smaps_rollup
done`

// Memory is what a node's edgelet, containerd and shims hold, in MB. RSS
// counts every page a process maps; PSS splits the pages it shares with
// other processes between them. The nodes of a cluster run the same
// edgelet and containerd files from the same image layer, so the page
// cache holds their code once and RSS counts it again in every node: PSS
// is what one more node costs the host.
type Memory struct{ RSS, PSS float64 }

// memory returns the memory of the cluster's first server and the mean of
// its agents'.
func (r *runner) memory(ctx context.Context, cluster string) (server, agent Memory, err error) {
	nodes, err := r.p.Nodes(ctx, cluster)
	if err != nil {
		return server, agent, err
	}
	var sum Memory
	var agents float64
	for _, n := range nodes {
		if n.Role != "server" && n.Role != "agent" {
			continue
		}
		res, err := r.p.Runtime().Exec(ctx, n.Name, []string{"sh", "-c", memScript}, nil)
		if err != nil || res.ExitCode != 0 {
			return server, agent, fmt.Errorf("read the memory of %s: %v %s", n.Name, err, res.Stderr)
		}
		m, err := parseMemory(res.Stdout)
		if err != nil {
			return server, agent, fmt.Errorf("%s: %w", n.Name, err)
		}
		r.logf("%s: RSS %.0f MB, PSS %.0f MB (edgelet + containerd + shims)", n.Name, m.RSS, m.PSS)
		switch {
		case n.Role == "server" && n.Index == 0:
			server = m
		case n.Role == "agent":
			sum.RSS += m.RSS
			sum.PSS += m.PSS
			agents++
		}
	}
	if agents > 0 {
		agent = Memory{sum.RSS / agents, sum.PSS / agents}
	}
	return server, agent, nil
}

// parseMemory sums memScript's output. A node whose edgelet or containerd
// is not running has no figure: an error, not 0 MB.
func parseMemory(out string) (Memory, error) {
	var m Memory
	if strings.Count(out, "Rss:") < 2 {
		return m, fmt.Errorf("found no edgelet and containerd processes to measure:\n%s", out)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			return m, fmt.Errorf("unexpected line %q", line)
		}
		kb, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			return m, fmt.Errorf("line %q: %w", line, err)
		}
		switch f[0] {
		case "Rss:":
			m.RSS += kb / 1024
		case "Pss:":
			m.PSS += kb / 1024
		}
	}
	return m, nil
}

// image measures the node image: a cached build (each round, in a source
// tree only) and its size (the first round).
func (r *runner) image(ctx context.Context, round int) error {
	if _, err := nodeimage.FindSource("."); err != nil {
		r.notes["image-build-cached"] = "not measured: run the bench inside a checkout of edgectl"
	} else {
		res, err := r.edgectlOutput(ctx, "image", "build")
		if err != nil {
			return err
		}
		if strings.Contains(res.out, "up to date") {
			r.add("image-build-cached", res.Wall)
		} else {
			r.notes["image-build-cached"] = "the first round built the image: its time is not a cached build's"
		}
	}
	if round != 1 {
		return nil
	}
	ref := r.imageRef()
	r.logf("measuring %s (saved from the engine and gzipped)", ref)
	rc, err := r.p.Runtime().SaveImage(ctx, []string{ref})
	if err != nil {
		return fmt.Errorf("save %s: %w", ref, err)
	}
	file := filepath.Join(r.dir, "image.tar")
	f, err := os.Create(file)
	if err != nil {
		rc.Close()
		return err
	}
	_, err = f.ReadFrom(rc)
	rc.Close()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("save %s: %w", ref, err)
	}
	defer os.Remove(file)
	tag, err := name.NewTag(ref)
	if err != nil {
		return err
	}
	img, err := tarball.ImageFromPath(file, &tag)
	if err != nil {
		return err
	}
	raw, gz, err := nodeimage.ImageSizes(img)
	if err != nil {
		return err
	}
	r.add("image-size", float64(raw)/1e6)
	r.add("image-compressed", float64(gz)/1e6)
	return nil
}

// imageRef is the node image the bench's clusters run.
func (r *runner) imageRef() string {
	if r.opts.Image != "" {
		return r.opts.Image
	}
	return r.defaultImage
}
