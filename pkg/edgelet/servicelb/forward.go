package servicelb

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// forwarder relays TCP connections from a listener to a target address.
type forwarder struct {
	ln     net.Listener
	target atomic.Value // string
}

// listenForward listens on addr and relays each connection to target.
func listenForward(addr, target string) (*forwarder, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	f := &forwarder{ln: ln}
	f.target.Store(target)
	go f.serve()
	return f, nil
}

func (f *forwarder) Close() error { return f.ln.Close() }

func (f *forwarder) serve() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return // closed
		}
		go f.relay(c)
	}
}

// relay copies both ways and passes on each side's half-close.
func (f *forwarder) relay(c net.Conn) {
	defer c.Close()
	u, err := net.DialTimeout("tcp", f.target.Load().(string), 5*time.Second)
	if err != nil {
		return
	}
	defer u.Close()
	var wg sync.WaitGroup
	pipe := func(dst, src net.Conn) {
		defer wg.Done()
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}
	wg.Add(2)
	go pipe(u, c)
	go pipe(c, u)
	wg.Wait()
}
