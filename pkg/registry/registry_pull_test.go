package registry

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
)

// PullThrough sends a pull of a cached upstream to the registry's host
// port with ?ns=, and refuses a registry without a port or without that
// upstream, with the next step.
func TestPullThrough(t *testing.T) {
	var seen string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = r.URL.RawQuery }))
	defer srv.Close()
	_, port, _ := strings.Cut(strings.TrimPrefix(srv.URL, "http://127.0.0.1"), ":")
	r := &Registry{Name: "cache", Upstreams: []string{"ghcr.io"}}
	if _, err := r.PullThrough("ghcr.io"); err == nil || !strings.Contains(edgeerrors.Hint(err), "--port") {
		t.Errorf("no host port: %v", err)
	}
	var err error
	if r.Port, err = strconv.Atoi(port); err != nil {
		t.Fatal(err)
	}
	if _, err := r.PullThrough("docker.io"); err == nil || !strings.Contains(err.Error(), "does not cache docker.io (it caches ghcr.io)") {
		t.Errorf("an upstream it lacks: %v", err)
	}
	tr, err := r.PullThrough("ghcr.io")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: tr}).Get("https://ghcr.io/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if seen != "ns=ghcr.io" {
		t.Errorf("the registry saw query %q, want ns=ghcr.io", seen)
	}
}
