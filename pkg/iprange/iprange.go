// Package iprange is an inclusive range of IPv4 addresses, written
// "FIRST-LAST" or as a CIDR, as a LoadBalancer address pool is.
package iprange

import (
	"fmt"
	"net/netip"
	"strings"
)

// Range is the addresses First to Last, both included.
type Range struct{ First, Last netip.Addr }

// Parse reads "10.89.0.224-10.89.0.254" or "10.89.0.224/27". A CIDR of
// more than one address leaves out its network and broadcast addresses.
func Parse(s string) (Range, error) {
	if first, last, ok := strings.Cut(s, "-"); ok {
		a, err1 := netip.ParseAddr(strings.TrimSpace(first))
		b, err2 := netip.ParseAddr(strings.TrimSpace(last))
		if err1 != nil || err2 != nil || !a.Is4() || !b.Is4() {
			return Range{}, fmt.Errorf("%q: must be FIRST-LAST of two IPv4 addresses, or a CIDR", s)
		}
		if b.Less(a) {
			return Range{}, fmt.Errorf("%q: %s comes after %s", s, a, b)
		}
		return Range{a, b}, nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() {
		return Range{}, fmt.Errorf("%q: must be FIRST-LAST of two IPv4 addresses, or a CIDR", s)
	}
	p = p.Masked()
	r := Range{p.Addr(), last(p)}
	if p.Bits() < 31 {
		r.First, r.Last = r.First.Next(), r.Last.Prev()
	}
	return r, nil
}

// last is the highest address of p.
func last(p netip.Prefix) netip.Addr {
	b := p.Addr().As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= 1<<(32-p.Bits()) - 1
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// Tail is the last n usable addresses of subnet (its broadcast address left out).
func Tail(subnet netip.Prefix, n int) Range {
	end := last(subnet.Masked()).Prev()
	first := end
	for i := 1; i < n && subnet.Contains(first.Prev()); i++ {
		first = first.Prev()
	}
	return Range{first, end}
}

// Contains reports whether a is in r.
func (r Range) Contains(a netip.Addr) bool {
	return a.Is4() && !a.Less(r.First) && !r.Last.Less(a)
}

// Within reports whether all of r is in p.
func (r Range) Within(p netip.Prefix) bool { return p.Contains(r.First) && p.Contains(r.Last) }

// Size is the number of addresses in r.
func (r Range) Size() int {
	a, b := r.First.As4(), r.Last.As4()
	u := func(x [4]byte) int { return int(x[0])<<24 | int(x[1])<<16 | int(x[2])<<8 | int(x[3]) }
	return u(b) - u(a) + 1
}

// All calls yield for each address of r in order, until it returns false.
func (r Range) All(yield func(netip.Addr) bool) {
	for a := r.First; a.IsValid() && !r.Last.Less(a); a = a.Next() {
		if !yield(a) {
			return
		}
	}
}

func (r Range) String() string { return r.First.String() + "-" + r.Last.String() }
