package iprange

import (
	"net/netip"
	"testing"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]string{
		"10.89.0.224-10.89.0.254": "10.89.0.224-10.89.0.254",
		"10.89.0.224/27":          "10.89.0.225-10.89.0.254",
		"10.89.0.7/32":            "10.89.0.7-10.89.0.7",
		"10.89.0.5 - 10.89.0.6":   "10.89.0.5-10.89.0.6",
	} {
		r, err := Parse(in)
		if err != nil || r.String() != want {
			t.Errorf("Parse(%q) = %v, %v; want %s", in, r, err, want)
		}
	}
	for _, bad := range []string{"", "10.89.0.9-10.89.0.1", "x-y", "fd00::/120", "10.89.0.1"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

func TestTailSizeAll(t *testing.T) {
	r := Tail(netip.MustParsePrefix("10.89.3.0/24"), 31)
	if r.String() != "10.89.3.224-10.89.3.254" || r.Size() != 31 {
		t.Fatalf("Tail = %s (%d)", r, r.Size())
	}
	if !r.Within(netip.MustParsePrefix("10.89.3.0/24")) || r.Within(netip.MustParsePrefix("10.89.3.0/25")) {
		t.Error("Within")
	}
	if !r.Contains(netip.MustParsePrefix("10.89.3.230/32").Addr()) || r.Contains(netip.MustParseAddr("10.89.3.255")) {
		t.Error("Contains")
	}
	n := 0
	for range r.All {
		n++
	}
	if n != 31 {
		t.Errorf("All gave %d addresses", n)
	}
	if got := Tail(netip.MustParsePrefix("10.0.0.0/16"), 31).String(); got != "10.0.255.224-10.0.255.254" {
		t.Errorf("Tail /16 = %s", got)
	}
}
