package token

import (
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	tok := FromSecret("a shared secret")
	tok.CAHash = strings.Repeat("ab", 32)
	got, err := Parse(tok.String())
	if err != nil || got != tok {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	if again := FromSecret("a shared secret"); again != FromSecret(strings.Clone("a shared secret")) || again == FromSecret("another secret") {
		t.Fatal("derivation is not a deterministic function of the secret")
	}
	if b := FromSecret("abcdef.0123456789abcdef"); b.Bootstrap() != "abcdef.0123456789abcdef" {
		t.Fatalf("bootstrap-form secret changed: %s", b.Bootstrap())
	}
}

func TestParseRejectsJunk(t *testing.T) {
	for _, s := range []string{"", "nope", "E1abc::abcdef.0123456789abcdef", "E1" + strings.Repeat("a", 64) + "::short"} {
		if _, err := Parse(s); err == nil {
			t.Errorf("accepted %q", s)
		}
	}
}
