package tunnel

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"testing"
	"time"
)

// TestMux: one port; a TLS client without the tunnel's ALPN reaches the
// backend untouched (its certificate, its greeting), a node with a client
// certificate opens a tunnel under its name, and a tunnel without a node
// certificate is refused.
func TestMux(t *testing.T) {
	ca := newCert(t, nil, "ca", nil, true)
	serving := newCert(t, &ca, "server", nil, false)
	backendCert := newCert(t, &ca, "backend", nil, false)
	node := newCert(t, &ca, "system:node:pi-7", []string{"system:nodes"}, false)
	user := newCert(t, &ca, "alice", nil, false)
	pool := x509.NewCertPool()
	pool.AddCert(ca.Leaf)

	backend := listenTLS(t, &tls.Config{Certificates: []tls.Certificate{backendCert}}, func(c net.Conn) {
		fmt.Fprintln(c, "backend")
	})
	tunnels := make(chan string, 1)
	m := &Mux{Backend: backend, TLS: &tls.Config{Certificates: []tls.Certificate{serving}, ClientAuth: tls.RequireAndVerifyClientCert,
		ClientCAs: pool, NextProtos: []string{ALPN}},
		Tunnel: func(name string, c net.Conn) { tunnels <- name; fmt.Fprintln(c, "tunnel "+name); c.Close() }}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go m.Serve(l) //nolint:errcheck

	greet := func(conf *tls.Config) (string, *tls.Conn, error) {
		conf.RootCAs, conf.ServerName = pool, "localhost"
		c, err := tls.Dial("tcp", l.Addr().String(), conf)
		if err != nil {
			return "", nil, err
		}
		defer c.Close()
		line, err := bufio.NewReader(c).ReadString('\n')
		return line, c, err
	}
	line, c, err := greet(&tls.Config{Certificates: []tls.Certificate{user}})
	if err != nil || line != "backend\n" || c.ConnectionState().PeerCertificates[0].Subject.CommonName != "backend" {
		t.Fatalf("an API client: %q, %v", line, err)
	}
	line, _, err = greet(&tls.Config{Certificates: []tls.Certificate{node}, NextProtos: []string{ALPN}})
	if err != nil || line != "tunnel pi-7\n" || <-tunnels != "pi-7" {
		t.Fatalf("a node's tunnel: %q, %v", line, err)
	}
	if _, _, err := greet(&tls.Config{Certificates: []tls.Certificate{user}, NextProtos: []string{ALPN}}); err == nil {
		t.Fatal("a tunnel with a user's certificate was served")
	}
	if _, _, err := greet(&tls.Config{NextProtos: []string{ALPN}}); err == nil {
		t.Fatal("a tunnel without a client certificate was served")
	}
}

func newCert(t *testing.T, parent *tls.Certificate, cn string, org []string, isCA bool) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn, Organization: org},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: isCA, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, DNSNames: []string{"localhost"}}
	signer, signKey := tmpl, any(key)
	if parent != nil {
		signer, signKey = parent.Leaf, parent.PrivateKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

func listenTLS(t *testing.T, conf *tls.Config, handle func(net.Conn)) string {
	t.Helper()
	return listen(t, func(c net.Conn) {
		tc := tls.Server(c, conf)
		defer tc.Close()
		if tc.Handshake() == nil {
			handle(tc)
		}
	})
}
