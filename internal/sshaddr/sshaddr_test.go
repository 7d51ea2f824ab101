package sshaddr

import "testing"

func TestParse(t *testing.T) {
	for in, want := range map[string]Addr{
		"10.0.0.5":           {"root", "10.0.0.5", 22},
		"pi@board-7":         {"pi", "board-7", 22},
		"pi@board-7:2222":    {"pi", "board-7", 2222},
		"admin@[fd00::5]:23": {"admin", "fd00::5", 23},
	} {
		got, err := Parse(in, 0)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "pi@", "@host", "pi@host:0", "pi@host:x", "pi@a b"} {
		if _, err := Parse(bad, 0); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
	if a, _ := Parse("h", 2022); a.HostPort() != "h:2022" {
		t.Errorf("default port: %s", a.HostPort())
	}
}
