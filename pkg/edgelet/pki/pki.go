package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

const (
	caValidity   = 10 * 365 * 24 * time.Hour
	certValidity = 10 * 365 * 24 * time.Hour
)

// CA is a certificate authority whose key is on disk.
type CA struct {
	Cert     *x509.Certificate
	Key      crypto.Signer
	CertFile string
	KeyFile  string
}

// CertSpec describes a leaf certificate.
type CertSpec struct {
	CommonName   string
	Organization []string
	DNSNames     []string
	IPs          []net.IP
	Server       bool
	Client       bool
}

// EnsureCA loads the CA at dir/name.{crt,key} or creates it.
func EnsureCA(dir, name, commonName string) (*CA, error) {
	ca := &CA{CertFile: filepath.Join(dir, name+".crt"), KeyFile: filepath.Join(dir, name+".key")}
	cert, key, err := load(ca.CertFile, ca.KeyFile)
	if err == nil {
		ca.Cert, ca.Key = cert, key
		return ca, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	key, err = newKey()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: fmt.Sprintf("%s@%d", commonName, now.Unix())},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("create CA %s: %w", name, err)
	}
	if err := write(ca.CertFile, ca.KeyFile, der, key); err != nil {
		return nil, err
	}
	ca.Cert, _ = x509.ParseCertificate(der)
	ca.Key = key
	return ca, nil
}

// EnsureCert makes sure dir/name.{crt,key} is signed by ca and covers spec.
// An existing certificate is kept unless its names differ from spec, so that
// restarts never change a component's identity.
func (ca *CA) EnsureCert(dir, name string, spec CertSpec) (certFile, keyFile string, err error) {
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	cert, key, err := load(certFile, keyFile)
	if err == nil && covers(cert, spec) && cert.CheckSignatureFrom(ca.Cert) == nil {
		return certFile, keyFile, nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", "", err
	}
	if key == nil {
		if key, err = newKey(); err != nil {
			return "", "", err
		}
	}
	der, err := ca.sign(spec, key.Public())
	if err != nil {
		return "", "", fmt.Errorf("sign %s: %w", name, err)
	}
	return certFile, keyFile, write(certFile, keyFile, der, key)
}

func (ca *CA) sign(spec CertSpec, pub crypto.PublicKey) ([]byte, error) {
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: spec.CommonName, Organization: spec.Organization},
		DNSNames:     spec.DNSNames,
		IPAddresses:  spec.IPs,
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(certValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	if spec.Server {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	if spec.Client {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	return x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
}

// CertPEM returns the CA certificate in PEM form.
func (ca *CA) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}

// Hash is the SHA-256 of the CA certificate in DER form, hex encoded. Join
// tokens carry it so that an agent can pin the cluster CA.
func Hash(certPEM []byte) (string, error) {
	block, _ := pem.Decode(certPEM)
	if block == nil {
		return "", errors.New("no PEM certificate found")
	}
	sum := sha256.Sum256(block.Bytes)
	return hex.EncodeToString(sum[:]), nil
}

// EnsureKeyPair creates an ECDSA key pair (the service-account signing key)
// unless it exists: the private key in SEC1 form at path, the public key in
// PKIX form at path's name with ".pub" instead of ".key".
func EnsureKeyPair(path string) (pubPath string, err error) {
	pubPath = strings.TrimSuffix(path, ".key") + ".pub"
	if _, err := os.Stat(pubPath); err == nil {
		return pubPath, nil
	}
	var key *ecdsa.PrivateKey
	if data, err := os.ReadFile(path); err == nil {
		signer, err := parseKey(data)
		if err != nil {
			return "", fmt.Errorf("%s: %w", path, err)
		}
		k, ok := signer.(*ecdsa.PrivateKey)
		if !ok {
			return "", fmt.Errorf("%s: not an ECDSA key", path)
		}
		key = k
	} else {
		if key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			return "", err
		}
		der, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			return "", err
		}
		if err := writeFile(path, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return "", err
		}
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return "", err
	}
	return pubPath, writeFile(pubPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644)
}

func covers(cert *x509.Certificate, spec CertSpec) bool {
	if cert.Subject.CommonName != spec.CommonName || !slices.Equal(sorted(cert.Subject.Organization), sorted(spec.Organization)) {
		return false
	}
	if !slices.Equal(sorted(cert.DNSNames), sorted(spec.DNSNames)) {
		return false
	}
	var have, want []string
	for _, ip := range cert.IPAddresses {
		have = append(have, ip.String())
	}
	for _, ip := range spec.IPs {
		want = append(want, ip.String())
	}
	return slices.Equal(sorted(have), sorted(want))
}

func sorted(s []string) []string {
	c := slices.Clone(s)
	sort.Strings(c)
	return slices.Compact(c)
}

func newKey() (crypto.Signer, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	return n
}

func load(certFile, keyFile string) (*x509.Certificate, crypto.Signer, error) {
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, nil, err
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", keyFile, err)
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, key, err
	}
	block, _ := pem.Decode(certPEM)
	if block == nil {
		return nil, key, fmt.Errorf("%s: no PEM certificate", certFile)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, key, fmt.Errorf("%s: %w", certFile, err)
	}
	return cert, key, nil
}

func parseKey(keyPEM []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, errors.New("no PEM key")
	}
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		if s, ok := k.(crypto.Signer); ok {
			return s, nil
		}
	}
	if k, err := x509.ParseECPrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	return x509.ParsePKCS1PrivateKey(block.Bytes)
}

func write(certFile, keyFile string, der []byte, key crypto.Signer) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := writeFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return writeFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// writeFile writes atomically so that a crash never leaves half a key.
func writeFile(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// WriteFileIfChanged writes data to path unless it already holds exactly that.
func WriteFileIfChanged(path string, data []byte, mode os.FileMode) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	return writeFile(path, data, mode)
}
