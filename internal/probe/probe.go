// Package probe asks an HTTPS health endpoint (an API server's /readyz, a
// controller manager's /healthz) whether a component is up. It only learns
// that: nothing is sent and nothing it answers is trusted, so it does not
// verify the serving certificate (the component's own, often not yet known
// to the asker).
package probe

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"time"
)

var client = &http.Client{Timeout: time.Second, Transport: &http.Transport{
	TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // a probe of health only
}}

// Get asks url and returns the status and the first 64 KiB of the body.
func Get(ctx context.Context, url string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode, body, err
}
