package tunnel

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"time"
)

// ALPN is the TLS protocol a node names to open its tunnel on the API port.
const ALPN = "edgelet-tunnel/1"

// Mux shares one port between the API server and node tunnels: it reads a
// connection's TLS ClientHello without answering it; a hello that names
// ALPN is a tunnel, and is served here with TLS of our own; any other
// connection is passed as it is, bytes and all, to Backend (the API server
// on a loopback port), so client certificates reach it untouched.
type Mux struct {
	// Backend is the API server's address.
	Backend string
	// TLS serves tunnels: the server's certificate, and client
	// certificates required and verified against the cluster's client CA.
	TLS *tls.Config
	// Tunnel takes a node's connection; node is the name its certificate
	// proves (CN system:node:NAME).
	Tunnel func(node string, c net.Conn)
	// Logf reports refused tunnels.
	Logf func(format string, args ...any)
}

// Serve accepts connections until l is closed.
func (m *Mux) Serve(l net.Listener) error {
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go m.handle(c)
	}
}

func (m *Mux) handle(c net.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(15 * time.Second))
	protos, hello, err := peekHello(c)
	_ = c.SetReadDeadline(time.Time{})
	replay := &prefixConn{Conn: c, r: io.MultiReader(bytes.NewReader(hello), c)}
	if err != nil || !slices.Contains(protos, ALPN) {
		m.pass(replay)
		return
	}
	tc := tls.Server(replay, m.TLS)
	_ = tc.SetDeadline(time.Now().Add(15 * time.Second))
	if err := tc.Handshake(); err != nil {
		m.logf("tunnel from %s: %v", c.RemoteAddr(), err)
		tc.Close()
		return
	}
	_ = tc.SetDeadline(time.Time{})
	node, err := NodeName(tc.ConnectionState())
	if err != nil {
		m.logf("tunnel from %s: %v", c.RemoteAddr(), err)
		tc.Close()
		return
	}
	m.Tunnel(node, tc)
}

// pass splices the connection to the backend.
func (m *Mux) pass(c net.Conn) {
	defer c.Close()
	b, err := net.DialTimeout("tcp", m.Backend, 10*time.Second)
	if err != nil {
		m.logf("pass %s to %s: %v", c.RemoteAddr(), m.Backend, err)
		return
	}
	defer b.Close()
	Splice(c, b)
}

func (m *Mux) logf(format string, args ...any) {
	if m.Logf != nil {
		m.Logf(format, args...)
	}
}

// NodeName is the node a verified client certificate names: a kubelet's
// (CN system:node:NAME, O system:nodes).
func NodeName(st tls.ConnectionState) (string, error) {
	if len(st.VerifiedChains) == 0 || len(st.VerifiedChains[0]) == 0 {
		return "", errors.New("no verified client certificate")
	}
	leaf := st.VerifiedChains[0][0]
	name, ok := strings.CutPrefix(leaf.Subject.CommonName, "system:node:")
	if !ok || name == "" || !slices.Contains(leaf.Subject.Organization, "system:nodes") {
		return "", fmt.Errorf("client certificate %q is not a node's", leaf.Subject.CommonName)
	}
	return name, nil
}

var errPeeked = errors.New("peeked")

// peekHello reads a TLS ClientHello and returns its ALPN protocols and the
// bytes read, which the caller replays.
func peekHello(c net.Conn) ([]string, []byte, error) {
	rec := &recordConn{Conn: c}
	var protos []string
	seen := false
	err := tls.Server(rec, &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		protos, seen = slices.Clone(h.SupportedProtos), true
		return nil, errPeeked
	}}).Handshake()
	if !seen {
		return nil, rec.buf.Bytes(), fmt.Errorf("no TLS ClientHello: %v", err)
	}
	return protos, rec.buf.Bytes(), nil
}

// recordConn keeps what is read, and writes nothing (the peek must not
// answer the client, not even with an alert).
type recordConn struct {
	net.Conn
	buf bytes.Buffer
}

func (r *recordConn) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	r.buf.Write(p[:n])
	return n, err
}

func (r *recordConn) Write(p []byte) (int, error) { return len(p), nil }

// prefixConn reads the peeked bytes first.
type prefixConn struct {
	net.Conn
	r io.Reader
}

func (p *prefixConn) Read(b []byte) (int, error) { return p.r.Read(b) }

// CloseWrite half-closes the underlying TCP connection when it can.
func (p *prefixConn) CloseWrite() error {
	if cw, ok := p.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return p.Conn.Close()
}
