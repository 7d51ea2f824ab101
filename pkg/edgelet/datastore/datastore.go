// Package datastore starts the storage the API server talks to: kine, which
// speaks the etcd v3 API over SQLite (the default) or an external SQL
// database. It runs in-process and listens on a unix socket.
package datastore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/k3s-io/kine/pkg/drivers/sqlite"
)

// DefaultSQLiteDSN is the SQLite database under dir with kine's (and k3s's)
// parameters: WAL journaling, a busy timeout so that concurrent writers wait
// instead of failing, and synchronous=NORMAL. In WAL mode NORMAL never
// corrupts the database; a power cut can lose the last commits, and it saves
// an fsync per write (the API server's start-up bootstrap of ~100 RBAC
// objects took 2 s with fsyncs).
func DefaultSQLiteDSN(dir string) string {
	return "sqlite://" + filepath.Join(dir, "state.db") + "?" + sqlite.DefaultParams
}

// StartKine starts kine on a unix socket in serverDir and returns the etcd
// endpoints for kube-apiserver. An empty dsn means SQLite in serverDir/db.
func StartKine(ctx context.Context, serverDir, dsn string) ([]string, error) {
	dbDir := filepath.Join(serverDir, "db")
	if dsn == "" || dsn == "sqlite://" {
		if err := os.MkdirAll(dbDir, 0o700); err != nil {
			return nil, err
		}
		dsn = DefaultSQLiteDSN(dbDir)
		// SQLite gives its -wal and -shm files the database file's mode:
		// made here 0600, none of them is readable by other users.
		if err := privateFile(filepath.Join(dbDir, "state.db")); err != nil {
			return nil, err
		}
	}
	sock := filepath.Join(serverDir, "kine.sock")
	if err := listen(ctx, sock, dsn); err != nil {
		return nil, fmt.Errorf("start kine (%s): %w", redact(dsn), err)
	}
	return []string{"unix://" + sock}, nil
}

// redact hides a password in a DSN before it is logged.
func redact(dsn string) string {
	scheme, rest, ok := strings.Cut(dsn, "://")
	if !ok {
		return dsn
	}
	userinfo, host, ok := strings.Cut(rest, "@")
	if !ok {
		return dsn
	}
	user, _, _ := strings.Cut(userinfo, ":")
	return scheme + "://" + user + ":***@" + host
}

// privateFile creates path if missing and makes it readable by its owner only.
func privateFile(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDONLY, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	return os.Chmod(path, 0o600)
}
