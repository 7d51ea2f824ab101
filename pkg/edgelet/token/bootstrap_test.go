package token

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRandomIsABootstrapToken(t *testing.T) {
	a, b := Random(), Random()
	if !bootstrapRE.MatchString(a.Bootstrap()) || a == b {
		t.Fatalf("Random: %q %q", a.Bootstrap(), b.Bootstrap())
	}
}

// A counted token's Secret reads back as it was made, and each use is
// counted once per node until the token is used up.
func TestCountedTokenUses(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	data, labels, ann := CountedSecret(Token{ID: "abcdef", Secret: "0123456789abcdef"}, "for pi-7", now.Add(time.Hour), 2)
	if labels[LabelCounted] != "true" || data["expiration"] != "2026-12-07T11:00:00Z" {
		t.Fatalf("secret: %v %v", data, labels)
	}
	raw := map[string][]byte{}
	for k, v := range data {
		raw[k] = []byte(v)
	}
	info, err := InfoFrom(raw, ann)
	if err != nil || !info.Counted || info.Uses != 2 || info.Description != "for pi-7" || !info.Expires.Equal(now.Add(time.Hour)) {
		t.Fatalf("InfoFrom: %+v %v", info, err)
	}
	if info, err = info.Use("pi-7", now); err != nil || info.State(now) != "valid" {
		t.Fatalf("first use: %+v %v", info, err)
	}
	if again, err := info.Use("pi-7", now); err != nil || len(again.UsedBy) != 1 {
		t.Fatalf("the same node again is no new use: %+v %v", again, err)
	}
	if info, err = info.Use("pi-8", now); err != nil || !info.UsedUp() || !info.Expires.Equal(now.Add(UsedUpGrace)) {
		t.Fatalf("last use: %+v %v", info, err)
	}
	_, err = info.Use("pi-9", now)
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "used up: 2 of 2 use(s), by pi-7, pi-8") {
		t.Fatalf("a third node: %v", err)
	}
	if info.State(now) != "used up" {
		t.Errorf("state %q", info.State(now))
	}
}

func TestExpiredTokenIsRefused(t *testing.T) {
	now := time.Now()
	i := Info{ID: "abcdef", Expires: now.Add(-time.Second)}
	if err := i.Refusal(now); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "expired at") || i.State(now) != "expired" {
		t.Fatalf("expired: %v %s", err, i.State(now))
	}
	if err := (Info{ID: "abcdef"}).Refusal(now); err != nil {
		t.Fatalf("a token without expiration or uses: %v", err)
	}
	if _, err := InfoFrom(map[string][]byte{"token-id": []byte("abcdef"), "expiration": []byte("tomorrow")}, nil); err == nil {
		t.Error("a bad expiration was read")
	}
	cluster, err := InfoFrom(map[string][]byte{"token-id": []byte("abcdef"), "auth-extra-groups": []byte(ClusterGroup)}, nil)
	if err != nil || cluster.Counted {
		t.Errorf("the cluster's token read as counted: %+v %v", cluster, err)
	}
}
