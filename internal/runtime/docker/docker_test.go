package docker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/docker/docker/client"

	"github.com/edgectl/edgectl/internal/runtime"
)

func TestSplitExitStatus(t *testing.T) {
	for in, want := range map[string]struct {
		rest string
		code int
		ok   bool
	}{
		"\nedgectl-exit-status=0\n":                    {"", 0, true},
		"warning\n\nedgectl-exit-status=3\n":           {"warning\n", 3, true},
		"no newline at end\nedgectl-exit-status=127\n": {"no newline at end", 127, true},
		"killed": {"killed", 0, false},
	} {
		rest, code, ok := splitExitStatus(in)
		if rest != want.rest || code != want.code || ok != want.ok {
			t.Errorf("splitExitStatus(%q) = %q %d %v, want %+v", in, rest, code, ok, want)
		}
	}
}

func TestEngineErrorsAreTyped(t *testing.T) {
	ports := []runtime.PortMapping{{HostPort: 6443}, {HostPort: 41000}}
	if port, ok := portTaken(errors.New("driver failed programming external connectivity: Bind for 127.0.0.1:41000 failed: port is already allocated"), ports); !ok || port != 41000 {
		t.Errorf("port taken: %d %v", port, ok)
	}
	if _, ok := portTaken(errors.New("no such image"), ports); ok {
		t.Error("an unrelated error is a taken port")
	}
	if !subnetTaken(errors.New("Pool overlaps with other one on this address space")) || subnetTaken(errors.New("permission denied")) {
		t.Error("subnet overlap not told apart")
	}
	if !privilegeRefused(errors.New("runc create failed: unable to apply caps: operation not permitted")) {
		t.Error("privilege refusal not recognised")
	}
}

// A start that Podman fails with its transient start race is made again,
// up to 3 times; another failure is returned at once.
func TestStartRetriesTheStartRace(t *testing.T) {
	for _, c := range []struct {
		name     string
		failures int    // starts that fail before one succeeds
		msg      string // of each failure
		calls    int
		ok       bool
	}{
		{"raced once", 1, "OCI runtime error: write child: broken pipe", 2, true},
		{"raced three times", 3, "write child: broken pipe", 3, false},
		{"another failure", 1, "no such container", 1, false},
	} {
		calls := 0
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasSuffix(r.URL.Path, "/containers/n/start") {
				http.NotFound(w, r)
				return
			}
			calls++
			if calls <= c.failures {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusInternalServerError)
				fmt.Fprintf(w, `{"message": %q}`, c.msg)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		}))
		cli, err := client.NewClientWithOpts(client.WithHost("tcp://"+strings.TrimPrefix(srv.URL, "http://")), client.WithVersion("1.41"))
		if err != nil {
			t.Fatal(err)
		}
		err = (&Provider{cli: cli}).Start(context.Background(), "n")
		srv.Close()
		if calls != c.calls || (err == nil) != c.ok {
			t.Errorf("%s: %d starts, %v; want %d starts, ok %v", c.name, calls, err, c.calls, c.ok)
		}
	}
}
