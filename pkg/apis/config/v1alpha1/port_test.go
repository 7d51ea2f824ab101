package v1alpha1

import "testing"

func TestParsePort(t *testing.T) {
	cases := map[string]Port{
		"8080:30080":                     {HostPort: 8080, ContainerPort: 30080, Protocol: "tcp", Node: "loadbalancer"},
		"127.0.0.1:53:30053/udp@agent:1": {HostIP: "127.0.0.1", HostPort: 53, ContainerPort: 30053, Protocol: "udp", Node: "agent:1"},
	}
	for in, want := range cases {
		got, err := ParsePort(in)
		if err != nil || got != want {
			t.Errorf("ParsePort(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"8080", "a:80", "80:b", "1:2:3:4"} {
		if _, err := ParsePort(bad); err == nil {
			t.Errorf("ParsePort(%q) accepted", bad)
		}
	}
}
