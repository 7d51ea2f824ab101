package agent

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
)

// TestServerProxy: a connection goes to the first server that answers, and
// the next ones start there.
func TestServerProxy(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()
	live, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	go func() {
		for {
			c, err := live.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				line, _ := bufio.NewReader(c).ReadString('\n')
				_, _ = c.Write([]byte("live " + line))
			}()
		}
	}()
	u, err := serveServerProxy(ctx, "127.0.0.1:0", []string{"https://" + deadAddr, "https://" + live.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		c, err := net.Dial("tcp", strings.TrimPrefix(u, "https://"))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.Write([]byte("hello\n"))
		got, err := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if err != nil || got != "live hello\n" {
			t.Fatalf("connection %d: %q %v", i, got, err)
		}
	}
}
