package nodeimage

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	"github.com/edgectl/edgectl/pkg/version"
)

// engine keeps images by tag, as an engine with one platform per tag does.
type engine struct{ images map[string]v1.Image }

func (e *engine) ImageLabel(_ context.Context, ref, _ string) (string, bool, error) {
	_, ok := e.images[ref]
	return "", ok, nil
}

func (e *engine) SaveImage(_ context.Context, refs []string) (io.ReadCloser, error) {
	var buf bytes.Buffer
	t, err := name.NewTag(refs[0])
	if err != nil {
		return nil, err
	}
	err = tarball.Write(t, e.images[refs[0]], &buf)
	return io.NopCloser(&buf), err
}

func (e *engine) LoadImage(_ context.Context, archive io.Reader) error {
	data, err := io.ReadAll(archive)
	if err != nil {
		return err
	}
	m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		return err
	}
	for _, entry := range m {
		for _, tag := range entry.RepoTags {
			t, err := name.NewTag(tag)
			if err != nil {
				return err
			}
			img, err := tarball.Image(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }, &t)
			if err != nil {
				return err
			}
			e.images[tag] = img
		}
	}
	return nil
}

func archImage(t *testing.T, arch string) v1.Image {
	t.Helper()
	img, err := random.Image(2048, 2)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf.OS, cf.Architecture = "linux", arch
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestPushThenPullEachPlatform(t *testing.T) {
	ctx := context.Background()
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer reg.Close()
	host := strings.TrimPrefix(reg.URL, "http://")
	other := "linux/arm64"
	if v1alpha1.HostPlatform() == other {
		other = "linux/amd64"
	}
	local := "edgectl/node:dev"
	built := map[string]v1.Image{
		v1alpha1.HostPlatform(): archImage(t, strings.TrimPrefix(v1alpha1.HostPlatform(), "linux/")),
		other:                   archImage(t, strings.TrimPrefix(other, "linux/")),
	}
	src := &engine{images: map[string]v1.Image{}}
	for pf, img := range built {
		src.images[v1alpha1.ImageFor(local, pf)] = img
	}
	ref := host + "/edgectl/node:v9.9.9"
	platforms := []string{v1alpha1.HostPlatform(), other}
	var out bytes.Buffer
	if err := Push(ctx, src, local, platforms, ref, RemoteOptions{}, &out); err != nil {
		t.Fatalf("push: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "pushed "+ref) {
		t.Errorf("push says:\n%s", out.String())
	}

	dst := &engine{images: map[string]v1.Image{}}
	out.Reset()
	if err := Pull(ctx, dst, ref, platforms, RemoteOptions{}, &out); err != nil {
		t.Fatalf("pull: %v\n%s", err, out.String())
	}
	for pf, want := range built {
		tag := v1alpha1.ImageFor(ref, pf)
		got, ok := dst.images[tag]
		if !ok {
			t.Fatalf("pull loaded %v, not %s", keys(dst.images), tag)
		}
		gd, _ := got.ConfigName()
		wd, _ := want.ConfigName()
		if gd != wd {
			t.Errorf("%s: config %s, want %s", tag, gd, wd)
		}
	}
	if !strings.Contains(out.String(), "pulled "+ref+" ("+other+")") {
		t.Errorf("pull says:\n%s", out.String())
	}

	err := Pull(ctx, dst, ref, []string{"linux/s390x"}, RemoteOptions{}, io.Discard)
	if !errors.Is(err, ErrNoPlatform) || !strings.Contains(err.Error(), "it has linux/") {
		t.Errorf("a platform the index lacks: %v", err)
	}
	if err := Push(ctx, src, "edgectl/node:other", platforms, ref, RemoteOptions{}, io.Discard); err == nil || !strings.Contains(err.Error(), "edgectl image build") {
		t.Errorf("push of an image the engine lacks: %v", err)
	}
}

func TestCacheTransportAsksTheCacheWithNs(t *testing.T) {
	var got []string
	cache := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Host+" "+r.URL.Path+"?"+r.URL.RawQuery)
	}))
	defer cache.Close()
	addr := strings.TrimPrefix(cache.URL, "http://")
	c := &http.Client{Transport: CacheTransport(addr, "ghcr.io")}
	for _, u := range []string{"https://ghcr.io/v2/edgectl/node/manifests/v1?x=1", cache.URL + "/v2/"} {
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	want := []string{addr + " /v2/edgectl/node/manifests/v1?ns=ghcr.io&x=1", addr + " /v2/?"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("the cache saw %q, want %q", got, want)
	}
	if _, err := url.Parse(cache.URL); err != nil {
		t.Fatal(err)
	}
}

func TestPullable(t *testing.T) {
	for ref, want := range map[string]bool{
		"edgectl/node:dev":             false,
		"node:dev":                     false,
		"ghcr.io/edgectl/node:v0.1.0":  true,
		"localhost:5001/edgectl/node":  true,
		"localhost/edgectl/node:v1":    true,
		"registry.local/node@sha256:x": true,
	} {
		if Pullable(ref) != want {
			t.Errorf("Pullable(%q) = %v", ref, !want)
		}
	}
}

func keys(m map[string]v1.Image) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Outside a checkout, a release's image build names --source and the
// checkout of its version, and the pull of its image instead.
func TestFindSourceOutsideACheckout(t *testing.T) {
	old := version.Version
	defer func() { version.Version = old }()
	version.Version = "v1.2.3"
	_, err := FindSource(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "pass --source DIR") || !strings.Contains(err.Error(), "--branch v1.2.3") ||
		!strings.Contains(err.Error(), "edgectl image pull") {
		t.Errorf("outside a checkout: %v", err)
	}
}
