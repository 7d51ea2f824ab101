// Package sshaddr parses the USER@HOST[:PORT] addresses that edgectl's
// flags and config files give SSH hosts in.
package sshaddr

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Addr is a parsed SSH address.
type Addr struct {
	User string
	Host string
	Port int
}

// Parse parses USER@HOST[:PORT] (the user defaults to root, the port to
// port, or 22).
func Parse(s string, port int) (Addr, error) {
	a := Addr{User: "root", Port: port}
	if a.Port == 0 {
		a.Port = 22
	}
	host := s
	if i := strings.LastIndex(s, "@"); i >= 0 {
		a.User, host = s[:i], s[i+1:]
	}
	if h, p, err := net.SplitHostPort(host); err == nil {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return a, fmt.Errorf("%q: port %q is not a number from 1 to 65535", s, p)
		}
		host, a.Port = h, n
	}
	a.Host = strings.Trim(host, "[]")
	if a.User == "" || a.Host == "" || strings.ContainsAny(a.Host, "/ ") {
		return a, fmt.Errorf("%q: want USER@HOST or USER@HOST:PORT", s)
	}
	return a, nil
}

// HostPort is HOST:PORT.
func (a Addr) HostPort() string { return net.JoinHostPort(a.Host, strconv.Itoa(a.Port)) }
