package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strings"
	"time"
)

// push pushes an image of this very binary (entrypoint /echo) to a plain
// HTTP registry, `echo push http://HOST:PORT/REPO:TAG`: a pod can then show
// that it pushes to the registry address a cluster publishes.
func push(target string) error {
	rest, ok := strings.CutPrefix(target, "http://")
	slash := strings.Index(rest, "/")
	colon := strings.LastIndex(rest, ":")
	if !ok || slash < 0 || colon < slash {
		return fmt.Errorf("%q: must be http://HOST:PORT/REPO:TAG", target)
	}
	base, repo, tag := "http://"+rest[:slash], rest[slash+1:colon], rest[colon+1:]
	self, err := os.ReadFile("/proc/self/exe")
	if err != nil {
		return err
	}
	layer, diffID, err := gzipTar("echo", self)
	if err != nil {
		return err
	}
	config, _ := json.Marshal(map[string]any{
		"architecture": runtime.GOARCH, "os": "linux",
		"config": map[string]any{"Entrypoint": []string{"/echo"}, "User": "65534"},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{diffID}},
	})
	client := &http.Client{Timeout: 60 * time.Second}
	manifest := map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json"}
	for _, b := range []struct {
		data  []byte
		media string
		key   string
	}{{config, "application/vnd.oci.image.config.v1+json", "config"}, {layer, "application/vnd.oci.image.layer.v1.tar+gzip", "layers"}} {
		digest := fmt.Sprintf("sha256:%x", sha256.Sum256(b.data))
		if err := uploadBlob(client, base, repo, digest, b.data); err != nil {
			return err
		}
		desc := map[string]any{"mediaType": b.media, "digest": digest, "size": len(b.data)}
		if b.key == "config" {
			manifest["config"] = desc
		} else {
			manifest["layers"] = []any{desc}
		}
	}
	body, _ := json.Marshal(manifest)
	req, _ := http.NewRequest(http.MethodPut, base+"/v2/"+repo+"/manifests/"+tag, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
	return expect(client, req, http.StatusCreated)
}

// uploadBlob is a monolithic blob upload: POST for a location, PUT the data.
func uploadBlob(client *http.Client, base, repo, digest string, data []byte) error {
	resp, err := client.Post(base+"/v2/"+repo+"/blobs/uploads/", "", nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusAccepted || loc == "" {
		return fmt.Errorf("start upload: %s", resp.Status)
	}
	if strings.HasPrefix(loc, "/") {
		loc = base + loc
	}
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	req, _ := http.NewRequest(http.MethodPut, loc+sep+"digest="+digest, bytes.NewReader(data))
	req.Header.Set("Content-Type", "application/octet-stream")
	return expect(client, req, http.StatusCreated)
}

func expect(client *http.Client, req *http.Request, status int) error {
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != status {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s %s: %s %s", req.Method, req.URL.Path, resp.Status, msg)
	}
	return nil
}

// gzipTar is a gzipped tar holding one executable, and its diff ID.
func gzipTar(name string, data []byte) ([]byte, string, error) {
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(data))}); err != nil {
		return nil, "", err
	}
	if _, err := tw.Write(data); err != nil {
		return nil, "", err
	}
	if err := tw.Close(); err != nil {
		return nil, "", err
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(raw.Bytes()); err != nil {
		return nil, "", err
	}
	if err := zw.Close(); err != nil {
		return nil, "", err
	}
	return gz.Bytes(), fmt.Sprintf("sha256:%x", sha256.Sum256(raw.Bytes())), nil
}
