package snapshot

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// newStore makes a server dir with a SQLite database holding kine's table
// and one row.
func newStore(t *testing.T, value string) Paths {
	t.Helper()
	p := Paths{ServerDir: t.TempDir()}
	if err := os.MkdirAll(filepath.Dir(p.db()), 0o700); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+p.db())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{"CREATE TABLE kine (name TEXT, value TEXT)", "INSERT INTO kine VALUES ('k', '" + value + "')"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func valueOf(t *testing.T, file string) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+file+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v string
	if err := db.QueryRow("SELECT value FROM kine WHERE name = 'k'").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSaveListRestore(t *testing.T) {
	ctx := context.Background()
	p := newStore(t, "before")
	file, err := Save(ctx, p, "", "snap")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(filepath.Base(file), "snap-") || valueOf(t, file) != "before" {
		t.Fatalf("snapshot %s", file)
	}
	list, err := List(p, "")
	if err != nil || len(list) != 1 || list[0] != file {
		t.Fatalf("list %v %v", list, err)
	}
	db, _ := sql.Open("sqlite", "file:"+p.db())
	if _, err := db.Exec("UPDATE kine SET value = 'after'"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := Restore(p, filepath.Base(file)); err != nil { // a bare name, as ls prints it
		t.Fatal(err)
	}
	if got := valueOf(t, p.db()); got != "before" {
		t.Errorf("after restore the value is %q", got)
	}
}

func TestRestoreRefusals(t *testing.T) {
	p := newStore(t, "v")
	if err := Restore(p, ""); err == nil || !strings.Contains(err.Error(), "snapshot ls") {
		t.Errorf("empty name: %v", err)
	}
	if err := Restore(p, "/nope/missing.db"); err == nil || !strings.Contains(err.Error(), "missing.db") {
		t.Errorf("missing file: %v", err)
	}
	junk := filepath.Join(t.TempDir(), "junk.db")
	_ = os.WriteFile(junk, []byte("not sqlite"), 0o600)
	if err := Restore(p, junk); err == nil || !strings.Contains(err.Error(), "not an edgelet snapshot") {
		t.Errorf("junk file: %v", err)
	}
	if got := valueOf(t, p.db()); got != "v" {
		t.Error("a refused restore changed the database")
	}
	if _, err := Save(context.Background(), Paths{ServerDir: t.TempDir()}, "", ""); err == nil || !strings.Contains(err.Error(), "no SQLite datastore") {
		t.Errorf("save without a database: %v", err)
	}
}
