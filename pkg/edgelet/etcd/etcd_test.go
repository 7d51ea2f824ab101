package etcd

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgectl/edgectl/pkg/edgelet/pki"
)

// A real one-member etcd on loopback: it starts with mutual TLS, lists
// itself, and RemoveMember of an unknown name is ErrNoMember.
func TestStartListAndRemove(t *testing.T) {
	const ip = "127.0.0.2" // 127.0.0.1:2379 is the member's local client URL too
	for _, addr := range []string{"127.0.0.1:2379", ip + ":2379", ip + ":2380"} {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Skipf("%s is taken here: %v", addr, err)
		}
		l.Close()
	}
	dir := t.TempDir()
	tls := filepath.Join(dir, "tls")
	ca, err := pki.EnsureCA(tls, "etcd-ca", "test-etcd-ca")
	if err != nil {
		t.Fatal(err)
	}
	names := pki.CertSpec{CommonName: "m0", DNSNames: []string{"localhost"}, IPs: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP(ip)}, Server: true, Client: true}
	certs := ClientCerts(tls)
	if certs.ServerCert, certs.ServerKey, err = ca.EnsureCert(tls, "etcd-server", names); err != nil {
		t.Fatal(err)
	}
	if certs.PeerCert, certs.PeerKey, err = ca.EnsureCert(tls, "etcd-peer", names); err != nil {
		t.Fatal(err)
	}
	if certs.ClientCert, certs.ClientKey, err = ca.EnsureCert(tls, "etcd-client", pki.CertSpec{CommonName: "client", Client: true}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e, err := Start(ctx, Member{Name: "m0", IP: ip, DataDir: filepath.Join(dir, "data"), Certs: certs})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	members, err := Members(ctx, certs)
	if err != nil || len(members) != 1 || members[0].Name != "m0" || members[0].PeerURL != "https://"+ip+":2380" || members[0].Learner {
		t.Fatalf("members %+v %v", members, err)
	}
	if err := RemoveMember(ctx, certs, "nobody"); !errors.Is(err, ErrNoMember) {
		t.Errorf("remove of an unknown member: %v", err)
	}
}
