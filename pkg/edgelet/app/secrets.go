//go:build !agentonly

package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/edgectl/edgectl/pkg/edgelet/config"
	"github.com/edgectl/edgectl/pkg/edgelet/secrets"
)

// newSecretsCommand shows and rotates the key that encrypts Secrets at rest.
func newSecretsCommand() *cobra.Command {
	var dataDir, kubeconfigPath, output string
	path := func() string { return filepath.Join(dataDir, "server", "tls", secrets.ConfigFile) }
	cmd := &cobra.Command{
		Use:     "secrets-encrypt",
		Aliases: []string{"secrets"},
		Short:   "Show and rotate the key that encrypts Secrets at rest (on by default)",
	}
	cmd.PersistentFlags().StringVar(&dataDir, "data-dir", config.DefaultDataDir, "edgelet data directory")
	status := &cobra.Command{
		Use:   "status",
		Short: "Show the encryption config and its keys (names only)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			keys, err := secrets.Keys(path())
			if err != nil {
				return fmt.Errorf("secrets encryption: %w", err)
			}
			st, err := os.Stat(path())
			if err != nil {
				return err
			}
			names := make([]string, len(keys))
			for i, k := range keys {
				names[i] = k.Name
			}
			if output == "json" {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(map[string]any{
					"enabled": true, "provider": "secretbox", "config": path(), "mode": fmt.Sprintf("%#o", st.Mode().Perm()),
					"writeKey": names[0], "keys": names})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Encryption: on (secretbox)\nConfig: %s (mode %#o)\nWriting key: %s\nKeys: %d\n",
				path(), st.Mode().Perm(), names[0], len(names))
			return nil
		},
	}
	status.Flags().StringVarP(&output, "output", "o", "", "output format: text or json")
	// client is this server's admin client; restart restarts it and waits.
	client := func() (kubernetes.Interface, error) {
		kc, err := clientcmd.BuildConfigFromFlags("", kubeconfigPath)
		if err != nil {
			return nil, err
		}
		// Long enough for a list of every Secret from a server that has
		// just restarted under load (an HA cluster on a busy machine took
		// more than 5 s); the /readyz waits poll within their own limit.
		kc.Timeout = 30 * time.Second
		return kubernetes.NewForConfig(kc)
	}
	// step runs one step of a rotation across servers and restarts this
	// server when the step changed its config.
	step := func(cmd *cobra.Command, change func() (bool, error), done string) error {
		changed, err := change()
		if err != nil {
			return err
		}
		if !changed {
			fmt.Fprintf(cmd.OutOrStdout(), "%s (already)\n", done)
			return nil
		}
		c, err := client()
		if err != nil {
			return err
		}
		if err := restartServer(cmd.Context(), c); err != nil {
			return err
		}
		fmt.Fprintln(cmd.OutOrStdout(), done)
		return nil
	}
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Encrypt every Secret with a new key and drop the old one (restarts this server twice)",
		Long: `Encrypt every Secret with a new key and drop the old one, on a cluster of one
server. With several servers, each must read a new key before any writes with
it: run 'edgectl cluster rotate-key NAME' on the host, which runs prepare,
promote, rewrite and drop on every server in turn.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := os.Stat(filepath.Join(dataDir, "server", "etcd")); err == nil {
				return errors.New("this server is one of several (embedded etcd): each must read the new key before any writes with it; run `edgectl cluster rotate-key NAME` on the host (it runs `edgelet secrets-encrypt prepare|promote|rewrite|drop` on every server in turn)")
			}
			c, err := client()
			if err != nil {
				return err
			}
			key, err := secrets.Rotate(cmd.Context(), path(), c, func(ctx context.Context) error { return restartServer(ctx, c) }, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Rotated: every Secret is encrypted with %s\n", key.Name)
			return nil
		},
	}
	prepare := &cobra.Command{
		Use:   "prepare",
		Short: "Add a key, read from stdin as \"NAME SECRET\", that reads but does not write yet (HA step 1)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			line, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 4096))
			if err != nil {
				return err
			}
			key, err := secrets.ParseKey(string(line))
			if err != nil {
				return err
			}
			return step(cmd, func() (bool, error) { return secrets.Prepare(path(), key) }, "Prepared: "+key.Name+" reads")
		},
	}
	promote := &cobra.Command{
		Use:   "promote NAME",
		Short: "Make the prepared key NAME the writing key (HA step 2, once every server has prepared it)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return step(cmd, func() (bool, error) { return secrets.Promote(path(), args[0]) }, "Promoted: "+args[0]+" writes")
		},
	}
	rewrite := &cobra.Command{
		Use:   "rewrite",
		Short: "Store every Secret again under the writing key (HA step 3, on one server)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := client()
			if err != nil {
				return err
			}
			n, err := secrets.Rewrite(cmd.Context(), c)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Rewrote %d Secret(s)\n", n)
			return nil
		},
	}
	drop := &cobra.Command{
		Use:   "drop",
		Short: "Remove every key but the writing one (HA step 4, after rewrite)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return step(cmd, func() (bool, error) { return secrets.Drop(path()) }, "Dropped the old keys")
		},
	}
	for _, c := range []*cobra.Command{rotate, prepare, promote, rewrite, drop} {
		c.Flags().StringVar(&kubeconfigPath, "kubeconfig", config.DefaultKubeconfig, "admin kubeconfig of this server")
	}
	cmd.AddCommand(status, rotate, prepare, promote, rewrite, drop)
	return cmd
}

// restartServer restarts the edgelet unit and waits until the API server
// answers /readyz again.
func restartServer(ctx context.Context, client kubernetes.Interface) error {
	if out, err := exec.CommandContext(ctx, "systemctl", "restart", "edgelet").CombinedOutput(); err != nil {
		return fmt.Errorf("systemctl restart edgelet: %v: %s", err, out)
	}
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		body, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err == nil && string(body) == "ok", nil
	})
	if err != nil {
		return fmt.Errorf("the API server did not answer /readyz within 3m of the restart (journalctl -u edgelet): %w", err)
	}
	return nil
}
