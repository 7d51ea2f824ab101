package registry

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseUpstream(t *testing.T) {
	for in, ok := range map[string]bool{
		"docker.io=https://registry-1.docker.io":   true,
		"ghcr.io=https://ghcr.io/":                 true,
		"registry.local:5000=http://10.0.0.5:5000": true,
		"docker.io":                      false,
		"docker.io=registry-1.docker.io": false,
		"docker.io=ftp://x":              false,
		"Docker.io=https://x":            false,
		"docker.io=https://x/some/path":  false,
	} {
		if _, err := ParseUpstream(in); (err == nil) != ok {
			t.Errorf("%s: %v", in, err)
		}
	}
}

// The config carries credentials and CAs (never labels or args); bad input
// is reported all at once.
func TestValidateReadsSecretsIntoTheConfigOnly(t *testing.T) {
	dir := t.TempDir()
	auth := filepath.Join(dir, "auth")
	if err := os.WriteFile(auth, []byte("me:s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("E2E_AUTH", "bot:t0ken")
	o := CreateOptions{Name: "cache", Port: 5001, Upstreams: []Upstream{
		{Host: "docker.io", URL: "https://registry-1.docker.io", Auth: auth},
		{Host: "ghcr.io", URL: "https://ghcr.io", Auth: "env:E2E_AUTH"}}}
	conf, err := o.validate()
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Upstreams []struct{ Host, Username, Password string }
	}
	if err := json.Unmarshal(conf, &got); err != nil || len(got.Upstreams) != 2 ||
		got.Upstreams[0].Password != "s3cret" || got.Upstreams[1].Username != "bot" {
		t.Fatalf("%s %v", conf, err)
	}
	bad := CreateOptions{Name: "Bad_Name", Port: 70000, Upstreams: []Upstream{
		{Host: "docker.io", URL: "https://x", CAFile: filepath.Join(dir, "missing.pem")},
		{Host: "docker.io", URL: "https://y", Auth: "env:E2E_UNSET"}}}
	_, err = bad.validate()
	for _, want := range []string{"registry name", "--port", "CA", "twice", "E2E_UNSET"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in %v", want, err)
		}
	}
}
