package docker

import (
	"bytes"
	"context"
	"fmt"
	"io"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
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

// RemoveImage deletes an image; one in use by a container is kept.
func (p *Provider) RemoveImage(ctx context.Context, id string) error {
	_, err := p.cli.ImageRemove(ctx, id, image.RemoveOptions{PruneChildren: true})
	return err
}
