package component

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"
	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/util"
	msoptions "sigs.k8s.io/metrics-server/cmd/metrics-server/app/options"
)

// MetricsServer runs metrics-server (sigs.k8s.io/metrics-server) until ctx
// ends: the resource metrics API that `kubectl top` and the
// HorizontalPodAutoscaler read, built into edgelet instead of an image. It
// takes the steps of the upstream command itself, to fix up its OpenAPI
// definitions in between.
func MetricsServer(ctx context.Context, args []string) error {
	opts := msoptions.NewOptions()
	fs := pflag.NewFlagSet("metrics-server", pflag.ContinueOnError)
	for _, f := range opts.Flags().FlagSets {
		fs.AddFlagSet(f)
	}
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("metrics-server flags: %w", err)
	}
	if errs := opts.Validate(); len(errs) > 0 {
		return fmt.Errorf("metrics-server options: %v", errs)
	}
	cfg, err := opts.ServerConfig()
	if err != nil {
		return err
	}
	v2, v3 := cfg.Apiserver.OpenAPIConfig, cfg.Apiserver.OpenAPIV3Config
	v2.GetDefinitions, v3.GetDefinitions = withModelNames(v2.GetDefinitions), withModelNames(v3.GetDefinitions)
	if v2.Definitions != nil {
		v2.Definitions = aliasModelNames(v2.Definitions)
	}
	if v3.Definitions != nil {
		v3.Definitions = aliasModelNames(v3.Definitions)
	}
	s, err := cfg.Complete()
	if err != nil {
		return err
	}
	return s.RunUntil(ctx.Done())
}

// withModelNames adds each OpenAPI definition under its model name too
// ("io.k8s.metrics.pkg.apis.metrics.v1beta1.PodMetrics" beside
// "k8s.io/metrics/pkg/apis/metrics/v1beta1.PodMetrics"). metrics-server's
// definitions were generated for Kubernetes libraries that named models by
// Go path; the libraries edgelet builds with name the API types by their
// model name, and would not find them.
func withModelNames(get common.GetOpenAPIDefinitions) common.GetOpenAPIDefinitions {
	return func(ref common.ReferenceCallback) map[string]common.OpenAPIDefinition {
		return aliasModelNames(get(ref))
	}
}

// aliasModelNames returns defs with each definition also under its model name.
func aliasModelNames(defs map[string]common.OpenAPIDefinition) map[string]common.OpenAPIDefinition {
	out := make(map[string]common.OpenAPIDefinition, 2*len(defs))
	for name, def := range defs {
		out[name] = def
		alias := util.ToRESTFriendlyName(name)
		if _, taken := defs[alias]; !taken && alias != name {
			out[alias] = def
		}
	}
	return out
}
