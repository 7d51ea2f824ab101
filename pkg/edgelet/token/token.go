// Package token defines edgelet's join token. A full token is
//
//	E1<sha256 of the cluster CA, hex>::<bootstrap token id>.<secret>
//
// The hash pins the cluster CA, so an agent never trusts a server blindly;
// the bootstrap token (a standard Kubernetes bootstrap token) lets the
// agent's kubelet request its own client certificate and nothing more.
// A server may also be given a plain shared secret: the bootstrap token is
// then derived from it, so every server of a cluster agrees on it.
package token

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
)

const prefix = "E1"

var bootstrapRE = regexp.MustCompile(`^[a-z0-9]{6}\.[a-z0-9]{16}$`)

// Token is a parsed join token.
type Token struct {
	CAHash string // empty when the token does not pin a CA
	ID     string
	Secret string
}

// Bootstrap is the bearer token, id.secret.
func (t Token) Bootstrap() string { return t.ID + "." + t.Secret }

// String is the full join token.
func (t Token) String() string { return prefix + t.CAHash + "::" + t.Bootstrap() }

// FromSecret derives the bootstrap token from a shared secret (or uses it as
// is when it already has the id.secret form).
func FromSecret(secret string) Token {
	if bootstrapRE.MatchString(secret) {
		id, s, _ := strings.Cut(secret, ".")
		return Token{ID: id, Secret: s}
	}
	sum := sha256.Sum256([]byte("edgelet-bootstrap:" + secret))
	h := hex.EncodeToString(sum[:])
	return Token{ID: h[:6], Secret: h[6:22]}
}

// Parse reads a full join token.
func Parse(s string) (Token, error) {
	s = strings.TrimSpace(s)
	rest, ok := strings.CutPrefix(s, prefix)
	hash, boot, ok2 := strings.Cut(rest, "::")
	if !ok || !ok2 || len(hash) != 64 || !bootstrapRE.MatchString(boot) {
		return Token{}, fmt.Errorf("malformed join token: want E1<64 hex CA hash>::<6 chars>.<16 chars>, as written to DATA_DIR/server/token on a server")
	}
	if _, err := hex.DecodeString(hash); err != nil {
		return Token{}, fmt.Errorf("malformed join token: CA hash is not hex")
	}
	id, secret, _ := strings.Cut(boot, ".")
	return Token{CAHash: hash, ID: id, Secret: secret}, nil
}
