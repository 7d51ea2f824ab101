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
// database through kine (--datastore-endpoint): PostgreSQL, and MySQL (the
// MariaDB server of Debian's packages). The objects are rows of that
// database, not of a SQLite file in the node, and they survive a restart
// of the server container.
func TestExternalDatastore(t *testing.T) {
	inLane(t, laneClusters)
	e := setup(t)
	t.Run("postgres", func(t *testing.T) {
		const name, subnet = "e2e-pg", "10.89.250.0/24"
		port := freeHostPort(t)
		psql := startPostgres(t, port, subnet)
		// The host is the gateway (.1) of the cluster's network. kine
		// creates the database on first start.
		dsn := fmt.Sprintf("postgres://postgres@10.89.250.1:%d/kubernetes?sslmode=disable", port)
		checkDatastore(t, e, name, subnet, dsn, func(key string) string {
			return psql("kubernetes", "SELECT count(*) FROM kine WHERE name = '"+key+"'")
		})
	})
	t.Run("mysql", func(t *testing.T) {
		const name, subnet = "e2e-mysql", "10.89.248.0/24"
		port := freeHostPort(t)
		mysql := startMySQL(t, port)
		dsn := fmt.Sprintf("mysql://root@tcp(10.89.248.1:%d)/kubernetes", port)
		checkDatastore(t, e, name, subnet, dsn, func(key string) string {
			return mysql("SELECT count(*) FROM kubernetes.kine WHERE name = '" + key + "'")
		})
	})
}

// checkDatastore creates a cluster whose server keeps its data at dsn, and
// checks with count (the rows of a key) that a ConfigMap is a row there,
// that no SQLite file was written, and that the ConfigMap is served after
// the server restarts.
func checkDatastore(t *testing.T, e *env, name, subnet, dsn string, count func(key string) string) {
	e.create(t, &v1alpha1.Cluster{Name: name, Network: v1alpha1.Network{Subnet: subnet},
		ServerArgs: []string{"datastore-endpoint=" + dsn}})
	client := e.client(t, name)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "in-the-database", Namespace: "default"}, Data: map[string]string{"k": "v"}}
	if _, err := client.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rows := count("/registry/configmaps/default/in-the-database")
	if n, _ := strconv.Atoi(rows); n < 1 {
		t.Fatalf("the ConfigMap is not a row of the database's kine table (count %q)", rows)
	}
	if rows := count("/registry/configmaps/default/never-made"); rows != "0" {
		t.Fatalf("the count of a key never written is %q, not 0: the query checks nothing", rows)
	}
	server := nodeName(name, "server", 0)
	if out := e.nodeExec(t, server, "sh", "-c", "ls /var/lib/edgelet/server/db/ 2>/dev/null || true"); strings.Contains(out, "state.db") {
		t.Errorf("the server also wrote a SQLite datastore: %s", out)
	}

	restart(ctx, t, e, server)
	err := wait.PollUntilContextTimeout(ctx, time.Second, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		got, err := client.CoreV1().ConfigMaps("default").Get(ctx, "in-the-database", metav1.GetOptions{})
		return err == nil && got.Data["k"] == "v", nil
	})
	if err != nil {
		t.Fatalf("ConfigMap not served after the server restarted: %v", err)
	}
}

// startMySQL runs a throwaway MariaDB server from the host's packages
// (`make deps` installs mariadb-server) on port, on every address (the
// cluster reaches it at its network's gateway), without grant tables: any
// user is root. It returns a function that runs a query and returns its
// output.
func startMySQL(t testing.TB, port int) func(query string) string {
	t.Helper()
	if _, err := exec.LookPath("mariadbd"); err != nil {
		if _, err := os.Stat("/usr/sbin/mariadbd"); err != nil {
			t.Fatal("mariadbd not found (run `make deps`, which installs the mariadb-server package)")
		}
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if out, err := exec.Command("mariadb-install-db", "--no-defaults", "--datadir="+data, "--user=root", "--skip-test-db",
		"--auth-root-authentication-method=normal").CombinedOutput(); err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s", err, out)
	}
	sock := filepath.Join(dir, "mysql.sock")
	logFile := filepath.Join(dir, "mariadb.log")
	srv := exec.Command("/usr/sbin/mariadbd", "--no-defaults", "--datadir="+data, "--user=root", "--port="+strconv.Itoa(port),
		"--bind-address=0.0.0.0", "--socket="+sock, "--pid-file="+filepath.Join(dir, "mariadb.pid"), "--log-error="+logFile,
		"--skip-grant-tables", "--skip-name-resolve", "--innodb-flush-log-at-trx-commit=0")
	startServer(t, srv, "mariadb", logFile)
	query := func(q string) (string, error) {
		out, err := exec.Command("mariadb", "--no-defaults", "-h", "127.0.0.1", "-P", strconv.Itoa(port), "-u", "root", "-N", "-B", "-e", q).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := query("SELECT 1"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(logFile)
			t.Fatalf("mariadbd did not accept connections within 60s:\n%s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return func(q string) string {
		out, err := query(q)
		if err != nil {
			t.Fatalf("mariadb %q: %v\n%s", q, err, out)
		}
		return out
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
	startServer(t, srv, "postgres", logFile.Name())
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

// startServer starts a database server for the test, and at its end stops it
// with SIGINT (a fast shutdown for both), killing it after 20 s; when the
// test failed, it logs the end of the server's log.
func startServer(t testing.TB, srv *exec.Cmd, name, logFile string) {
	t.Helper()
	if err := srv.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = srv.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = srv.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = srv.Process.Kill()
		}
		if t.Failed() {
			if out, err := os.ReadFile(logFile); err == nil {
				t.Logf("%s log:\n%s", name, lastLines(string(out), 40))
			}
		}
	})
}
