package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/distribution/reference"

	"github.com/edgectl/edgectl/internal/cli"
	edgeerrors "github.com/edgectl/edgectl/internal/errors"
)

// ImportOptions says which images go into which nodes of a cluster.
type ImportOptions struct {
	Cluster string
	// Images are names of images in the container engine (repo:tag).
	Images []string
	// Archive is an image tarball (`docker save`, or an OCI layout tar)
	// to import instead of Images.
	Archive string
	// Nodes are the nodes to import into (container names, or names
	// without the "edgectl-CLUSTER-" prefix); empty means every server and
	// agent.
	Nodes []string
}

// importCommand reads an image archive on stdin into the containerd
// namespace kubelet uses, unpacked for the node's platform.
var importCommand = []string{"ctr", "-n", "k8s.io", "images", "import", "-"}

// ImportImages copies images from the engine (or an archive file) into the
// containerd of a cluster's nodes, in parallel, so that pods run them with no
// registry: the way to test an image you just built. Nodes never pull from
// the engine, so an image name must resolve there first.
func (p *Provider) ImportImages(ctx context.Context, opts ImportOptions) (err error) {
	if (len(opts.Images) == 0) == (opts.Archive == "") {
		return edgeerrors.New(edgeerrors.KindInvalidConfig, "see `edgectl image import --help`",
			"give image names or --archive FILE (one of the two)")
	}
	var names []string
	for _, img := range opts.Images {
		named, err := reference.ParseNormalizedNamed(img)
		if err == nil && strings.HasPrefix(img, "sha256:") {
			err = errors.New("an image ID")
		}
		if err != nil {
			return edgeerrors.New(edgeerrors.KindInvalidConfig, "name the image as REPOSITORY[:TAG], as `docker images` shows it",
				"image %q: %v: an import needs a name for pods to use", img, err)
		}
		names = append(names, reference.TagNameOnly(named).String())
	}
	if opts.Cluster == "" {
		return edgeerrors.New(edgeerrors.KindInvalidConfig, "", "--cluster (-c) is required")
	}
	targets, err := p.selectNodes(ctx, opts.Cluster, opts.Nodes)
	if err != nil {
		return err
	}
	status := cli.NewStatus(p.logger.Writer())
	defer func() { status.End(err == nil) }()
	if opts.Archive != "" {
		if _, err := os.Stat(opts.Archive); err != nil {
			return edgeerrors.Wrap(edgeerrors.KindNotFound, "", fmt.Errorf("image archive: %w", err))
		}
		for _, group := range byPlatform(targets) {
			file, err := archiveFor(opts.Archive, group[0].Platform)
			if err != nil {
				return edgeerrors.Wrap(edgeerrors.KindImageMissing, "", fmt.Errorf("image archive %s: %w", opts.Archive, err))
			}
			if file != opts.Archive {
				defer os.Remove(file)
			}
			status.Start(fmt.Sprintf("Importing %s into %d %s node(s) of %q", opts.Archive, len(group), group[0].Platform, opts.Cluster))
			if err := inParallel(ctx, group, func(ctx context.Context, n Node) error {
				return p.importInto(ctx, n.Name, file, nil)
			}); err != nil {
				return err
			}
		}
		return nil
	}
	plans, err := p.planImports(ctx, opts, targets, names)
	if err != nil {
		return err
	}
	for _, pl := range plans {
		status.Start(fmt.Sprintf("Saving %s from the engine", strings.Join(pl.refs, ", ")))
		archive, err := p.saveImages(ctx, pl.refs)
		if err != nil {
			return err
		}
		defer os.Remove(archive)
		status.Start(fmt.Sprintf("Importing into %d %s node(s) of %q", len(pl.nodes), pl.platform, opts.Cluster))
		if err := inParallel(ctx, pl.nodes, func(ctx context.Context, n Node) error {
			return p.importInto(ctx, n.Name, archive, pl.names, pl.renames...)
		}); err != nil {
			return err
		}
	}
	return nil
}

// saveImages writes images from the engine to a temporary archive, so that
// every node reads the same file in parallel.
func (p *Provider) saveImages(ctx context.Context, refs []string) (string, error) {
	rc, err := p.rt.SaveImage(ctx, refs)
	if err != nil {
		return "", engineError(err)
	}
	defer rc.Close()
	f, err := os.CreateTemp("", "edgectl-images-*.tar")
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(f, rc); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", fmt.Errorf("save images: %w", err)
	}
	return f.Name(), f.Close()
}

// importInto streams the archive into one node's containerd, checks that
// every expected image name arrived, and gives each renamed image its name.
func (p *Provider) importInto(ctx context.Context, node, archive string, names []string, renames ...rename) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := p.run(ctx, node, f, importCommand...); err != nil {
		return err
	}
	if len(names) == 0 {
		return nil
	}
	out, err := p.run(ctx, node, nil, "ctr", "-n", "k8s.io", "images", "ls", "-q")
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, l := range strings.Fields(out) {
		have[l] = true
	}
	for _, n := range names {
		if !have[n] {
			return fmt.Errorf("%s is not in containerd after the import (is it built for this node's architecture?)", n)
		}
	}
	for _, r := range renames {
		if _, err := p.run(ctx, node, nil, "ctr", "-n", "k8s.io", "images", "tag", "--force", r.from, r.to); err != nil {
			return err
		}
		if _, err := p.run(ctx, node, nil, "ctr", "-n", "k8s.io", "images", "rm", r.from); err != nil {
			return err
		}
	}
	return nil
}
