package hostnet

import "testing"

func TestInterfaceOf(t *testing.T) {
	if _, err := InterfaceOf("192.0.2.77"); err == nil {
		t.Error("found an interface for an address no interface has")
	}
	if name, err := InterfaceOf("127.0.0.1"); err != nil || name != "lo" {
		t.Errorf("InterfaceOf(127.0.0.1) = %q %v", name, err)
	}
}
