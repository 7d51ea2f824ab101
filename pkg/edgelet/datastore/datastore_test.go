package datastore

import (
	"strings"
	"testing"
)

func TestRedactHidesThePassword(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://user:secret@db:5432/k8s": "postgres://user:***@db:5432/k8s",
		"mysql://root@tcp(db)/k8s":           "mysql://root:***@tcp(db)/k8s",
		"sqlite:///var/lib/state.db":         "sqlite:///var/lib/state.db",
		"no-scheme":                          "no-scheme",
	} {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
	if dsn := DefaultSQLiteDSN("/d"); !strings.HasPrefix(dsn, "sqlite:///d/state.db?") || !strings.Contains(dsn, "journal") {
		t.Errorf("DSN %q", dsn)
	}
}
