// Package tunnel lets a server dial into a node that only dials out, as a
// board behind NAT does: the node opens one connection to a server and
// multiplexes it (yamux); each stream the server opens on it starts with the
// address the node dials on its own side, and then carries that connection.
// The node decides which addresses it dials for the server.
package tunnel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/yamux"
)

// maxHeader bounds the first line of a stream.
const maxHeader = 256

// Hub holds the sessions of the nodes connected to this server.
type Hub struct {
	mu       sync.Mutex
	sessions map[string]*yamux.Session
}

// NewHub returns a hub with no nodes.
func NewHub() *Hub { return &Hub{sessions: map[string]*yamux.Session{}} }

func muxConfig() *yamux.Config {
	c := yamux.DefaultConfig()
	c.LogOutput = io.Discard
	c.KeepAliveInterval = 10 * time.Second
	c.ConnectionWriteTimeout = 15 * time.Second
	return c
}

// Serve runs a node's session over conn until it ends. A newer session of
// the same node replaces an older one (the node redialed).
func (h *Hub) Serve(node string, conn net.Conn) error {
	s, err := yamux.Client(conn, muxConfig())
	if err != nil {
		conn.Close()
		return err
	}
	h.mu.Lock()
	old := h.sessions[node]
	h.sessions[node] = s
	h.mu.Unlock()
	if old != nil {
		old.Close()
	}
	<-s.CloseChan()
	h.mu.Lock()
	if h.sessions[node] == s {
		delete(h.sessions, node)
	}
	h.mu.Unlock()
	return nil
}

// Connected tells whether node has a session here.
func (h *Hub) Connected(node string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.sessions[node]
	return s != nil && !s.IsClosed()
}

// Nodes lists the connected nodes.
func (h *Hub) Nodes() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for n, s := range h.sessions {
		if !s.IsClosed() {
			out = append(out, n)
		}
	}
	return out
}

// ErrNotConnected is a node with no session on this server.
var ErrNotConnected = errors.New("node has no tunnel to this server")

// Dial opens a connection to addr as the node sees it (e.g. its kubelet at
// 127.0.0.1:10250).
func (h *Hub) Dial(ctx context.Context, node, network, addr string) (net.Conn, error) {
	h.mu.Lock()
	s := h.sessions[node]
	h.mu.Unlock()
	if s == nil || s.IsClosed() {
		return nil, fmt.Errorf("%s: %w", node, ErrNotConnected)
	}
	st, err := s.Open()
	if err != nil {
		return nil, fmt.Errorf("tunnel to %s: %w", node, err)
	}
	if d, ok := ctx.Deadline(); ok {
		_ = st.SetDeadline(d)
	}
	if _, err := fmt.Fprintf(st, "%s %s\n", network, addr); err != nil {
		st.Close()
		return nil, fmt.Errorf("tunnel to %s: %w", node, err)
	}
	reply, err := readLine(st)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("tunnel to %s: %w", node, err)
	}
	if reply != "ok" {
		st.Close()
		return nil, fmt.Errorf("%s dialing %s: %s", node, addr, strings.TrimPrefix(reply, "err "))
	}
	_ = st.SetDeadline(time.Time{})
	return st, nil
}

// readLine reads one line byte by byte, so that nothing after it is consumed.
func readLine(r io.Reader) (string, error) {
	var b [1]byte
	var line []byte
	for len(line) < maxHeader {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return "", err
		}
		if b[0] == '\n' {
			return string(line), nil
		}
		line = append(line, b[0])
	}
	return "", errors.New("header too long")
}

// Allow tells whether a node dials network/addr for the server.
type Allow func(network, addr string) bool

// Options of a node's side.
type Options struct {
	// Dial connects to a server (TLS, authenticated as the node).
	Dial func(ctx context.Context) (net.Conn, error)
	// Allow limits what the server may dial on this side.
	Allow Allow
	// Connected is called with nil when a session is up, and with the error
	// that ended or prevented one.
	Connected func(err error)
	// Packets, when set, takes the server's packet stream (pod traffic)
	// until it ends.
	Packets func(st net.Conn)
	// MinBackoff and MaxBackoff bound the wait between attempts (1 s, 30 s).
	MinBackoff, MaxBackoff time.Duration
}

// Run keeps the node's session up until ctx ends, redialing with capped
// exponential backoff (with jitter) after every failure or drop.
func Run(ctx context.Context, o Options) {
	if o.MinBackoff == 0 {
		o.MinBackoff = time.Second
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = 30 * time.Second
	}
	report := func(err error) {
		if o.Connected != nil {
			o.Connected(err)
		}
	}
	backoff := o.MinBackoff
	for ctx.Err() == nil {
		start := time.Now()
		err := session(ctx, o, report)
		report(err)
		if time.Since(start) > o.MaxBackoff {
			backoff = o.MinBackoff // it was up for a while: redial soon
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		backoff = min(backoff*2, o.MaxBackoff)
	}
}

func session(ctx context.Context, o Options, report func(error)) error {
	conn, err := o.Dial(ctx)
	if err != nil {
		return err
	}
	s, err := yamux.Server(conn, muxConfig())
	if err != nil {
		conn.Close()
		return err
	}
	defer s.Close()
	stop := context.AfterFunc(ctx, func() { s.Close() })
	defer stop()
	report(nil)
	for {
		st, err := s.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("tunnel dropped: %w", err)
		}
		go serveStream(ctx, st, o)
	}
}

func serveStream(ctx context.Context, st net.Conn, o Options) {
	defer st.Close()
	_ = st.SetReadDeadline(time.Now().Add(15 * time.Second))
	header, err := readLine(st)
	if err != nil {
		return
	}
	_ = st.SetReadDeadline(time.Time{})
	network, addr, ok := strings.Cut(header, " ")
	allow := o.Allow
	if network == PacketsNetwork && o.Packets != nil {
		if _, err := io.WriteString(st, "ok\n"); err == nil {
			o.Packets(st)
		}
		return
	}
	if !ok || (network != "tcp" && network != "udp") {
		fmt.Fprintf(st, "err bad header %q\n", header)
		return
	}
	if allow != nil && !allow(network, addr) {
		fmt.Fprintf(st, "err %s %s is not allowed through this node's tunnel\n", network, addr)
		return
	}
	d := net.Dialer{Timeout: 10 * time.Second}
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		fmt.Fprintf(st, "err %v\n", err)
		return
	}
	defer c.Close()
	if _, err := io.WriteString(st, "ok\n"); err != nil {
		return
	}
	Splice(st, c)
}

// Splice copies both ways until either side ends.
func Splice(a, b net.Conn) {
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		} else {
			dst.Close()
		}
		done <- struct{}{}
	}
	go cp(a, b)
	go cp(b, a)
	<-done
	<-done
}
