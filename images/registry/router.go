package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io/fs"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
)

// cache is the pull-through cache of one upstream.
type cache struct {
	Upstream
	root    string
	handler http.Handler
	// seed writes to the cache's storage: `edgectl registry load` pushes an
	// image into a cache (a distribution proxy takes no pushes).
	seed   http.Handler
	hits   atomic.Int64
	misses atomic.Int64
	blobs  keyedMutex
	health health
}

// router sends each request to the cache its ns names, or to the local
// registry.
type router struct {
	local    http.Handler
	root     string // the local registry's storage
	caches   map[string]*cache
	logBlobs bool
}

func newRouter(ctx context.Context, cfg *Config) *router {
	r := &router{caches: map[string]*cache{}, logBlobs: cfg.LogBlobs, root: filepath.Join(cfg.Root, "local")}
	r.local = handlers.NewApp(ctx, distConfig(r.root, nil))
	for _, u := range cfg.Upstreams {
		c := &cache{Upstream: u, root: filepath.Join(cfg.Root, "cache", u.Host)}
		c.handler = handlers.NewApp(ctx, distConfig(c.root, &configuration.Proxy{
			RemoteURL: u.URL, Username: u.Username, Password: u.Password, TTL: new(time.Duration)}))
		c.seed = handlers.NewApp(ctx, distConfig(c.root, nil))
		r.caches[u.Host] = c
	}
	return r
}

// distConfig is a distribution config of filesystem storage under root,
// a pull-through cache of proxy when that is set (TTL 0: kept forever).
func distConfig(root string, proxy *configuration.Proxy) *configuration.Configuration {
	cfg := &configuration.Configuration{
		Storage: configuration.Storage{
			"filesystem":  configuration.Parameters{"rootdirectory": root},
			"delete":      configuration.Parameters{"enabled": true},
			"maintenance": configuration.Parameters{"uploadpurging": map[any]any{"enabled": false}},
		},
	}
	cfg.Log.Level = "warn"
	cfg.Log.AccessLog.Disabled = true
	// One secret for the process: upload state is signed with it.
	cfg.HTTP.Secret = secret
	if proxy != nil {
		cfg.Proxy = *proxy
	}
	return cfg
}

var secret = rand.Text()

// blobPath matches /v2/<name>/blobs/<digest>.
var blobPath = regexp.MustCompile(`^/v2/.+/blobs/(sha256:[a-f0-9]{64})$`)

func (r *router) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path == "/edgectl/status" {
		r.status(w, req)
		return
	}
	m := blobPath.FindStringSubmatch(req.URL.Path)
	if r.logBlobs && m != nil && req.Method == http.MethodGet {
		log.Printf("blob GET %s %s", m[1], req.URL.Path)
	}
	c, ok := r.caches[req.URL.Query().Get("ns")]
	if !ok {
		r.local.ServeHTTP(w, req)
		return
	}
	if isPush(req) {
		c.seed.ServeHTTP(w, req)
		return
	}
	if manifestPath.MatchString(req.URL.Path) {
		c.serveManifest(w, req)
		return
	}
	if m == nil || req.Method != http.MethodGet {
		c.handler.ServeHTTP(w, req)
		return
	}
	// distribution fetches a blob from the upstream again for every request
	// that arrives while a first one is still caching it: hold the others
	// until it is cached, then serve them from disk.
	unlock := c.blobs.lock(m[1])
	defer unlock()
	if c.cached(m[1]) {
		c.hits.Add(1)
	} else {
		c.misses.Add(1)
	}
	c.handler.ServeHTTP(w, req)
}

// isPush tells a request of an image push into a cache: `registry load`
// marks all of its requests (its existence checks too) with seed=1.
func isPush(req *http.Request) bool {
	if req.URL.Query().Get("seed") == "1" {
		return true
	}
	switch req.Method {
	case http.MethodGet, http.MethodHead:
		return strings.Contains(req.URL.Path, "/blobs/uploads/")
	}
	return true
}

// cached tells whether the blob is on disk (distribution's layout).
func (c *cache) cached(digest string) bool {
	hex := strings.TrimPrefix(digest, "sha256:")
	_, err := os.Stat(filepath.Join(c.root, "docker/registry/v2/blobs/sha256", hex[:2], hex, "data"))
	return err == nil
}

// UpstreamStatus is one upstream's line of GET /edgectl/status.
type UpstreamStatus struct {
	Host        string `json:"host"`
	URL         string `json:"url"`
	Reachable   bool   `json:"reachable"`
	Error       string `json:"error,omitempty"`
	Hits        int64  `json:"hits"`
	Misses      int64  `json:"misses"`
	BytesCached int64  `json:"bytesCached"`
}

// Status is the body of GET /edgectl/status.
type Status struct {
	Upstreams  []UpstreamStatus `json:"upstreams"`
	LocalBytes int64            `json:"localBytes"`
}

func (r *router) status(w http.ResponseWriter, req *http.Request) {
	st := Status{Upstreams: []UpstreamStatus{}}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, c := range r.caches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := UpstreamStatus{Host: c.Host, URL: c.URL, Hits: c.hits.Load(), Misses: c.misses.Load(), BytesCached: du(c.root)}
			u.Reachable, u.Error = probe(req.Context(), c.URL)
			mu.Lock()
			st.Upstreams = append(st.Upstreams, u)
			mu.Unlock()
		}()
	}
	st.LocalBytes = du(r.root)
	wg.Wait()
	sort.Slice(st.Upstreams, func(i, j int) bool { return st.Upstreams[i].Host < st.Upstreams[j].Host })
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(st)
}

// probe tells whether an upstream answers /v2/ (any HTTP answer, 401 too).
func probe(ctx context.Context, url string) (bool, string) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(url, "/")+"/v2/", nil)
	if err != nil {
		return false, err.Error()
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, err.Error()
	}
	resp.Body.Close()
	return true, ""
}

// du is the size of the files under dir.
func du(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// keyedMutex is a mutex per key.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*keyLock
}

type keyLock struct {
	sync.Mutex
	refs int
}

func (k *keyedMutex) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*keyLock{}
	}
	l := k.locks[key]
	if l == nil {
		l = &keyLock{}
		k.locks[key] = l
	}
	l.refs++
	k.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		k.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}
