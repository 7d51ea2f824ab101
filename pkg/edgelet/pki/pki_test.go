package pki

import (
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestCAIsCreatedOnceAndSignsCerts(t *testing.T) {
	dir := t.TempDir()
	ca, err := EnsureCA(dir, "ca", "test-ca")
	if err != nil {
		t.Fatal(err)
	}
	again, err := EnsureCA(dir, "ca", "test-ca")
	if err != nil || !again.Cert.Equal(ca.Cert) {
		t.Fatalf("a second EnsureCA made a new CA: %v", err)
	}
	if info, _ := os.Stat(ca.KeyFile); info.Mode().Perm() != 0o600 {
		t.Errorf("CA key mode %v, want 0600", info.Mode().Perm())
	}
	spec := CertSpec{CommonName: "kube-apiserver", Server: true, DNSNames: []string{"kubernetes"}, IPs: []net.IP{net.ParseIP("10.0.0.1")}}
	certFile, _, err := ca.EnsureCert(dir, "serving", spec)
	if err != nil {
		t.Fatal(err)
	}
	cert := readCert(t, certFile)
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: "kubernetes"}); err != nil {
		t.Errorf("the signed cert does not verify against the CA: %v", err)
	}
	stat1, _ := os.Stat(certFile)
	time.Sleep(10 * time.Millisecond)
	if _, _, err := ca.EnsureCert(dir, "serving", spec); err != nil {
		t.Fatal(err)
	}
	if stat2, _ := os.Stat(certFile); !stat2.ModTime().Equal(stat1.ModTime()) {
		t.Error("an unchanged spec re-issued the cert")
	}
	spec.IPs = append(spec.IPs, net.ParseIP("10.0.0.2"))
	if _, _, err := ca.EnsureCert(dir, "serving", spec); err != nil {
		t.Fatal(err)
	}
	if got := readCert(t, certFile); len(got.IPAddresses) != 2 {
		t.Errorf("a new SAN did not re-issue the cert: %v", got.IPAddresses)
	}
}

func TestHashAndKeyPair(t *testing.T) {
	ca, err := EnsureCA(t.TempDir(), "ca", "x")
	if err != nil {
		t.Fatal(err)
	}
	h1, err := Hash(ca.CertPEM())
	if err != nil || len(h1) != 64 {
		t.Fatalf("hash %q %v", h1, err)
	}
	if h2, _ := Hash(ca.CertPEM()); h2 != h1 {
		t.Error("hash is not stable")
	}
	if _, err := Hash([]byte("no pem")); err == nil {
		t.Error("hash of garbage succeeded")
	}
	key := filepath.Join(t.TempDir(), "sa.key")
	pub, err := EnsureKeyPair(key)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(pub)
	if _, err := EnsureKeyPair(key); err != nil {
		t.Fatal(err)
	}
	if second, _ := os.ReadFile(pub); string(second) != string(first) {
		t.Error("EnsureKeyPair replaced an existing key")
	}
	// A key whose public half is missing is read back, and must parse.
	_ = os.Remove(pub)
	if err := os.WriteFile(key, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := EnsureKeyPair(key); err == nil {
		t.Error("a corrupt key was accepted")
	}
}

func TestWriteFileIfChanged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "f")
	if err := WriteFileIfChanged(path, []byte("a"), 0o640); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	_ = os.Chtimes(path, old, old)
	if err := WriteFileIfChanged(path, []byte("a"), 0o640); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(path); !st.ModTime().Equal(old.Truncate(time.Second)) && st.ModTime().After(old.Add(time.Second)) {
		t.Error("unchanged content was rewritten")
	}
	if err := WriteFileIfChanged(path, []byte("b"), 0o640); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(path); string(data) != "b" {
		t.Errorf("content %q", data)
	}
}

func readCert(t *testing.T, file string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}
