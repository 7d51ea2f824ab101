package agent

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"k8s.io/klog/v2"
)

// An emulated node runs the host's containerd, whose CRI pulls resolve a
// multi-platform image to containerd's own platform, the host's: there is
// no setting for it (containerd 2.2 and 2.4 pass platforms.DefaultSpec() to
// the pull). platformResolver is the way round it. containerd asks it first
// to resolve a tag (certs.d: the first host, with the "pull" and "resolve"
// capabilities, both of which containerd wants of a host it resolves a tag
// on), and it answers with the manifest of the node's platform instead of the
// index. containerd then fetches that manifest, its config and its layers
// from the usual hosts by digest, and an image whose top is a manifest is
// taken as it is, whatever its platform: its layers are unpacked for the
// node when a container first needs them.
//
// Whatever the resolver cannot answer (a digest, a single-platform image,
// an index without the node's platform, a registry that wants credentials)
// it answers 404, and containerd goes on to the next host as before.
type platformResolver struct {
	// os, arch and variant are the node's platform (variant may be empty).
	os, arch, variant string
	// mirrors and servers: as in the node config (registry host -> URL).
	mirrors, servers map[string]string
	client           *http.Client
}

func newPlatformResolver(platform string, mirrors, servers map[string]string) (*platformResolver, error) {
	parts := strings.Split(platform, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return nil, fmt.Errorf("platform %q is not OS/ARCH[/VARIANT]", platform)
	}
	r := &platformResolver{os: parts[0], arch: parts[1], mirrors: mirrors, servers: servers,
		client: &http.Client{Timeout: 30 * time.Second}}
	if len(parts) == 3 {
		r.variant = parts[2]
	}
	return r, nil
}

// serve answers on a free port of 127.0.0.1 until ctx ends, and returns
// its URL for certs.d.
func (r *platformResolver) serve(ctx context.Context) (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	return "http://" + l.Addr().String(), nil
}

// manifestRequest matches /v2/NAME/manifests/REFERENCE.
var manifestRequest = regexp.MustCompile(`^/v2/(.+)/manifests/([^/]+)$`)

const (
	mediaOCIIndex       = "application/vnd.oci.image.index.v1+json"
	mediaDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
	mediaOCIManifest    = "application/vnd.oci.image.manifest.v1+json"
	mediaDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
)

var acceptManifests = strings.Join([]string{mediaOCIIndex, mediaDockerList, mediaOCIManifest, mediaDockerManifest}, ", ")

func (r *platformResolver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	m := manifestRequest.FindStringSubmatch(req.URL.Path)
	ns := req.URL.Query().Get("ns")
	if m == nil || ns == "" || strings.Contains(m[2], ":") || (req.Method != http.MethodHead && req.Method != http.MethodGet) {
		http.NotFound(w, req) // a digest is what it is: only a tag is resolved
		return
	}
	repo, tag := m[1], m[2]
	desc, body, err := r.resolve(req.Context(), ns, repo, tag, req.Method == http.MethodGet)
	if err != nil {
		if !errors.Is(err, errNotIndex) {
			klog.InfoS("Emulated node: the registry's own platform choice stands", "image", ns+"/"+repo+":"+tag, "reason", err.Error())
		}
		http.NotFound(w, req)
		return
	}
	klog.V(2).InfoS("Emulated node: resolved to the node's platform", "image", ns+"/"+repo+":"+tag, "manifest", desc.Digest)
	w.Header().Set("Content-Type", desc.MediaType)
	w.Header().Set("Docker-Content-Digest", desc.Digest)
	w.Header().Set("Content-Length", fmt.Sprint(desc.Size))
	if req.Method == http.MethodGet {
		_, _ = w.Write(body)
	}
}

// descriptor is the part of an OCI descriptor the resolver reads.
type descriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
	Platform  *struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
		Variant      string `json:"variant"`
	} `json:"platform"`
}

var errNotIndex = errors.New("not a multi-platform image")

// resolve reads the tag from the registry ns (through its mirror first, as
// containerd would) and returns the descriptor of the node's platform's
// manifest, and its bytes when body is set.
func (r *platformResolver) resolve(ctx context.Context, ns, repo, tag string, body bool) (descriptor, []byte, error) {
	var errs []error
	for _, base := range r.upstreams(ns) {
		data, mediaType, err := r.get(ctx, base, repo, "manifests/"+tag)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if mediaType != mediaOCIIndex && mediaType != mediaDockerList {
			return descriptor{}, nil, errNotIndex
		}
		var index struct {
			Manifests []descriptor `json:"manifests"`
		}
		if err := json.Unmarshal(data, &index); err != nil {
			return descriptor{}, nil, fmt.Errorf("index of %s:%s: %w", repo, tag, err)
		}
		d, ok := r.pick(index.Manifests)
		if !ok {
			return descriptor{}, nil, fmt.Errorf("the index has no manifest for %s/%s", r.os, r.arch)
		}
		if !body {
			return d, nil, nil
		}
		data, _, err = r.get(ctx, base, repo, "manifests/"+d.Digest)
		if err != nil {
			return descriptor{}, nil, err
		}
		if got := sha256Digest(data); got != d.Digest {
			return descriptor{}, nil, fmt.Errorf("manifest %s arrived as %s", d.Digest, got)
		}
		return d, data, nil
	}
	return descriptor{}, nil, errors.Join(errs...)
}

// pick returns the index entry of the node's platform. An arm64 entry
// without a variant is v8's, as containerd normalizes it.
func (r *platformResolver) pick(entries []descriptor) (descriptor, bool) {
	variant := func(arch, v string) string {
		if arch == "arm64" && v == "" {
			return "v8"
		}
		return v
	}
	want := variant(r.arch, r.variant)
	var fallback *descriptor
	for i, d := range entries {
		p := d.Platform
		if p == nil || p.OS != r.os || p.Architecture != r.arch {
			continue
		}
		got := variant(p.Architecture, p.Variant)
		if got == want {
			return d, true
		}
		if want == "" || got == "" {
			fallback = &entries[i]
		}
	}
	if fallback != nil {
		return *fallback, true
	}
	return descriptor{}, false
}

// upstreams are the base URLs (ending in /v2) that containerd would ask
// for ns, in its order: the mirror (which routes by ?ns=), then the
// registry's own address.
func (r *platformResolver) upstreams(ns string) []string {
	var out []string
	if m, ok := r.mirrors[ns]; ok {
		out = append(out, v2Base(m)+"?ns="+url.QueryEscape(ns))
	}
	switch s, ok := r.servers[ns]; {
	case ok:
		out = append(out, v2Base(s))
	case ns == "docker.io":
		out = append(out, "https://registry-1.docker.io/v2")
	case isLocalhost(ns):
		out = append(out, "http://"+ns+"/v2")
	default:
		out = append(out, "https://"+ns+"/v2")
	}
	return out
}

// v2Base is a registry URL's API root, as containerd makes it of a host in
// certs.d: /v2 unless the URL gives its own path.
func v2Base(u string) string {
	u = strings.TrimSuffix(u, "/")
	if p, err := url.Parse(u); err == nil && (p.Path == "" || p.Path == "/") {
		return u + "/v2"
	}
	return u
}

func isLocalhost(host string) bool {
	h, _, err := net.SplitHostPort(host)
	if err != nil {
		h = host
	}
	return h == "localhost" || net.ParseIP(h).IsLoopback()
}

// get fetches base/repo/path (base may carry a query), with an anonymous
// bearer token when the registry asks for one.
func (r *platformResolver) get(ctx context.Context, base, repo, path string) ([]byte, string, error) {
	u, query, _ := strings.Cut(base, "?")
	target := u + "/" + repo + "/" + path
	if query != "" {
		target += "?" + query
	}
	token := ""
	for try := 0; try < 2; try++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil {
			return nil, "", err
		}
		req.Header.Set("Accept", acceptManifests)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := r.client.Do(req)
		if err != nil {
			return nil, "", err
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
		resp.Body.Close()
		if err != nil {
			return nil, "", err
		}
		if resp.StatusCode == http.StatusUnauthorized && token == "" {
			if token, err = r.anonymousToken(ctx, resp.Header.Get("WWW-Authenticate")); err != nil {
				return nil, "", fmt.Errorf("%s: %w", target, err)
			}
			continue
		}
		if resp.StatusCode != http.StatusOK {
			return nil, "", fmt.Errorf("%s: %s", target, resp.Status)
		}
		mediaType, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";")
		return data, strings.TrimSpace(mediaType), nil
	}
	return nil, "", fmt.Errorf("%s: the registry refused an anonymous token (credentials are containerd's alone)", target)
}

// challengeParam matches key="value" in a WWW-Authenticate header.
var challengeParam = regexp.MustCompile(`(\w+)="([^"]*)"`)

// anonymousToken asks a bearer challenge's realm for a token without
// credentials, as a public registry gives for pulls.
func (r *platformResolver) anonymousToken(ctx context.Context, challenge string) (string, error) {
	scheme, params, _ := strings.Cut(challenge, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", fmt.Errorf("the registry wants %q authentication", scheme)
	}
	p := map[string]string{}
	for _, m := range challengeParam.FindAllStringSubmatch(params, -1) {
		p[m[1]] = m[2]
	}
	realm, err := url.Parse(p["realm"])
	if err != nil || realm.Scheme == "" {
		return "", fmt.Errorf("bad bearer realm %q", p["realm"])
	}
	q := realm.Query()
	for _, k := range []string{"service", "scope"} {
		if p[k] != "" {
			q.Set(k, p[k])
		}
	}
	realm.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, realm.String(), nil)
	if err != nil {
		return "", err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("token from %s: %s", realm.Host, resp.Status)
	}
	var tok struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&tok); err != nil {
		return "", err
	}
	if tok.Token == "" {
		tok.Token = tok.AccessToken
	}
	if tok.Token == "" {
		return "", errors.New("the token answer holds no token")
	}
	return tok.Token, nil
}

func sha256Digest(data []byte) string {
	return fmt.Sprintf("sha256:%x", sha256.Sum256(data))
}
