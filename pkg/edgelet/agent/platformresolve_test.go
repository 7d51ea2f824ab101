package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// testRegistry serves manifests by repo:reference; with token set it wants
// that bearer token, which its /token realm hands out to anyone.
type testRegistry struct {
	manifests map[string]struct{ mediaType, body string }
	token     string
	requests  atomic.Int32
	queries   []string
}

func (f *testRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	f.queries = append(f.queries, r.URL.RawQuery)
	if r.URL.Path == "/token" {
		if r.URL.Query().Get("scope") != "repository:e2e/echo:pull" || r.URL.Query().Get("service") != "test" {
			http.Error(w, "bad scope "+r.URL.RawQuery, http.StatusBadRequest)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"token": f.token})
		return
	}
	if f.token != "" && r.Header.Get("Authorization") != "Bearer "+f.token {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="http://%s/token",service="test",scope="repository:e2e/echo:pull"`, r.Host))
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	m := manifestRequest.FindStringSubmatch(r.URL.Path)
	if m == nil {
		http.NotFound(w, r)
		return
	}
	got, ok := f.manifests[m[1]+":"+m[2]]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", got.mediaType)
	_, _ = io.WriteString(w, got.body)
}

// newTestRegistry holds e2e/echo:multi (an index of amd64 and arm64),
// e2e/echo:amd64 (an index of amd64 alone) and e2e/echo:single (a
// manifest); it returns the registry and the arm64 manifest's digest.
func newTestRegistry() (*testRegistry, string) {
	f := &testRegistry{manifests: map[string]struct{ mediaType, body string }{}}
	put := func(ref, mediaType, body string) string {
		d := sha256Digest([]byte(body))
		f.manifests["e2e/echo:"+ref] = struct{ mediaType, body string }{mediaType, body}
		f.manifests["e2e/echo:"+d] = struct{ mediaType, body string }{mediaType, body}
		return d
	}
	amd := put("single", mediaOCIManifest, `{"schemaVersion":2,"config":{"digest":"sha256:aa"},"arch":"amd64"}`)
	arm := put("arm", mediaOCIManifest, `{"schemaVersion":2,"config":{"digest":"sha256:bb"},"arch":"arm64"}`)
	entry := func(d, arch, variant string) string {
		body := f.manifests["e2e/echo:"+d].body
		return fmt.Sprintf(`{"mediaType":%q,"digest":%q,"size":%d,"platform":{"os":"linux","architecture":%q,"variant":%q}}`, mediaOCIManifest, d, len(body), arch, variant)
	}
	put("multi", mediaDockerList, `{"schemaVersion":2,"manifests":[`+entry(amd, "amd64", "")+`,`+entry(arm, "arm64", "v8")+`]}`)
	put("amd64", mediaOCIIndex, `{"schemaVersion":2,"manifests":[`+entry(amd, "amd64", "")+`]}`)
	return f, arm
}

func TestPlatformResolverAnswersTheNodesManifest(t *testing.T) {
	reg, arm := newTestRegistry()
	ts := httptest.NewServer(reg)
	defer ts.Close()
	for _, token := range []string{"", "secret-token"} {
		reg.token = token
		r, err := newPlatformResolver("linux/arm64", nil, map[string]string{"registry.example": ts.URL})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(r)
		for _, method := range []string{http.MethodHead, http.MethodGet} {
			req, _ := http.NewRequest(method, srv.URL+"/v2/e2e/echo/manifests/multi?ns=registry.example", nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			want := reg.manifests["e2e/echo:"+arm].body
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Docker-Content-Digest") != arm ||
				resp.Header.Get("Content-Type") != mediaOCIManifest || resp.ContentLength != int64(len(want)) {
				t.Errorf("%s (token %q): %s %v, want the arm64 manifest %s", method, token, resp.Status, resp.Header, arm)
			}
			if method == http.MethodGet && string(body) != want {
				t.Errorf("GET body %q, want %q", body, want)
			}
		}
		srv.Close()
	}
}

// Whatever the resolver cannot answer goes on to containerd's next host.
func TestPlatformResolverLeavesTheRestToContainerd(t *testing.T) {
	reg, arm := newTestRegistry()
	ts := httptest.NewServer(reg)
	defer ts.Close()
	r, err := newPlatformResolver("linux/arm64", nil, map[string]string{"registry.example": ts.URL})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r)
	defer srv.Close()
	for what, path := range map[string]string{
		"a single-platform image":          "/v2/e2e/echo/manifests/single?ns=registry.example",
		"an index without the platform":    "/v2/e2e/echo/manifests/amd64?ns=registry.example",
		"a digest":                         "/v2/e2e/echo/manifests/" + arm + "?ns=registry.example",
		"no ns (not asked as a mirror)":    "/v2/e2e/echo/manifests/multi",
		"a blob":                           "/v2/e2e/echo/blobs/" + arm + "?ns=registry.example",
		"a tag the registry does not hold": "/v2/e2e/echo/manifests/nope?ns=registry.example",
	} {
		resp, err := http.Head(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %s, want 404", what, resp.Status)
		}
	}
	if _, err := newPlatformResolver("arm64", nil, nil); err == nil {
		t.Error("a platform without an OS was taken")
	}
}

// The mirror is asked first, with ?ns=, as containerd asks it; when it
// fails, the registry's own address.
func TestPlatformResolverAsksTheMirrorFirst(t *testing.T) {
	reg, arm := newTestRegistry()
	ts := httptest.NewServer(reg)
	defer ts.Close()
	mirror, _ := newTestRegistry()
	ms := httptest.NewServer(mirror)
	defer ms.Close()
	r, err := newPlatformResolver("linux/arm64", map[string]string{"registry.example": ms.URL}, map[string]string{"registry.example": ts.URL})
	if err != nil {
		t.Fatal(err)
	}
	d, _, err := r.resolve(context.Background(), "registry.example", "e2e/echo", "multi", false)
	if err != nil || d.Digest != arm || reg.requests.Load() != 0 || len(mirror.queries) != 1 || mirror.queries[0] != "ns=registry.example" {
		t.Errorf("through the mirror: %+v %v; mirror asked %v, registry %d times", d, err, mirror.queries, reg.requests.Load())
	}
	ms.Close() // the mirror is down
	d, _, err = r.resolve(context.Background(), "registry.example", "e2e/echo", "multi", false)
	if err != nil || d.Digest != arm || reg.requests.Load() != 1 {
		t.Errorf("mirror down: %+v %v; registry asked %d times", d, err, reg.requests.Load())
	}
	if got := r.upstreams("docker.io"); len(got) != 1 || got[0] != "https://registry-1.docker.io/v2" {
		t.Errorf("docker.io: %v", got)
	}
	if got := r.upstreams("localhost:5001"); len(got) != 1 || got[0] != "http://localhost:5001/v2" {
		t.Errorf("localhost:5001: %v", got)
	}
}

func TestWriteMirrorsWithAResolver(t *testing.T) {
	dir := t.TempDir()
	mirrors := map[string]string{"docker.io": "http://edgectl-registry-cache:5000"}
	if err := writeMirrors(dir, mirrors, nil, "http://127.0.0.1:4321"); err != nil {
		t.Fatal(err)
	}
	for host, hostsFor := range map[string][]string{"docker.io": {"127.0.0.1:4321", "edgectl-registry-cache:5000"}, defaultHosts: {"127.0.0.1:4321"}} {
		data, err := os.ReadFile(filepath.Join(dir, host, "hosts.toml"))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, line := range strings.Split(string(data), "\n") {
			if rest, ok := strings.CutPrefix(line, `[host."http://`); ok {
				got = append(got, strings.TrimSuffix(rest, `"]`))
			}
		}
		if strings.Join(got, " ") != strings.Join(hostsFor, " ") {
			t.Errorf("%s asks %v, want %v:\n%s", host, got, hostsFor, data)
		}
		// containerd resolves a tag only on a host that can pull too.
		if !strings.Contains(string(data), "127.0.0.1:4321\"]\n  capabilities = [\"pull\", \"resolve\"]\n") {
			t.Errorf("%s: the resolver is not a host containerd resolves tags on:\n%s", host, data)
		}
	}
	if err := writeMirrors(dir, mirrors, nil, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, defaultHosts)); !os.IsNotExist(err) {
		t.Errorf("_default kept without a resolver: %v", err)
	}
}
