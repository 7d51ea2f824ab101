// Package hostnet finds a node's own interfaces.
package hostnet

import (
	"fmt"
	"net"
)

// InterfaceOf names the interface that holds ip.
func InterfaceOf(ip string) (string, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return "", err
	}
	for _, ifc := range ifaces {
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.String() == ip {
				return ifc.Name, nil
			}
		}
	}
	return "", fmt.Errorf("no interface holds the node IP %s", ip)
}
