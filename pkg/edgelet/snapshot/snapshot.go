// Package snapshot backs up and restores the server's SQLite datastore.
// Save uses SQLite's VACUUM INTO, which writes a consistent copy while kine
// keeps serving; restore replaces the database while the server is stopped.
package snapshot

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	_ "modernc.org/sqlite" // database/sql driver "sqlite" (kine's own, without cgo)

	"github.com/edgectl/edgectl/internal/fsutil"
)

// Paths of a server's datastore.
type Paths struct {
	ServerDir string // DATA_DIR/server
}

func (p Paths) db() string      { return filepath.Join(p.ServerDir, "db", "state.db") }
func (p Paths) socket() string  { return filepath.Join(p.ServerDir, "kine.sock") }
func (p Paths) Default() string { return filepath.Join(p.ServerDir, "db", "snapshots") }

// Save writes a consistent snapshot of the datastore into dir and returns its path.
func Save(ctx context.Context, p Paths, dir, name string) (string, error) {
	if _, err := os.Stat(p.db()); err != nil {
		return "", fmt.Errorf("no SQLite datastore at %s (snapshots of an external datastore are that database's job): %w", p.db(), err)
	}
	if dir == "" {
		dir = p.Default()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	if name == "" {
		host, _ := os.Hostname()
		name = "edgelet-snapshot-" + host
	}
	dst := filepath.Join(dir, fmt.Sprintf("%s-%s.db", name, time.Now().UTC().Format("20060102T150405Z")))
	db, err := sql.Open("sqlite", "file:"+p.db()+"?_pragma=busy_timeout(30000)")
	if err != nil {
		return "", err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", dst); err != nil {
		return "", fmt.Errorf("snapshot %s: %w", p.db(), err)
	}
	return dst, nil
}

// List returns the snapshots in dir, oldest first.
func List(p Paths, dir string) ([]string, error) {
	if dir == "" {
		dir = p.Default()
	}
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".db") {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}

// Restore replaces the datastore with a snapshot. The server must be stopped:
// kine holds the database open while it runs.
func Restore(p Paths, file string) error {
	if c, err := net.DialTimeout("unix", p.socket(), time.Second); err == nil {
		c.Close()
		return fmt.Errorf("the server is running (kine answers on %s): stop it first (`systemctl stop edgelet`), restore, then start it", p.socket())
	}
	if file == "" {
		return errors.New("no snapshot file given (`edgelet snapshot ls` lists them)")
	}
	if _, err := os.Stat(file); err != nil && !strings.ContainsRune(file, '/') {
		// A bare name, as `snapshot ls` shows it, is one in the default directory.
		file = filepath.Join(p.Default(), file)
	}
	if _, err := os.Stat(file); err != nil {
		return fmt.Errorf("snapshot %q: %w (`edgelet snapshot ls` lists them)", file, err)
	}
	if err := checkSnapshot(file); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p.db()), 0o700); err != nil {
		return err
	}
	tmp := p.db() + ".restore"
	if err := fsutil.CopyFile(file, tmp); err != nil {
		return err
	}
	// The WAL and shared-memory files belong to the database being replaced.
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Remove(p.db() + suffix); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	return os.Rename(tmp, p.db())
}

// checkSnapshot opens the file as SQLite and looks for kine's table.
func checkSnapshot(file string) error {
	db, err := sql.Open("sqlite", "file:"+file+"?mode=ro")
	if err != nil {
		return err
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM kine").Scan(&n); err != nil {
		return fmt.Errorf("%s is not an edgelet snapshot: %w", file, err)
	}
	return nil
}
