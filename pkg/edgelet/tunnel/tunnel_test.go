package tunnel

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestTunnel: a node dials a server; the server dials an echo service on
// the node's side through it, is refused what the node does not allow, and
// gets the session back after a drop.
func TestTunnel(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	echo := listen(t, func(c net.Conn) {
		defer c.Close()
		sc := bufio.NewScanner(c)
		for sc.Scan() {
			fmt.Fprintf(c, "echo %s\n", sc.Text())
		}
	})
	hub := NewHub()
	var mu sync.Mutex
	var conns []net.Conn
	server := listen(t, func(c net.Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
		_ = hub.Serve("pi-7", c)
	})
	ups := make(chan error, 10)
	go Run(ctx, Options{
		Dial: func(ctx context.Context) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", server)
		},
		Allow:      func(network, addr string) bool { return addr == echo },
		Connected:  func(err error) { ups <- err },
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
	})
	waitUp(t, ups, hub)

	roundTrip(t, hub, echo)
	if _, err := hub.Dial(ctx, "pi-7", "tcp", "127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), "not allowed") {
		t.Errorf("a disallowed address: %v", err)
	}
	if _, err := hub.Dial(ctx, "pi-8", "tcp", echo); err == nil {
		t.Error("dialed through a node with no session")
	}

	// The link drops: the node redials, and the hub has it again.
	mu.Lock()
	conns[0].Close()
	mu.Unlock()
	<-ups // the drop
	waitUp(t, ups, hub)
	roundTrip(t, hub, echo)
}

func waitUp(t *testing.T, ups <-chan error, hub *Hub) {
	t.Helper()
	for err := range ups {
		if err == nil {
			break
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for !hub.Connected("pi-7") {
		if time.Now().After(deadline) {
			t.Fatal("the hub never saw the session")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func roundTrip(t *testing.T, hub *Hub, echo string) {
	t.Helper()
	c, err := hub.Dial(t.Context(), "pi-7", "tcp", echo)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintln(c, "hello")
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != "echo hello\n" {
		t.Fatalf("through the tunnel: %q, %v", line, err)
	}
}

func listen(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go handle(c)
		}
	}()
	return l.Addr().String()
}

// TestEgress: the API server's CONNECT for a tunneled node's address goes
// through the tunnel to the node's loopback; any other goes direct.
func TestEgress(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	kubelet := listen(t, func(c net.Conn) { fmt.Fprintln(c, "kubelet of pi-7"); c.Close() })
	_, port, _ := net.SplitHostPort(kubelet)
	other := listen(t, func(c net.Conn) { fmt.Fprintln(c, "a container node"); c.Close() })
	hub := NewHub()
	server := listen(t, func(c net.Conn) { _ = hub.Serve("pi-7", c) })
	ups := make(chan error, 10)
	go Run(ctx, Options{
		Dial:      func(ctx context.Context) (net.Conn, error) { return (&net.Dialer{}).DialContext(ctx, "tcp", server) },
		Allow:     func(network, addr string) bool { return addr == "127.0.0.1:"+port },
		Connected: func(err error) { ups <- err },
	})
	waitUp(t, ups, hub)
	egress := httptest.NewServer(&Egress{Hub: hub, NodeFor: func(host string) string {
		if host == "192.168.213.2" {
			return "pi-7"
		}
		return ""
	}})
	defer egress.Close()
	for target, want := range map[string]string{"192.168.213.2:" + port: "kubelet of pi-7\n", other: "a container node\n"} {
		c, err := net.Dial("tcp", strings.TrimPrefix(egress.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
		r := bufio.NewReader(c)
		resp, err := http.ReadResponse(r, nil)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("CONNECT %s: %v %v", target, resp, err)
		}
		line, err := r.ReadString('\n')
		if err != nil || line != want {
			t.Errorf("CONNECT %s: %q, %v; want %q", target, line, err, want)
		}
		c.Close()
	}
}
