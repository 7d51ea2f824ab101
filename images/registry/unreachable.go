package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"
)

// manifestPath matches /v2/<name>/manifests/<reference>.
var manifestPath = regexp.MustCompile(`^/v2/.+/manifests/[^/]+$`)

// health remembers, for a few seconds, whether an upstream answers.
type health struct {
	mu      sync.Mutex
	checked time.Time
	err     string
}

func (h *health) unreachable(ctx context.Context, url string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if time.Since(h.checked) > 5*time.Second {
		ok, msg := probe(ctx, url)
		h.checked, h.err = time.Now(), ""
		if !ok {
			h.err = msg
		}
	}
	return h.err
}

// serveManifest serves a manifest request of a cache. With the upstream out
// of reach and the manifest not cached, distribution answers 404, and
// containerd reports "not found": answer 502 instead, with the upstream and
// the reason in the status line (a HEAD has no body), so that the pod's
// pull error names the upstream.
func (c *cache) serveManifest(w http.ResponseWriter, req *http.Request) {
	why := c.health.unreachable(req.Context(), c.URL)
	if why == "" {
		c.handler.ServeHTTP(w, req)
		return
	}
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	c.handler.ServeHTTP(rec, req)
	if rec.status != http.StatusNotFound {
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.status)
		w.Write(rec.body.Bytes())
		return
	}
	reason := strings.NewReplacer("\r", " ", "\n", " ").Replace(fmt.Sprintf("Bad Gateway: upstream %s (%s) unreachable: %s", c.Host, c.URL, why))
	if hj, ok := w.(http.Hijacker); ok {
		if conn, buf, err := hj.Hijack(); err == nil {
			defer conn.Close()
			body := fmt.Sprintf(`{"errors":[{"code":"UNAVAILABLE","message":%q}]}`, reason)
			if req.Method == http.MethodHead {
				body = ""
			}
			fmt.Fprintf(buf, "HTTP/1.1 502 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", reason, len(body), body)
			buf.Flush()
			return
		}
	}
	http.Error(w, reason, http.StatusBadGateway)
}

// recorder buffers a response.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) WriteHeader(status int)      { r.status = status }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
