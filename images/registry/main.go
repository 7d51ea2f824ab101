// Command registry is edgectl's registry: one process and one listener that
// is a pull-through cache of several upstream registries and a local registry
// to push to, built from github.com/distribution/distribution/v3.
//
// containerd adds ?ns=<upstream host> to every request it sends to a mirror,
// so each request is routed by ns to the cache of its upstream; requests for
// no configured upstream go to the local registry. Blob GETs of one digest on
// one upstream are served one at a time, so the upstream sees one GET per
// blob however many nodes pull at once. GET /edgectl/status reports, per
// upstream, whether it answers, the blob hits and misses and the bytes
// cached; `registry status` prints it from inside the container.
//
// The config (JSON, mode 0600: it may hold upstream credentials) is read
// from --config; it never travels in arguments, labels or logs.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Config is the registry's config file.
type Config struct {
	Listen    string     `json:"listen"`            // default :5000
	Root      string     `json:"root"`              // default /var/lib/registry
	TLSCert   string     `json:"tlsCert,omitempty"` // PEM files: serve HTTPS (the e2e fixture)
	TLSKey    string     `json:"tlsKey,omitempty"`
	Upstreams []Upstream `json:"upstreams,omitempty"`
	// LogBlobs logs every blob GET (the e2e fixture's access log).
	LogBlobs bool `json:"logBlobs,omitempty"`
}

// Upstream is one registry this one caches.
type Upstream struct {
	Host     string `json:"host"`         // as images name it: docker.io, ghcr.io
	URL      string `json:"url"`          // https://registry-1.docker.io
	CA       string `json:"ca,omitempty"` // PEM, trusted besides the system's roots
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
}

const defaultConfig = "/etc/edgectl/registry.json"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "status" {
		os.Exit(printStatus())
	}
	path := flag.String("config", defaultConfig, "the config file")
	flag.Parse()
	cfg, err := load(*path)
	if err != nil {
		log.Fatal(err)
	}
	if err := trust(cfg.Upstreams); err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	srv := &http.Server{Addr: cfg.Listen, Handler: newRouter(ctx, cfg), ReadHeaderTimeout: 30 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	log.Printf("registry listening on %s: %d upstream(s), local registry under %s", cfg.Listen, len(cfg.Upstreams), cfg.Root)
	if cfg.TLSCert != "" {
		err = srv.ListenAndServeTLS(cfg.TLSCert, cfg.TLSKey)
	} else {
		err = srv.ListenAndServe()
	}
	if err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}

func load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the config: %w", err)
	}
	cfg := &Config{}
	if err := json.Unmarshal(data, cfg); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if cfg.Listen == "" {
		cfg.Listen = ":5000"
	}
	if cfg.Root == "" {
		cfg.Root = "/var/lib/registry"
	}
	seen := map[string]bool{}
	for _, u := range cfg.Upstreams {
		if u.Host == "" || u.URL == "" || seen[u.Host] {
			return nil, fmt.Errorf("config %s: upstream %q: a host and a URL each, hosts unique", path, u.Host)
		}
		seen[u.Host] = true
	}
	return cfg, nil
}

// trust adds the upstreams' CAs to the roots of the default transport, which
// distribution's proxy uses for every upstream.
func trust(ups []Upstream) error {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	for _, u := range ups {
		if u.CA != "" && !pool.AppendCertsFromPEM([]byte(u.CA)) {
			return fmt.Errorf("upstream %s: the CA is not PEM", u.Host)
		}
	}
	tr := http.DefaultTransport.(*http.Transport)
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return nil
}

// printStatus prints the running registry's status (the `status` subcommand,
// run inside the container).
func printStatus() int {
	cfg, err := load(defaultConfig)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	scheme := "http"
	client := &http.Client{Timeout: 20 * time.Second}
	if cfg.TLSCert != "" {
		scheme = "https"
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // our own process on loopback
	}
	resp, err := client.Get(scheme + "://127.0.0.1" + cfg.Listen + "/edgectl/status")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer resp.Body.Close()
	io.Copy(os.Stdout, resp.Body)
	return 0
}
