// Command echo is the test workload of edgectl's e2e suite and demo: an HTTP
// server that answers with the pod's name (/ip: the client's address;
// /burn?ms=N: spin a CPU), a tiny client (`echo get URL`) so
// tests can make requests from inside a pod without a shell image, `echo
// uname` (the machine field of uname(2), as `uname -m` prints it), and
// `echo write FILE TEXT` / `echo cat FILE` for volumes, and `echo push URL`
// (an image of itself, to a plain HTTP registry).
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 2 && os.Args[1] == "get" {
		os.Exit(get(os.Args[2]))
	}
	if len(os.Args) > 2 && os.Args[1] == "push" {
		if err := push(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if len(os.Args) > 1 && os.Args[1] == "uname" {
		var u syscall.Utsname
		if err := syscall.Uname(&u); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		var b []byte
		for _, c := range u.Machine {
			if c == 0 {
				break
			}
			b = append(b, byte(c))
		}
		fmt.Println(string(b))
		os.Exit(0)
	}
	if len(os.Args) > 2 && os.Args[1] == "api" {
		os.Exit(api(os.Args[2]))
	}
	// write FILE TEXT and cat FILE let tests use a volume without a shell.
	if len(os.Args) > 3 && os.Args[1] == "write" {
		if err := os.WriteFile(os.Args[2], []byte(os.Args[3]), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if len(os.Args) > 2 && os.Args[1] == "cat" {
		data, err := os.ReadFile(os.Args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Stdout.Write(data)
		os.Exit(0)
	}
	addr := ":8080"
	if v := os.Getenv("PORT"); v != "" {
		addr = ":" + v
	}
	host, _ := os.Hostname()
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s\n", host)
	})
	// /ip answers with the client's address, as the pod sees it.
	mux.HandleFunc("/ip", func(w http.ResponseWriter, r *http.Request) {
		ip, _, _ := net.SplitHostPort(r.RemoteAddr)
		fmt.Fprintln(w, ip)
	})
	// /burn?ms=N spins a CPU for N milliseconds (default 100), a load
	// generator's target for autoscaling tests.
	mux.HandleFunc("/burn", func(w http.ResponseWriter, r *http.Request) {
		d := 100 * time.Millisecond
		if ms, err := time.ParseDuration(r.URL.Query().Get("ms") + "ms"); err == nil && ms > 0 {
			d = ms
		}
		n := 0
		for end := time.Now().Add(d); time.Now().Before(end); {
			n++
		}
		fmt.Fprintf(w, "burned %s on %s\n", d, host)
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	fmt.Println("listening on", addr)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func get(url string) int {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	return do(&http.Client{Timeout: 10 * time.Second}, req)
}

// do sends req, copies the body to stdout and returns the exit code.
func do(client *http.Client, req *http.Request) int {
	resp, err := client.Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer resp.Body.Close()
	_, _ = io.Copy(os.Stdout, resp.Body)
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, resp.Status)
		return 1
	}
	return 0
}

// api GETs a path of the in-cluster API with the pod's ServiceAccount token,
// verifying the server against the mounted cluster CA.
func api(path string) int {
	const sa = "/var/run/secrets/kubernetes.io/serviceaccount/"
	tok, err := os.ReadFile(sa + "token")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ca, err := os.ReadFile(sa + "ca.crt")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	url := "https://" + net.JoinHostPort(os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")) + path
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+string(tok))
	return do(client, req)
}
