// Package helmaction sets up Helm SDK actions the way the helm CLI does.
package helmaction

import (
	"log/slog"

	"helm.sh/helm/v4/pkg/action"
	"k8s.io/cli-runtime/pkg/genericclioptions"
)

// Configuration is a Helm action configuration for namespace ns of the
// cluster in kubeconfig, with releases kept in Secrets there (as the helm
// CLI keeps them) and Helm's own logging off.
func Configuration(kubeconfig, ns string) (*action.Configuration, error) {
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig, flags.Namespace = &kubeconfig, &ns
	cfg := action.NewConfiguration(action.ConfigurationSetLogger(slog.DiscardHandler))
	if err := cfg.Init(flags, ns, "secret"); err != nil {
		return nil, err
	}
	return cfg, nil
}
