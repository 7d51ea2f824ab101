package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
)

// TestExternalDatastore: a server keeps the cluster in an external
// PostgreSQL through kine (--datastore-endpoint). The objects are rows in
// PostgreSQL, not in a SQLite file in the node, and they survive a restart
// of the server container.
func TestExternalDatastore(t *testing.T) {
	e := setup(t)
	const name, subnet = "e2e-pg", "10.89.250.0/24"
	port := freeHostPort(t)
	psql := startPostgres(t, port, subnet)
	// The host is the gateway (.1) of the cluster's network. kine creates
	// the database on first start.
	dsn := fmt.Sprintf("postgres://postgres@10.89.250.1:%d/kubernetes?sslmode=disable", port)
	e.create(t, &v1alpha1.Cluster{Name: name, Network: v1alpha1.Network{Subnet: subnet},
		ServerArgs: []string{"datastore-endpoint=" + dsn}})
	client := e.client(t, name)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "in-postgres", Namespace: "default"}, Data: map[string]string{"k": "v"}}
	if _, err := client.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rows := psql("kubernetes", "SELECT count(*) FROM kine WHERE name = '/registry/configmaps/default/in-postgres'")
	if n, _ := strconv.Atoi(rows); n < 1 {
		t.Fatalf("the ConfigMap is not a row of PostgreSQL's kine table (count %q)", rows)
	}
	server := nodeName(name, "server", 0)
	if out := e.nodeExec(t, server, "sh", "-c", "ls /var/lib/edgelet/server/db/ 2>/dev/null || true"); strings.Contains(out, "state.db") {
		t.Errorf("the server also wrote a SQLite datastore: %s", out)
	}

	restart(ctx, t, e, server)
	err := wait.PollUntilContextTimeout(ctx, time.Second, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		got, err := client.CoreV1().ConfigMaps("default").Get(ctx, "in-postgres", metav1.GetOptions{})
		return err == nil && got.Data["k"] == "v", nil
	})
	if err != nil {
		t.Fatalf("ConfigMap not served after the server restarted: %v", err)
	}
}

// startPostgres runs a throwaway PostgreSQL server from the host's
// packages (`make deps` installs them) on port, reachable from the cluster
// subnet, and returns a function that runs a query and returns its output.
func startPostgres(t testing.TB, port int, subnet string) func(db, query string) string {
	t.Helper()
	bin := postgresBin(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	// PostgreSQL refuses to run as root: run it as the postgres user.
	var asUser []string
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("PostgreSQL runs as the postgres user, which is missing (run `make deps`): %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		// t.TempDir's parent is only root's; PostgreSQL must reach dir.
		_ = os.Chmod(filepath.Dir(dir), 0o755)
		asUser = []string{"runuser", "-u", "postgres", "--"}
	}
	run := func(args ...string) *exec.Cmd {
		full := append(append([]string{}, asUser...), args...)
		return exec.Command(full[0], full[1:]...)
	}
	if out, err := run(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	hba, err := os.OpenFile(filepath.Join(data, "pg_hba.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(hba, "host all all %s trust\n", subnet)
	hba.Close()
	srv := run(filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(port), "-c", "listen_addresses=*",
		"-c", "unix_socket_directories="+dir, "-c", "fsync=off")
	logFile, err := os.Create(filepath.Join(dir, "postgres.log"))
	if err != nil {
		t.Fatal(err)
	}
	srv.Stdout, srv.Stderr = logFile, logFile
	if err := srv.Start(); err != nil {
		t.Fatalf("start postgres: %v", err)
	}
	t.Cleanup(func() {
		_ = srv.Process.Signal(os.Interrupt) // fast shutdown
		done := make(chan struct{})
		go func() { _ = srv.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = srv.Process.Kill()
		}
		if t.Failed() {
			if out, err := os.ReadFile(logFile.Name()); err == nil {
				t.Logf("postgres log:\n%s", out)
			}
		}
	})
	query := func(db, q string) string {
		out, err := exec.Command(filepath.Join(bin, "psql"), "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "postgres",
			"-d", db, "-tAc", q).CombinedOutput()
		if err != nil {
			t.Fatalf("psql %q: %v\n%s", q, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := exec.Command(filepath.Join(bin, "pg_isready"), "-h", "127.0.0.1", "-p", strconv.Itoa(port)).Run(); err == nil {
			return query
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(logFile.Name())
			t.Fatalf("postgres did not accept connections within 30s:\n%s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// postgresBin finds the directory of the PostgreSQL server programs.
func postgresBin(t testing.TB) string {
	t.Helper()
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i]
		}
	}
	t.Fatal("PostgreSQL server programs not found under /usr/lib/postgresql (run `make deps`, which installs the postgresql package)")
	return ""
}
