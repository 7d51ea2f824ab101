package agent

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"time"

	"k8s.io/klog/v2"
)

// ServerProxyAddress is where an agent with more than one server reaches
// the API: a local TCP proxy over the servers. Every server's certificate
// names 127.0.0.1, so TLS goes through it unchanged.
const ServerProxyAddress = "127.0.0.1:6444"

// ServeServerProxy listens on ServerProxyAddress until ctx ends and sends
// each connection to the server that last answered, or to the next one
// that does: a stopped server costs its clients one reconnect. It returns
// the URL the agent's components use.
func ServeServerProxy(ctx context.Context, servers []string) (string, error) {
	return serveServerProxy(ctx, ServerProxyAddress, servers)
}

func serveServerProxy(ctx context.Context, address string, servers []string) (string, error) {
	p := &serverProxy{}
	for _, s := range servers {
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			return "", fmt.Errorf("server %q: not https://HOST:PORT", s)
		}
		p.addrs = append(p.addrs, u.Host)
	}
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", address)
	if err != nil {
		return "", fmt.Errorf("server proxy: %w", err)
	}
	context.AfterFunc(ctx, func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go p.serve(ctx, c)
		}
	}()
	klog.InfoS("Reaching the API through the local server proxy", "address", l.Addr(), "servers", p.addrs)
	return "https://" + l.Addr().String(), nil
}

type serverProxy struct {
	addrs []string
	mu    sync.Mutex
	good  int // the server that answered last
}

// dial connects to the server that answered last, or the next that does.
func (p *serverProxy) dial(ctx context.Context) (net.Conn, error) {
	p.mu.Lock()
	start := p.good
	p.mu.Unlock()
	d := net.Dialer{Timeout: 3 * time.Second}
	var last error
	for i := range p.addrs {
		n := (start + i) % len(p.addrs)
		c, err := d.DialContext(ctx, "tcp", p.addrs[n])
		if err == nil {
			if n != start {
				klog.InfoS("Server proxy: switched server", "from", p.addrs[start], "to", p.addrs[n])
			}
			p.mu.Lock()
			p.good = n
			p.mu.Unlock()
			return c, nil
		}
		last = err
	}
	return nil, last
}

func (p *serverProxy) serve(ctx context.Context, c net.Conn) {
	defer c.Close()
	up, err := p.dial(ctx)
	if err != nil {
		klog.V(2).InfoS("Server proxy: no server answers", "err", err)
		return
	}
	defer up.Close()
	// Either side ending ends both (the deferred closes).
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go pipe(up, c)
	go pipe(c, up)
	<-done
}
