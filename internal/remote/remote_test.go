package remote

import "testing"

func TestParseTarget(t *testing.T) {
	for in, want := range map[string]string{
		"pi@192.168.1.50":       "pi@192.168.1.50:22",
		"10.0.0.5":              "root@10.0.0.5:22",
		"admin@gw.example:2222": "admin@gw.example:2222",
		"u@[fd00::2]:22":        "u@[fd00::2]:22",
	} {
		got, err := ParseTarget(in, 0)
		if err != nil || got.String() != want {
			t.Errorf("ParseTarget(%q) = %q, %v; want %q", in, got.String(), err, want)
		}
	}
	for _, bad := range []string{"", "pi@", "@host", "pi@host:99999", "pi@host:x", "pi@a b"} {
		if _, err := ParseTarget(bad, 0); err == nil {
			t.Errorf("ParseTarget(%q) passed", bad)
		}
	}
	if q := Quote("it's"); q != `'it'\''s'` {
		t.Errorf("Quote: %s", q)
	}
}
