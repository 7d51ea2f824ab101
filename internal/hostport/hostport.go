// Package hostport answers whether a TCP port of the host can be bound, for
// the preflight checks of cluster and registry creation.
package hostport

import (
	"net"
	"strconv"
)

// Free reports whether ip:port can be bound now.
func Free(ip string, port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// Pick returns a port of ip that is free now.
func Pick(ip string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
