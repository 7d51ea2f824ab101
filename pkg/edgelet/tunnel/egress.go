package tunnel

import (
	"context"
	"net"
	"net/http"
	"time"
)

// Egress serves kube-apiserver's egress selector for the cluster network
// (proxyProtocol HTTPConnect): for `CONNECT host:port`, a node that has a
// tunnel here and answers to host is dialed through the tunnel, at port on
// its own loopback (its kubelet); any other address is dialed directly.
type Egress struct {
	Hub *Hub
	// NodeFor names the node at a host address ("" when none is known).
	NodeFor func(host string) string
}

func (e *Egress) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
		return
	}
	host, port, err := net.SplitHostPort(r.Host)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
	defer cancel()
	var upstream net.Conn
	if node := e.nodeFor(host); node != "" && e.Hub.Connected(node) {
		upstream, err = e.Hub.Dial(ctx, node, "tcp", net.JoinHostPort("127.0.0.1", port))
	} else {
		var d net.Dialer
		upstream, err = d.DialContext(ctx, "tcp", r.Host)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		upstream.Close()
		http.Error(w, "cannot hijack", http.StatusInternalServerError)
		return
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		upstream.Close()
		return
	}
	defer conn.Close()
	defer upstream.Close()
	if _, err := conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n")); err != nil {
		return
	}
	if n := buf.Reader.Buffered(); n > 0 {
		pending, _ := buf.Reader.Peek(n)
		if _, err := upstream.Write(pending); err != nil {
			return
		}
	}
	Splice(conn, upstream)
}

func (e *Egress) nodeFor(host string) string {
	if e.NodeFor == nil {
		return ""
	}
	return e.NodeFor(host)
}
