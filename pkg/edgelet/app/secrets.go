package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Encrypt every Secret with a new key and drop the old one (restarts this server twice)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := os.Stat(filepath.Join(dataDir, "server", "etcd")); err == nil {
				return errors.New("this server is one of several (embedded etcd): rotation across HA servers is not supported yet; every server must get the new key before it writes")
			}
			kc, err := clientcmd.BuildConfigFromFlags("", kubeconfigPath)
			if err != nil {
				return err
			}
			kc.Timeout = 5 * time.Second
			client, err := kubernetes.NewForConfig(kc)
			if err != nil {
				return err
			}
			key, err := secrets.Rotate(cmd.Context(), path(), client, func(ctx context.Context) error { return restartServer(ctx, client) }, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Rotated: every Secret is encrypted with %s\n", key.Name)
			return nil
		},
	}
	rotate.Flags().StringVar(&kubeconfigPath, "kubeconfig", config.DefaultKubeconfig, "admin kubeconfig of this server")
	cmd.AddCommand(status, rotate)
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
