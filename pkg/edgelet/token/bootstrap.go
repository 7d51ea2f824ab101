package token

import (
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Bootstrap tokens are Secrets of type bootstrap.kubernetes.io/token in
// kube-system, named bootstrap-token-ID. The API server itself refuses one
// past its expiration. Two kinds exist:
//
//   - the cluster's own token, derived from the server secret; its holders
//     are in ClusterGroup, whose node certificates kube-controller-manager
//     approves. Container nodes and promoted hosts join with it.
//   - tokens made with `edgectl token create` (and one per `node join`);
//     their holders are in CountedGroup, which may ask for a node
//     certificate but gets it only from edgelet's approver, which counts
//     the nodes each token joined against its uses (AnnotationUses).
const (
	ClusterGroup = "system:bootstrappers:edgelet"
	CountedGroup = "system:bootstrappers:edgelet:counted"

	SecretPrefix     = "bootstrap-token-"
	LabelCounted     = "edgectl.io/token"
	AnnotationUses   = "edgectl.io/uses"    // how many nodes may join with it; absent: any number
	AnnotationUsedBy = "edgectl.io/used-by" // the nodes that joined with it, comma-separated

	// UsedUpGrace is how long a used-up token still authenticates: the
	// kubelet that used it last reads its issued certificate with it.
	UsedUpGrace = 2 * time.Minute
)

// ErrRefused marks a token that may not join another node.
var ErrRefused = errors.New("join token refused")

// Info is what a bootstrap token Secret says.
type Info struct {
	ID          string    `json:"id"`
	Description string    `json:"description,omitempty"`
	Expires     time.Time `json:"expires,omitzero"` // zero: never
	Uses        int       `json:"uses,omitempty"`   // 0: any number
	UsedBy      []string  `json:"usedBy,omitempty"`
	Counted     bool      `json:"counted"` // false: the cluster's own token
}

// Random makes a new token (without the CA hash).
// (rand.Text is base32, [A-Z2-7], unbiased: 16 characters of secret are
// 80 random bits.)
func Random() Token {
	s := strings.ToLower(rand.Text())
	return Token{ID: s[:6], Secret: s[6:22]}
}

// CountedSecret is the Secret of a counted token: its string data, labels
// and annotations.
func CountedSecret(t Token, description string, expires time.Time, uses int) (data, labels, annotations map[string]string) {
	data = map[string]string{
		"token-id": t.ID, "token-secret": t.Secret,
		"usage-bootstrap-authentication": "true",
		"auth-extra-groups":              CountedGroup,
		"description":                    description,
	}
	if !expires.IsZero() {
		data["expiration"] = expires.UTC().Format(time.RFC3339)
	}
	annotations = map[string]string{}
	if uses > 0 {
		annotations[AnnotationUses] = strconv.Itoa(uses)
	}
	return data, map[string]string{LabelCounted: "true"}, annotations
}

// InfoFrom reads a bootstrap token Secret's data and annotations.
func InfoFrom(data map[string][]byte, annotations map[string]string) (Info, error) {
	i := Info{ID: string(data["token-id"]), Description: string(data["description"])}
	if i.ID == "" {
		return i, fmt.Errorf("no token-id")
	}
	i.Counted = slices.Contains(strings.Split(string(data["auth-extra-groups"]), ","), CountedGroup)
	if e := string(data["expiration"]); e != "" {
		t, err := time.Parse(time.RFC3339, e)
		if err != nil {
			return i, fmt.Errorf("token %s: expiration %q: %w", i.ID, e, err)
		}
		i.Expires = t
	}
	if u := annotations[AnnotationUses]; u != "" {
		n, err := strconv.Atoi(u)
		if err != nil || n < 0 {
			return i, fmt.Errorf("token %s: %s %q is not a count", i.ID, AnnotationUses, u)
		}
		i.Uses = n
	}
	if b := annotations[AnnotationUsedBy]; b != "" {
		i.UsedBy = strings.Split(b, ",")
	}
	return i, nil
}

// UsedUp says whether every use of a counted token is spent.
func (i Info) UsedUp() bool { return i.Uses > 0 && len(i.UsedBy) >= i.Uses }

// Refusal says why the token cannot join a new node now (nil: it can).
func (i Info) Refusal(now time.Time) error {
	switch {
	case i.UsedUp():
		return fmt.Errorf("%w: token %s was used up: %d of %d use(s), by %s", ErrRefused, i.ID, len(i.UsedBy), i.Uses, strings.Join(i.UsedBy, ", "))
	case !i.Expires.IsZero() && !now.Before(i.Expires):
		return fmt.Errorf("%w: token %s expired at %s", ErrRefused, i.ID, i.Expires.UTC().Format(time.RFC3339))
	}
	return nil
}

// Use records that node joins with the token. A node that used it already
// (a kubelet that asked again) is no new use. It returns the new Info, and
// the new expiration when this use spent the token's last one: the token
// then stops authenticating after UsedUpGrace.
func (i Info) Use(node string, now time.Time) (Info, error) {
	if slices.Contains(i.UsedBy, node) {
		return i, nil
	}
	if err := i.Refusal(now); err != nil {
		return i, err
	}
	i.UsedBy = append(slices.Clone(i.UsedBy), node)
	if i.UsedUp() {
		if end := now.Add(UsedUpGrace); i.Expires.IsZero() || end.Before(i.Expires) {
			i.Expires = end
		}
	}
	return i, nil
}

// State is a short word for a listing: valid, expired or used up.
func (i Info) State(now time.Time) string {
	switch {
	case i.UsedUp():
		return "used up"
	case !i.Expires.IsZero() && !now.Before(i.Expires):
		return "expired"
	}
	return "valid"
}
