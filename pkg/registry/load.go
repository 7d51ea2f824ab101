package registry

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
)

// Load pushes images into the registry: an image named by one of its
// upstreams (docker.io/library/nginx:1.27) into that upstream's cache, so
// that nodes pull it by that name with the upstream unreachable; an image
// named localhost:PORT/... into the local registry. It goes through the
// registry's host port.
func (m *Manager) Load(ctx context.Context, reg string, images map[string]v1.Image) error {
	r, err := m.Get(ctx, reg)
	if err != nil {
		return err
	}
	if r.Port == 0 || r.State != "running" {
		return edgeerrors.New(edgeerrors.KindInvalidConfig, "create the registry with --port (and start it)",
			"registry %q has no host port to load through (state %s)", reg, r.State)
	}
	local := "localhost:" + strconv.Itoa(r.Port)
	for ref, img := range images {
		target, ns, err := loadTarget(ref, local, r.Upstreams)
		if err != nil {
			return edgeerrors.Wrap(edgeerrors.KindInvalidConfig,
				fmt.Sprintf("name it by an upstream of %s (%v) or tag it %s/...", reg, r.Upstreams, local), err)
		}
		dst, err := name.NewTag(fmt.Sprintf("127.0.0.1:%d/%s:%s", r.Port, target.Context().RepositoryStr(), target.TagStr()))
		if err != nil {
			return err
		}
		m.logger.Infof("Loading %s into %s", ref, reg)
		tr := http.RoundTripper(http.DefaultTransport)
		if ns != "" {
			tr = nsTransport{ns: ns, next: tr}
		}
		if err := remote.Write(dst, img, remote.WithContext(ctx), remote.WithTransport(tr)); err != nil {
			return fmt.Errorf("load %s: %w", ref, err)
		}
	}
	return nil
}

// loadTarget resolves where ref goes: its repository and tag, and the
// upstream whose cache holds it ("" for the local registry).
func loadTarget(ref, local string, upstreams []string) (name.Tag, string, error) {
	tag, err := name.NewTag(ref)
	if err != nil {
		return name.Tag{}, "", fmt.Errorf("image %q: %w", ref, err)
	}
	host := tag.RegistryStr()
	if host == name.DefaultRegistry {
		host = "docker.io"
	}
	if host == local {
		return tag, "", nil
	}
	for _, u := range upstreams {
		if u == host {
			return tag, host, nil
		}
	}
	return name.Tag{}, "", fmt.Errorf("image %q: the registry does not cache %s", ref, host)
}

// nsTransport adds ?ns=HOST to every request, as containerd does for a
// mirror, so the registry routes it to that upstream's cache, and seed=1,
// so the cache's storage takes it instead of its proxy.
type nsTransport struct {
	ns   string
	next http.RoundTripper
}

func (t nsTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	q := req.URL.Query()
	q.Set("ns", t.ns)
	q.Set("seed", "1")
	req.URL.RawQuery = q.Encode()
	return t.next.RoundTrip(req)
}

// LoadFromEngine loads images of the engine into the registry (Load) and
// returns how many.
func (m *Manager) LoadFromEngine(ctx context.Context, reg string, refs []string) (int, error) {
	dir, err := os.MkdirTemp("", "edgectl-load-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	images, err := m.imagesFromEngine(ctx, refs, dir)
	if err != nil {
		return 0, err
	}
	return len(images), m.Load(ctx, reg, images)
}

// LoadArchive loads every tagged image of a `docker save` archive (Load)
// and returns how many.
func (m *Manager) LoadArchive(ctx context.Context, reg, path string) (int, error) {
	images, err := imagesFromArchive(path)
	if err != nil {
		return 0, err
	}
	return len(images), m.Load(ctx, reg, images)
}

// imagesFromEngine saves refs from the engine into dir and opens them.
func (m *Manager) imagesFromEngine(ctx context.Context, refs []string, dir string) (map[string]v1.Image, error) {
	rc, err := m.rt.SaveImage(ctx, refs)
	if err != nil {
		return nil, edgeerrors.Wrap(edgeerrors.KindNotFound, "see `docker images`", fmt.Errorf("save %v from the engine: %w", refs, err))
	}
	defer rc.Close()
	path := filepath.Join(dir, "images.tar")
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(f, rc); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return imagesFromArchive(path)
}

// imagesFromArchive opens every tagged image of a `docker save` archive.
func imagesFromArchive(path string) (map[string]v1.Image, error) {
	opener := func() (io.ReadCloser, error) { return os.Open(path) }
	manifest, err := tarball.LoadManifest(opener)
	if err != nil {
		return nil, edgeerrors.Wrap(edgeerrors.KindInvalidConfig, "pass an archive from `docker save`", fmt.Errorf("archive %s: %w", path, err))
	}
	out := map[string]v1.Image{}
	for _, d := range manifest {
		for _, ref := range d.RepoTags {
			tag, err := name.NewTag(ref)
			if err != nil {
				return nil, err
			}
			img, err := tarball.Image(opener, &tag)
			if err != nil {
				return nil, fmt.Errorf("archive %s: %s: %w", path, ref, err)
			}
			out[ref] = img
		}
	}
	if len(out) == 0 {
		return nil, edgeerrors.New(edgeerrors.KindInvalidConfig, "tag the images before saving them", "archive %s holds no tagged image", path)
	}
	return out, nil
}
