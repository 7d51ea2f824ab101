// Package etcd runs embedded etcd for HA servers: the first server starts a
// new one-member cluster (--cluster-init); each joining server adds itself as
// a member through an existing member, then starts. Everything speaks mutual
// TLS with certificates from the cluster's etcd CA.
package etcd

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
)

// Certs are the TLS files of one member.
type Certs struct {
	CAFile                string
	ServerCert, ServerKey string // client-facing serving cert
	PeerCert, PeerKey     string
	ClientCert, ClientKey string // for the API server and member management
}

// Member describes this server's etcd.
type Member struct {
	Name    string
	IP      string
	DataDir string
	Certs   Certs
	// Join is the client URL of an existing member (https://IP:2379); empty
	// starts a new cluster.
	Join string
}

// ClientURL is where the API server reaches the local member.
const ClientURL = "https://127.0.0.1:2379"

func peerURL(ip string) string   { return "https://" + ip + ":2380" }
func clientURL(ip string) string { return "https://" + ip + ":2379" }

// Start starts the member and returns when it serves, or fails.
func Start(ctx context.Context, m Member) (*embed.Etcd, error) {
	cfg := embed.NewConfig()
	cfg.Name = m.Name
	cfg.Dir = m.DataDir
	cfg.Logger, cfg.LogLevel = "zap", "warn"
	cfg.ListenClientUrls = []url.URL{mustURL(ClientURL), mustURL(clientURL(m.IP))}
	cfg.AdvertiseClientUrls = []url.URL{mustURL(clientURL(m.IP))}
	cfg.ListenPeerUrls = []url.URL{mustURL(peerURL(m.IP))}
	cfg.AdvertisePeerUrls = []url.URL{mustURL(peerURL(m.IP))}
	cfg.ListenMetricsUrls = nil
	cfg.ClientTLSInfo = transport.TLSInfo{CertFile: m.Certs.ServerCert, KeyFile: m.Certs.ServerKey, TrustedCAFile: m.Certs.CAFile, ClientCertAuth: true}
	cfg.PeerTLSInfo = transport.TLSInfo{CertFile: m.Certs.PeerCert, KeyFile: m.Certs.PeerKey, TrustedCAFile: m.Certs.CAFile, ClientCertAuth: true}
	cfg.InitialClusterToken = "edgelet"
	cfg.InitialCluster = m.Name + "=" + peerURL(m.IP)
	cfg.ClusterState = embed.ClusterStateFlagNew

	var learnerID uint64
	if _, err := os.Stat(filepath.Join(m.DataDir, "member")); err != nil && m.Join != "" {
		// First start of a joining member: register it with the cluster.
		initial, id, err := addMember(ctx, m)
		if err != nil {
			return nil, err
		}
		learnerID = id
		cfg.InitialCluster, cfg.ClusterState = initial, embed.ClusterStateFlagExisting
	}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("start etcd: %w", err)
	}
	select {
	case <-e.Server.ReadyNotify():
		if learnerID != 0 {
			if err := promote(ctx, m, learnerID); err != nil {
				e.Close()
				return nil, err
			}
		}
		return e, nil
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("etcd: %w", err)
	case <-time.After(3 * time.Minute):
		e.Close()
		return nil, fmt.Errorf("etcd member %s did not become ready within 3m (is a quorum of members up?)", m.Name)
	case <-ctx.Done():
		e.Close()
		return nil, ctx.Err()
	}
}

func client(certs Certs, endpoint string) (*clientv3.Client, error) {
	tlsInfo := transport.TLSInfo{CertFile: certs.ClientCert, KeyFile: certs.ClientKey, TrustedCAFile: certs.CAFile}
	tlsCfg, err := tlsInfo.ClientConfig()
	if err != nil {
		return nil, err
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, TLS: tlsCfg, DialTimeout: 10 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("connect to etcd at %s: %w", endpoint, err)
	}
	return cli, nil
}

// promote turns this learner into a voting member once it has caught up
// with the leader (etcd refuses earlier: "can only promote a learner member
// which is in sync with leader"). A learner serves no requests itself, so
// this goes through the member it joined.
func promote(ctx context.Context, m Member, id uint64) error {
	cli, err := client(m.Certs, m.Join)
	if err != nil {
		return err
	}
	defer cli.Close()
	var last error
	for i := 0; i < 120; i++ {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, last = cli.MemberPromote(pctx, id)
		cancel()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return fmt.Errorf("promote etcd learner %s: %w", m.Name, last)
}

// addMember adds this server as a learner through an existing member and
// returns the --initial-cluster value and the new member's ID. A learner does
// not vote, so adding it never costs the cluster its quorum (a plain member
// would, until it started).
func addMember(ctx context.Context, m Member) (string, uint64, error) {
	cli, err := client(m.Certs, m.Join)
	if err != nil {
		return "", 0, err
	}
	defer cli.Close()
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	members, err := cli.MemberList(actx)
	if err != nil {
		return "", 0, fmt.Errorf("list etcd members at %s: %w", m.Join, err)
	}
	// A member of this name left over from an earlier, failed start is
	// removed first: its peer URL is ours.
	for _, mem := range members.Members {
		if mem.Name == m.Name || (len(mem.PeerURLs) > 0 && mem.PeerURLs[0] == peerURL(m.IP)) {
			if _, err := cli.MemberRemove(actx, mem.ID); err != nil {
				return "", 0, fmt.Errorf("remove stale etcd member %s: %w", m.Name, err)
			}
		}
	}
	resp, err := cli.MemberAddAsLearner(actx, []string{peerURL(m.IP)})
	if err != nil {
		return "", 0, fmt.Errorf("add etcd member %s: %w", m.Name, err)
	}
	var parts []string
	for _, mem := range resp.Members {
		name := mem.Name
		if mem.ID == resp.Member.ID {
			name = m.Name
		}
		for _, u := range mem.PeerURLs {
			parts = append(parts, name+"="+u)
		}
	}
	return strings.Join(parts, ","), resp.Member.ID, nil
}

func mustURL(s string) url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return *u
}
