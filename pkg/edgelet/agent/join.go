package agent

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/edgectl/edgectl/pkg/edgelet/config"
	"github.com/edgectl/edgectl/pkg/edgelet/kubeconfig"
	"github.com/edgectl/edgectl/pkg/edgelet/token"
)

// ErrToken marks join failures caused by the token itself; retrying with the
// same token cannot help.
var ErrToken = errors.New("join token rejected")

// Join prepares an agent's credentials from a join token: it fetches the
// cluster CA, checks it against the hash in the token, proves the token to
// the API server, and writes the bootstrap kubeconfig that kubelet trades for
// its own client certificate. The agent never holds admin credentials.
func Join(ctx context.Context, cfg *config.Agent) (Credentials, error) {
	tok, err := token.Parse(cfg.Token)
	if err != nil {
		return Credentials{}, fmt.Errorf("%w: %v", ErrToken, err)
	}
	dir := cfg.AgentDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Credentials{}, err
	}
	creds, ok := joined(dir, tok.CAHash)
	if ok {
		// Already joined with this token's CA: start without the server, so a
		// node that reboots while its uplink is down still brings up
		// containerd and kubelet (which then retry the API on their own).
		return creds, nil
	}
	caPEM, err := fetchCA(ctx, cfg.Server, tok.CAHash)
	if err != nil {
		return Credentials{}, err
	}
	if err := checkToken(ctx, cfg.Server, caPEM, tok.Bootstrap()); err != nil {
		return Credentials{}, err
	}
	if err := os.WriteFile(creds.CAFile, caPEM, 0o644); err != nil {
		return creds, err
	}
	spec := kubeconfig.Spec{Server: cfg.Server, CAFile: creds.CAFile, Token: tok.Bootstrap()}
	return creds, kubeconfig.Write(creds.BootstrapKubeconfig, spec, 0o600)
}

// joined returns the credentials of an earlier join, if its CA is the one
// the token pins and kubelet already holds its client certificate.
func joined(dir, caHash string) (Credentials, bool) {
	// kube-proxy and the pod network run as the node, with the kubeconfig
	// kubelet writes once its certificate is issued.
	creds := Credentials{
		CAFile:              filepath.Join(dir, "ca.crt"),
		BootstrapKubeconfig: filepath.Join(dir, "bootstrap.kubeconfig"),
		KubeletKubeconfig:   filepath.Join(dir, "kubelet.kubeconfig"),
	}
	creds.KubeProxyKubeconfig = creds.KubeletKubeconfig
	caPEM, err := os.ReadFile(creds.CAFile)
	if err != nil || !usableKubeconfig(creds.KubeletKubeconfig) {
		return creds, false
	}
	block, _ := pem.Decode(caPEM)
	if block == nil {
		return creds, false
	}
	sum := sha256.Sum256(block.Bytes)
	return creds, hex.EncodeToString(sum[:]) == caHash
}

// fetchCA reads the CA from the public cluster-info ConfigMap without
// trusting the connection, then accepts it only if its hash is the token's.
func fetchCA(ctx context.Context, server, wantHash string) ([]byte, error) {
	body, err := FetchUnverified(ctx, server+"/api/v1/namespaces/kube-public/configmaps/cluster-info", "", 60)
	if err != nil {
		return nil, fmt.Errorf("fetch cluster CA from %s: %w", server, err)
	}
	var cm struct {
		Data map[string]string `json:"data"`
	}
	if err := json.Unmarshal(body, &cm); err != nil || cm.Data["ca.crt"] == "" {
		return nil, fmt.Errorf("fetch cluster CA from %s: no ca.crt in cluster-info", server)
	}
	caPEM := []byte(cm.Data["ca.crt"])
	block, _ := pem.Decode(caPEM)
	if block == nil {
		return nil, fmt.Errorf("fetch cluster CA from %s: not PEM", server)
	}
	sum := sha256.Sum256(block.Bytes)
	if got := hex.EncodeToString(sum[:]); got != wantHash {
		return nil, fmt.Errorf("%w: the server's CA (sha256 %s…) is not the one the token pins (%s…): wrong token, or a different cluster at %s",
			ErrToken, got[:12], wantHash[:12], server)
	}
	return caPEM, nil
}

// checkToken proves the bootstrap token over a connection verified against
// the pinned CA, so a wrong token fails now, before any Node is registered.
func checkToken(ctx context.Context, server string, caPEM []byte, bearer string) error {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	review := `{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, server+"/apis/authentication.k8s.io/v1/selfsubjectreviews", strings.NewReader(review))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+bearer)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("verify join token with %s: %w", server, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("%w: the server at %s does not know this token's secret (401 Unauthorized): copy the token again from the server's DATA_DIR/server/token", ErrToken, server)
	case resp.StatusCode >= 300:
		return fmt.Errorf("verify join token with %s: %s: %s", server, resp.Status, body)
	}
	if !strings.Contains(string(body), "system:bootstrap:") {
		return fmt.Errorf("%w: the token authenticates as something other than a bootstrap token: %s", ErrToken, body)
	}
	return nil
}
