package nodeimage

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/edgectl/edgectl/internal/ocitar"
	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
)

// A node image travels as one multi-platform OCI index under one
// reference (REGISTRY/REPO:VERSION), as a release publishes it. In an
// engine that keeps one platform per tag (Docker 20.10), each platform's
// image has its own local tag: the reference for the host's platform,
// REF-ARCH for another (v1alpha1.ImageFor).

// SaveEngine is what Push needs of the container engine.
type SaveEngine interface {
	ImageLabel(ctx context.Context, ref, label string) (string, bool, error)
	SaveImage(ctx context.Context, refs []string) (io.ReadCloser, error)
}

// LoadEngine is what Pull needs of the container engine.
type LoadEngine interface {
	LoadImage(ctx context.Context, archive io.Reader) error
}

// RemoteOptions say how a registry is reached.
type RemoteOptions struct {
	// Transport, when set, carries every request (a registry cache's, see
	// CacheTransport); otherwise http.DefaultTransport.
	Transport http.RoundTripper
	// Insecure allows plain HTTP to a registry that is not on localhost.
	Insecure bool
}

func (o RemoteOptions) parse(ref string) (name.Reference, error) {
	var opts []name.Option
	if o.Insecure {
		opts = append(opts, name.Insecure)
	}
	r, err := name.ParseReference(ref, opts...)
	if err != nil {
		return nil, fmt.Errorf("image reference %q: %w", ref, err)
	}
	return r, nil
}

func (o RemoteOptions) remote(ctx context.Context, more ...remote.Option) []remote.Option {
	t := o.Transport
	if t == nil {
		t = http.DefaultTransport
	}
	return append([]remote.Option{remote.WithContext(ctx), remote.WithTransport(t)}, more...)
}

// Pullable says whether a missing image is worth a pull: a reference that
// names its registry (ghcr.io/..., localhost:5001/...). A short name such
// as edgectl/node:dev is a local build, which Docker Hub does not hold.
func Pullable(ref string) bool {
	_, named := RegistryHost(ref)
	return named
}

// RegistryHost is the registry of ref, and whether ref names it: a short
// name is Docker Hub's (docker.io).
func RegistryHost(ref string) (string, bool) {
	first, _, ok := strings.Cut(ref, "/")
	if ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return first, true
	}
	return "docker.io", false
}

// Push writes the engine's node images of platforms (local, or
// local-ARCH for another platform than the host's) to ref as one OCI
// index.
func Push(ctx context.Context, engine SaveEngine, local string, platforms []string, ref string, o RemoteOptions, out io.Writer) error {
	dst, err := o.parse(ref)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "edgectl-push-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var images []v1.Image
	for i, pf := range platforms {
		tag := v1alpha1.ImageFor(local, pf)
		if _, ok, err := engine.ImageLabel(ctx, tag, LabelInputs); err != nil {
			return err
		} else if !ok {
			return fmt.Errorf("node image %s (%s) is not in the engine: build it with `edgectl image build --platform %s`", tag, pf, pf)
		}
		fmt.Fprintf(out, " • reading %s from the engine\n", tag)
		file := fmt.Sprintf("%s/%d.tar", dir, i)
		if err := saveTo(ctx, engine, tag, file); err != nil {
			return fmt.Errorf("save %s: %w", tag, err)
		}
		t, err := name.NewTag(tag)
		if err != nil {
			return err
		}
		img, err := tarball.ImageFromPath(file, &t)
		if err != nil {
			return fmt.Errorf("read %s: %w", tag, err)
		}
		images = append(images, img)
	}
	index, err := ocitar.PlatformIndex(images)
	if err != nil {
		return err
	}
	updates := make(chan v1.Update, 16)
	done := progress(out, "pushing "+ref, updates)
	err = remote.WriteIndex(dst, index, o.remote(ctx, remote.WithProgress(updates))...)
	<-done
	if err != nil {
		return fmt.Errorf("push %s: %w", ref, err)
	}
	d, err := index.Digest()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, " ✓ pushed %s (%s) as %s\n", ref, strings.Join(platforms, ", "), d)
	return nil
}

func saveTo(ctx context.Context, engine SaveEngine, tag, file string) error {
	rc, err := engine.SaveImage(ctx, []string{tag})
	if err != nil {
		return err
	}
	defer rc.Close()
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, rc); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ErrNoPlatform is a reference without an image for a platform asked for.
var ErrNoPlatform = ocitar.ErrNoPlatform

// Pull fetches ref's image of each platform into the engine, tagged ref
// (the host's platform) or ref-ARCH, and reports progress to out.
func Pull(ctx context.Context, engine LoadEngine, ref string, platforms []string, o RemoteOptions, out io.Writer) error {
	src, err := o.parse(ref)
	if err != nil {
		return err
	}
	desc, err := remote.Get(src, o.remote(ctx)...)
	if err != nil {
		return fmt.Errorf("pull %s: %w", ref, err)
	}
	for _, pf := range platforms {
		img, err := platformImage(desc, pf)
		if err != nil {
			return fmt.Errorf("pull %s: %w", ref, err)
		}
		tag, err := name.NewTag(v1alpha1.ImageFor(ref, pf), name.WeakValidation)
		if err != nil {
			return err
		}
		updates := make(chan v1.Update, 16)
		done := progress(out, fmt.Sprintf("pulling %s (%s)", ref, pf), updates)
		pr, pw := io.Pipe()
		go func() {
			err := tarball.Write(tag, img, pw, tarball.WithProgress(updates))
			close(updates) // tarball.Write leaves it open (remote.Write closes its own)
			pw.CloseWithError(err)
		}()
		err = engine.LoadImage(ctx, pr)
		pr.CloseWithError(err)
		<-done
		if err != nil {
			return fmt.Errorf("pull %s (%s): %w", ref, pf, err)
		}
		fmt.Fprintf(out, " ✓ pulled %s (%s) as %s\n", ref, pf, tag)
	}
	return nil
}

// platformImage is desc's image for platform: its index's entry, or desc
// itself when it is one image of that platform.
func platformImage(desc *remote.Descriptor, platform string) (v1.Image, error) {
	want, err := v1.ParsePlatform(platform)
	if err != nil {
		return nil, err
	}
	if !desc.MediaType.IsIndex() {
		img, err := desc.Image()
		if err != nil {
			return nil, err
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, err
		}
		if cf.OS != want.OS || cf.Architecture != want.Architecture {
			return nil, fmt.Errorf("%w %s: it is one image, of %s/%s", ErrNoPlatform, platform, cf.OS, cf.Architecture)
		}
		return img, nil
	}
	index, err := desc.ImageIndex()
	if err != nil {
		return nil, err
	}
	return ocitar.ImageFor(index, platform)
}

// progress prints what's updates say, at most every 2 s and once at the
// end; done closes when updates does.
func progress(out io.Writer, what string, updates <-chan v1.Update) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		var last time.Time
		var u v1.Update
		for u = range updates {
			if time.Since(last) >= 2*time.Second {
				last = time.Now()
				fmt.Fprintf(out, " • %s: %s\n", what, mb(u))
			}
		}
	}()
	return done
}

func mb(u v1.Update) string {
	if u.Total <= 0 {
		return fmt.Sprintf("%.1f MB", float64(u.Complete)/1e6)
	}
	return fmt.Sprintf("%.1f of %.1f MB", float64(u.Complete)/1e6, float64(u.Total)/1e6)
}

// CacheTransport sends every request for registry host upstream to an
// edgectl registry cache at addr (HOST:PORT, plain HTTP), which picks the
// upstream by the ns query parameter, as containerd asks a mirror.
func CacheTransport(addr, upstream string) http.RoundTripper {
	return cacheTransport{addr: addr, upstream: upstream, next: http.DefaultTransport}
}

type cacheTransport struct {
	addr, upstream string
	next           http.RoundTripper
}

func (c cacheTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host != c.upstream {
		return c.next.RoundTrip(req)
	}
	r := req.Clone(req.Context())
	r.URL.Scheme, r.URL.Host, r.Host = "http", c.addr, c.addr
	q := r.URL.Query()
	q.Set("ns", c.upstream)
	r.URL.RawQuery = q.Encode()
	return c.next.RoundTrip(r)
}
