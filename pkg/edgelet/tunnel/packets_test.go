package tunnel

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// fakeTUN gives one packet per Read from in, and puts every Write on out.
type fakeTUN struct{ in, out chan []byte }

func newFakeTUN() *fakeTUN { return &fakeTUN{in: make(chan []byte, 4), out: make(chan []byte, 4)} }

func (f *fakeTUN) Read(p []byte) (int, error) {
	pkt, ok := <-f.in
	if !ok {
		return 0, io.EOF
	}
	return copy(p, pkt), nil
}

func (f *fakeTUN) Write(p []byte) (int, error) {
	f.out <- append([]byte(nil), p...)
	return len(p), nil
}

func ipv4(dst string, payload string) []byte {
	pkt := make([]byte, 20, 20+len(payload))
	pkt[0] = 0x45
	copy(pkt[16:20], net.ParseIP(dst).To4())
	return append(pkt, payload...)
}

// TestPump: a server's pump sends a node's pod subnet to that node's
// stream, the node's pump sends everything back, and other packets are
// dropped.
func TestPump(t *testing.T) {
	hubTUN, nodeTUN := newFakeTUN(), newFakeTUN()
	defer close(hubTUN.in)
	defer close(nodeTUN.in)
	hub, node := NewPump(hubTUN), NewPump(nodeTUN)
	a, b := net.Pipe()
	_, podSubnet, _ := net.ParseCIDR("10.42.5.0/24")
	_, all, _ := net.ParseCIDR("0.0.0.0/0")
	go hub.Attach(podSubnet, a)
	go node.Attach(all, b)
	time.Sleep(50 * time.Millisecond) // both attached

	hubTUN.in <- ipv4("10.42.9.9", "not the node's")
	toPod := ipv4("10.42.5.7", "to a pod on the node")
	hubTUN.in <- toPod
	expect(t, nodeTUN.out, toPod)
	fromPod := ipv4("10.42.0.3", "to a pod on a container node")
	nodeTUN.in <- fromPod
	expect(t, hubTUN.out, fromPod)
}

func expect(t *testing.T, out <-chan []byte, want []byte) {
	t.Helper()
	select {
	case got := <-out:
		if !bytes.Equal(got, want) {
			t.Fatalf("packet %q, want %q", got[20:], want[20:])
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("packet %q never arrived", want[20:])
	}
}
