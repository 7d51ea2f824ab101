package v1alpha1

import (
	"fmt"
	"strconv"
	"strings"
)

// ParsePort reads the --port flag form: [HOSTIP:]HOSTPORT:CONTAINERPORT[/PROTO][@NODE],
// where NODE is loadbalancer (the default), server:N or agent:N.
func ParsePort(s string) (Port, error) {
	p := Port{Protocol: "tcp", Node: "loadbalancer"}
	spec, node, ok := strings.Cut(s, "@")
	if ok {
		p.Node = node
	}
	spec, proto, ok := strings.Cut(spec, "/")
	if ok {
		p.Protocol = proto
	}
	parts := strings.Split(spec, ":")
	if len(parts) == 3 {
		p.HostIP, parts = parts[0], parts[1:]
	}
	if len(parts) != 2 {
		return p, fmt.Errorf("port %q: want [HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|udp][@loadbalancer|@server:N|@agent:N]", s)
	}
	var err error
	if p.HostPort, err = strconv.Atoi(parts[0]); err != nil {
		return p, fmt.Errorf("port %q: host port %q is not a number", s, parts[0])
	}
	if p.ContainerPort, err = strconv.Atoi(parts[1]); err != nil {
		return p, fmt.Errorf("port %q: container port %q is not a number", s, parts[1])
	}
	return p, nil
}
