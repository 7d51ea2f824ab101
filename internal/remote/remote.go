// Package remote runs commands on a host over SSH (golang.org/x/crypto/ssh),
// directly or through a bastion, as root (through `sudo -n` for another
// user). It is how edgectl prepares hosts it did not create: boards that join
// a cluster, and promoted clusters.
package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/edgectl/edgectl/internal/sshaddr"
)

// Target is where and as whom to connect.
type Target struct {
	User string
	Host string
	Port int
	// KeyFile is the private key to log in with. Empty: the SSH agent
	// (SSH_AUTH_SOCK) and ~/.ssh/id_ed25519, id_ecdsa and id_rsa.
	KeyFile string
	// Bastion, when set, is the host the connection is made through
	// (ProxyJump); it is logged in to with the same key.
	Bastion *Target
}

// ParseTarget parses USER@HOST[:PORT] (the user defaults to root, the port
// to port, or 22).
func ParseTarget(s string, port int) (Target, error) {
	a, err := sshaddr.Parse(s, port)
	return Target{User: a.User, Host: a.Host, Port: a.Port}, err
}

// Address is HOST:PORT.
func (t Target) Address() string { return net.JoinHostPort(t.Host, strconv.Itoa(t.Port)) }

// String is USER@HOST:PORT.
func (t Target) String() string { return t.User + "@" + t.Address() }

// Host is a connected host.
type Host struct {
	Target  Target
	HostKey string // SHA256 fingerprint of the host's key
	client  *ssh.Client
	jump    *ssh.Client
}

// Dial connects and logs in, within 20 s per hop unless ctx ends sooner.
// A host key that ~/.ssh/known_hosts lists for another key is refused; an
// unknown host is accepted and its fingerprint kept in HostKey.
func Dial(ctx context.Context, t Target) (*Host, error) {
	h := &Host{Target: t}
	var dial func(network, addr string) (net.Conn, error)
	if t.Bastion != nil {
		b := *t.Bastion
		if b.KeyFile == "" {
			b.KeyFile = t.KeyFile
		}
		jump, err := Dial(ctx, b)
		if err != nil {
			return nil, fmt.Errorf("bastion: %w", err)
		}
		h.jump = jump.client
		dial = jump.client.Dial
	} else {
		d := &net.Dialer{Timeout: 20 * time.Second}
		dial = func(network, addr string) (net.Conn, error) { return d.DialContext(ctx, network, addr) }
	}
	auth, err := authMethods(t.KeyFile)
	if err != nil {
		h.Close()
		return nil, err
	}
	conf := &ssh.ClientConfig{User: t.User, Auth: auth, Timeout: 20 * time.Second,
		HostKeyCallback: func(hostname string, remote net.Addr, key ssh.PublicKey) error {
			h.HostKey = ssh.FingerprintSHA256(key)
			return checkKnown(hostname, remote, key)
		}}
	conn, err := dial("tcp", t.Address())
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("ssh %s: cannot connect: %w", t, err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	c, chans, reqs, err := ssh.NewClientConn(conn, t.Address(), conf)
	stop()
	if err != nil {
		conn.Close()
		h.Close()
		if strings.Contains(err.Error(), "unable to authenticate") {
			return nil, &AuthError{Target: t, Err: err}
		}
		return nil, fmt.Errorf("ssh %s: %w", t, err)
	}
	h.client = ssh.NewClient(c, chans, reqs)
	return h, nil
}

// AuthError is a login the host refused: a wrong user or key.
type AuthError struct {
	Target Target
	Err    error
}

func (e *AuthError) Error() string {
	key := "the SSH agent's keys and ~/.ssh/id_*"
	if e.Target.KeyFile != "" {
		key = e.Target.KeyFile
	}
	return fmt.Sprintf("ssh %s: the host refused user %q with %s (%v)", e.Target, e.Target.User, key, e.Err)
}

func (e *AuthError) Unwrap() error { return e.Err }

// Close closes the connection (and the bastion's).
func (h *Host) Close() {
	if h.client != nil {
		h.client.Close()
	}
	if h.jump != nil {
		h.jump.Close()
	}
}

// ExitError is a command that ran and failed.
type ExitError struct {
	Status int
	Stderr string
}

func (e *ExitError) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
		msg = strings.TrimSpace(msg[i+1:])
	}
	if msg == "" {
		return fmt.Sprintf("exit status %d", e.Status)
	}
	return fmt.Sprintf("exit status %d: %s", e.Status, msg)
}

// Run runs a shell command line as root and returns its standard output;
// stdin, when not nil, is its standard input.
func (h *Host) Run(ctx context.Context, command string, stdin io.Reader) (string, error) {
	s, err := h.client.NewSession()
	if err != nil {
		return "", fmt.Errorf("ssh %s: %w", h.Target, err)
	}
	defer s.Close()
	var stdout, stderr bytes.Buffer
	s.Stdout, s.Stderr, s.Stdin = &stdout, &stderr, stdin
	if h.Target.User != "root" {
		command = "sudo -n sh -c " + Quote(command)
	}
	stop := context.AfterFunc(ctx, func() { s.Close() })
	defer stop()
	err = s.Run(command)
	if ctx.Err() != nil {
		return stdout.String(), ctx.Err()
	}
	var exit *ssh.ExitError
	if errors.As(err, &exit) {
		return stdout.String(), &ExitError{Status: exit.ExitStatus(), Stderr: stderr.String()}
	}
	if err != nil {
		return stdout.String(), fmt.Errorf("ssh %s: %w", h.Target, err)
	}
	return stdout.String(), nil
}

// Quote quotes s for a POSIX shell.
func Quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func authMethods(keyFile string) ([]ssh.AuthMethod, error) {
	var signers []ssh.Signer
	if keyFile != "" {
		s, err := readKey(keyFile)
		if err != nil {
			return nil, err
		}
		return []ssh.AuthMethod{ssh.PublicKeys(s)}, nil
	}
	if sock := os.Getenv("SSH_AUTH_SOCK"); sock != "" {
		if conn, err := net.Dial("unix", sock); err == nil {
			if agentSigners, err := agent.NewClient(conn).Signers(); err == nil {
				signers = append(signers, agentSigners...)
			}
		}
	}
	home, _ := os.UserHomeDir()
	for _, name := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
		if s, err := readKey(filepath.Join(home, ".ssh", name)); err == nil {
			signers = append(signers, s)
		}
	}
	if len(signers) == 0 {
		return nil, errors.New("no SSH key: pass -i KEY, or load one into ssh-agent")
	}
	return []ssh.AuthMethod{ssh.PublicKeys(signers...)}, nil
}

func readKey(path string) (ssh.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("SSH key: %w", err)
	}
	s, err := ssh.ParsePrivateKey(data)
	var pass *ssh.PassphraseMissingError
	if errors.As(err, &pass) {
		return nil, fmt.Errorf("SSH key %s has a passphrase: load it into ssh-agent (ssh-add %s) and leave out -i", path, path)
	}
	if err != nil {
		return nil, fmt.Errorf("SSH key %s: %w", path, err)
	}
	return s, nil
}

// checkKnown refuses a host that ~/.ssh/known_hosts lists with another key.
func checkKnown(hostname string, remote net.Addr, key ssh.PublicKey) error {
	home, _ := os.UserHomeDir()
	file := filepath.Join(home, ".ssh", "known_hosts")
	if _, err := os.Stat(file); err != nil {
		return nil
	}
	cb, err := knownhosts.New(file)
	if err != nil {
		return nil // an unreadable file is not a mismatch
	}
	err = cb(hostname, remote, key)
	var kerr *knownhosts.KeyError
	if errors.As(err, &kerr) && len(kerr.Want) == 0 {
		return nil // unknown host: accepted
	}
	if err != nil {
		return fmt.Errorf("host key of %s does not match %s (%w): if the host was reinstalled, remove its line with `ssh-keygen -R %s`", hostname, file, err, hostname)
	}
	return nil
}
