package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"

	"github.com/edgectl/edgectl/internal/runtime"
)

// inspectImage inspects a local image; absent, it returns nil and no error.
func (p *Provider) inspectImage(ctx context.Context, ref string) (*image.InspectResponse, error) {
	insp, err := p.cli.ImageInspect(ctx, ref)
	if cerrdefs.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &insp, nil
}

// ImageLabel returns a label of a local image.
func (p *Provider) ImageLabel(ctx context.Context, ref, label string) (string, bool, error) {
	insp, err := p.inspectImage(ctx, ref)
	if insp == nil || err != nil {
		return "", false, err
	}
	if insp.Config == nil {
		return "", true, nil
	}
	return insp.Config.Labels[label], true, nil
}

// LoadImage loads an image archive.
func (p *Provider) LoadImage(ctx context.Context, archive io.Reader) error {
	resp, err := p.cli.ImageLoad(ctx, archive, client.ImageLoadWithQuiet(true))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if bytes.Contains(out, []byte(`"error"`)) {
		return fmt.Errorf("engine refused the image: %s", out)
	}
	return nil
}

// SaveImage streams local images as one archive (the format of `docker save`).
func (p *Provider) SaveImage(ctx context.Context, refs []string) (io.ReadCloser, error) {
	return p.cli.ImageSave(ctx, refs)
}

// ImageID returns the ID of a local image, or "" when it does not exist.
func (p *Provider) ImageID(ctx context.Context, ref string) (string, error) {
	insp, err := p.inspectImage(ctx, ref)
	if insp == nil || err != nil {
		return "", err
	}
	return insp.ID, nil
}

// ImagePlatform returns "os/architecture" of ref, "" when it is absent.
func (p *Provider) ImagePlatform(ctx context.Context, ref string) (string, error) {
	insp, err := p.inspectImage(ctx, ref)
	if insp == nil || err != nil {
		return "", err
	}
	return insp.Os + "/" + insp.Architecture, nil
}

// ReadImageFiles reads regular files of an image through a container that
// is created and never started, then removed. A path that is a symlink is
// read through it; a path ending in "/" is a directory, read whole (its
// symlinks to its own files included); a missing path is ErrNotFound.
func (p *Provider) ReadImageFiles(ctx context.Context, ref string, paths []string) (map[string][]byte, error) {
	resp, err := p.cli.ContainerCreate(ctx, &container.Config{Image: ref, Entrypoint: []string{"/nonexistent"}},
		&container.HostConfig{NetworkMode: "none"}, nil, nil, "")
	if err != nil {
		return nil, fmt.Errorf("read files of %s: %w", ref, err)
	}
	defer func() {
		_ = p.cli.ContainerRemove(context.WithoutCancel(ctx), resp.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
	}()
	files := map[string][]byte{}
	for _, want := range paths {
		if strings.HasSuffix(want, "/") {
			if err := p.readDir(ctx, resp.ID, want, files); err != nil {
				return nil, fmt.Errorf("%s of %s: %w", want, ref, err)
			}
			continue
		}
		path := want
		for hops := 0; ; hops++ {
			data, link, err := p.readOne(ctx, resp.ID, path)
			if err != nil {
				return nil, fmt.Errorf("%s of %s: %w", want, ref, err)
			}
			if link == "" {
				files[want] = data
				break
			}
			if hops == 8 {
				return nil, fmt.Errorf("%s of %s: too many symlinks", want, ref)
			}
			if !strings.HasPrefix(link, "/") {
				link = filepath.Join(filepath.Dir(path), link)
			}
			path = link
		}
	}
	return files, nil
}

// readDir adds the files under dir (ending in "/") to files.
func (p *Provider) readDir(ctx context.Context, id, dir string, files map[string][]byte) error {
	rc, _, err := p.cli.CopyFromContainer(ctx, id, dir)
	if cerrdefs.IsNotFound(err) {
		return runtime.ErrNotFound
	}
	if err != nil {
		return err
	}
	defer rc.Close()
	// Entries are named after the directory's base name.
	parent := filepath.Dir(strings.TrimSuffix(dir, "/"))
	links := map[string]string{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		name := filepath.Join(parent, h.Name)
		switch h.Typeflag {
		case tar.TypeReg:
			if files[name], err = io.ReadAll(tr); err != nil {
				return err
			}
		case tar.TypeSymlink:
			links[name] = filepath.Join(filepath.Dir(name), h.Linkname)
		}
	}
	for name, target := range links {
		if data, ok := files[target]; ok {
			files[name] = data
		}
	}
	return nil
}

// readOne returns a regular file's content, or a symlink's target.
func (p *Provider) readOne(ctx context.Context, id, path string) ([]byte, string, error) {
	rc, _, err := p.cli.CopyFromContainer(ctx, id, path)
	if cerrdefs.IsNotFound(err) {
		return nil, "", runtime.ErrNotFound
	}
	if err != nil {
		return nil, "", err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	h, err := tr.Next()
	if err != nil {
		return nil, "", err
	}
	if h.Typeflag == tar.TypeSymlink {
		return nil, h.Linkname, nil
	}
	data, err := io.ReadAll(tr)
	return data, "", err
}

// RemoveImage deletes an image; one in use by a container is kept.
func (p *Provider) RemoveImage(ctx context.Context, id string) error {
	_, err := p.cli.ImageRemove(ctx, id, image.RemoveOptions{PruneChildren: true})
	return err
}
