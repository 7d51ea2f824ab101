package etcd

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"
)

// ClientCerts are the files a server keeps in tlsDir for talking to its
// local member as a client.
func ClientCerts(tlsDir string) Certs {
	return Certs{
		CAFile:     filepath.Join(tlsDir, "etcd-ca.crt"),
		ClientCert: filepath.Join(tlsDir, "etcd-client.crt"),
		ClientKey:  filepath.Join(tlsDir, "etcd-client.key"),
	}
}

// MemberInfo is one member of the cluster, as etcd reports it.
type MemberInfo struct {
	Name    string `json:"name"`
	ID      string `json:"id"`
	PeerURL string `json:"peerURL"`
	Learner bool   `json:"learner"`
}

// Members lists the cluster's members through the local member.
func Members(ctx context.Context, certs Certs) ([]MemberInfo, error) {
	cli, err := client(certs, ClientURL)
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	lctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	resp, err := cli.MemberList(lctx)
	if err != nil {
		return nil, fmt.Errorf("list etcd members (is this server's etcd running?): %w", err)
	}
	out := make([]MemberInfo, 0, len(resp.Members))
	for _, m := range resp.Members {
		info := MemberInfo{Name: m.Name, ID: fmt.Sprintf("%x", m.ID), Learner: m.IsLearner}
		if len(m.PeerURLs) > 0 {
			info.PeerURL = m.PeerURLs[0]
		}
		out = append(out, info)
	}
	return out, nil
}

// ErrNoMember is returned by RemoveMember for a name etcd does not know.
var ErrNoMember = errors.New("no such etcd member")

// RemoveMember removes the member called name, through the local member.
// Remove a server's member before the server goes away for good: a
// departed member that stays in the list still counts toward the quorum.
func RemoveMember(ctx context.Context, certs Certs, name string) error {
	cli, err := client(certs, ClientURL)
	if err != nil {
		return err
	}
	defer cli.Close()
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := cli.MemberList(rctx)
	if err != nil {
		return fmt.Errorf("list etcd members: %w", err)
	}
	for _, m := range resp.Members {
		if m.Name != name {
			continue
		}
		if _, err := cli.MemberRemove(rctx, m.ID); err != nil {
			return fmt.Errorf("remove etcd member %s: %w", name, err)
		}
		return nil
	}
	return fmt.Errorf("%w: %s", ErrNoMember, name)
}
