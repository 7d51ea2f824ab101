package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/distribution/reference"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	"github.com/edgectl/edgectl/internal/ocitar"
	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
)

// importPlan is what the nodes of one platform get from the engine.
type importPlan struct {
	platform string
	nodes    []Node
	refs     []string // engine images to save
	names    []string // the names they arrive under in containerd
	renames  []rename // arch variants, renamed to the image asked for
}

// rename gives an imported image the name pods use.
type rename struct{ from, to string }

// planImports picks, for each platform the target nodes run, the engine
// image of that platform for every image asked for: the image itself, or
// its arch variant IMAGE-ARCH (an engine such as Docker 20.10 keeps one
// platform per tag; `docker build --platform linux/arm64 -t app:1-arm64`
// makes one). Nodes of a platform with no image are skipped with a warning
// (their pods select the other architecture); when the nodes were named, or
// no node at all can take the images, it is an error.
func (p *Provider) planImports(ctx context.Context, opts ImportOptions, targets []Node, names []string) ([]importPlan, error) {
	var plans []importPlan
	for _, img := range opts.Images {
		pf, err := p.rt.ImagePlatform(ctx, img)
		if err != nil {
			return nil, engineError(err)
		}
		if pf == "" {
			return nil, edgeerrors.New(edgeerrors.KindImageMissing,
				fmt.Sprintf("build or pull it into the engine first (`docker build -t %s .`); nodes do not pull from the engine", img),
				"image %q is not in the container engine", img)
		}
	}
	for _, group := range byPlatform(targets) {
		plans = append(plans, importPlan{platform: group[0].Platform, nodes: group})
	}
	var ready []importPlan
	for _, pl := range plans {
		var missing []string
		for i, img := range opts.Images {
			ref, err := p.imageOf(ctx, img, pl.platform)
			if err != nil {
				return nil, err
			}
			if ref == "" {
				missing = append(missing, img)
				continue
			}
			named, err := reference.ParseNormalizedNamed(ref)
			if err != nil {
				return nil, err
			}
			pl.refs = append(pl.refs, ref)
			pl.names = append(pl.names, reference.TagNameOnly(named).String())
			if ref != img {
				pl.renames = append(pl.renames, rename{from: pl.names[len(pl.names)-1], to: names[i]})
			}
		}
		if len(missing) == 0 {
			ready = append(ready, pl)
			continue
		}
		arch := strings.TrimPrefix(pl.platform, "linux/")
		problem := fmt.Sprintf("the engine has no %s image of %s (nor %s)", pl.platform, strings.Join(missing, ", "), v1alpha1.TagFor(missing[0], arch))
		fix := fmt.Sprintf("build one with `docker build --platform %s -t %s .`, or import a multi-platform OCI archive with --archive",
			pl.platform, v1alpha1.TagFor(missing[0], arch))
		if len(opts.Nodes) > 0 {
			return nil, edgeerrors.New(edgeerrors.KindImageMissing, fix, "node %s: %s", pl.nodes[0].Name, problem)
		}
		p.logger.Warnf("skipping %d %s node(s) (%s): %s; pods that use it must run on another architecture (nodeSelector kubernetes.io/arch), or %s",
			len(pl.nodes), pl.platform, nodeNames(pl.nodes), problem, fix)
	}
	if len(ready) == 0 {
		return nil, edgeerrors.New(edgeerrors.KindImageMissing, "build the image for the nodes' platform",
			"no node of cluster %q runs the platform of %s", opts.Cluster, strings.Join(opts.Images, ", "))
	}
	return ready, nil
}

// imageOf returns the engine image of img for platform: img, or its arch
// variant, or "" when the engine has neither.
func (p *Provider) imageOf(ctx context.Context, img, platform string) (string, error) {
	for _, ref := range []string{img, v1alpha1.TagFor(img, strings.TrimPrefix(platform, "linux/"))} {
		pf, err := p.rt.ImagePlatform(ctx, ref)
		if err != nil {
			return "", engineError(err)
		}
		if pf == platform {
			return ref, nil
		}
	}
	return "", nil
}

// containerPlatform is the platform of a node container made from image
// (the cluster's) as ImageFor(image, platform); containerImage is what the
// engine says the container runs. A name that matches no platform (the tag
// moved on since, and the engine shows an ID) is looked up.
func (p *Provider) containerPlatform(ctx context.Context, image, containerImage string) (string, error) {
	for _, pf := range v1alpha1.Platforms {
		if v1alpha1.ImageFor(image, pf) == containerImage {
			return pf, nil
		}
	}
	pf, err := p.rt.ImagePlatform(ctx, containerImage)
	if err != nil {
		return "", engineError(err)
	}
	if pf == "" {
		return v1alpha1.HostPlatform(), nil
	}
	return pf, nil
}

// byPlatform groups nodes by platform, in the order they come.
func byPlatform(nodes []Node) [][]Node {
	var groups [][]Node
	for _, n := range nodes {
		i := slices.IndexFunc(groups, func(g []Node) bool { return g[0].Platform == n.Platform })
		if i < 0 {
			groups = append(groups, nil)
			i = len(groups) - 1
		}
		groups[i] = append(groups[i], n)
	}
	return groups
}

// archiveFor is the image archive the nodes of platform import: of a
// multi-platform OCI archive, a copy with that platform's images only
// (containerd picks its own platform from an index, and an emulated node's
// containerd is the host's); any other archive as it is.
func archiveFor(archive, platform string) (string, error) {
	f, err := os.CreateTemp("", "edgectl-images-*.tar")
	if err != nil {
		return "", err
	}
	f.Close()
	err = ocitar.ForPlatform(archive, f.Name(), platform)
	if err == nil {
		return f.Name(), nil
	}
	os.Remove(f.Name())
	if errors.Is(err, ocitar.ErrNotIndexed) {
		return archive, nil
	}
	return "", err
}

func nodeNames(nodes []Node) string {
	var s []string
	for _, n := range nodes {
		s = append(s, n.Name)
	}
	return strings.Join(s, ", ")
}
