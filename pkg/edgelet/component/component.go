package component

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"
	logsapi "k8s.io/component-base/logs/api/v1"
	apiserverapp "k8s.io/kubernetes/cmd/kube-apiserver/app"
	apiserveroptions "k8s.io/kubernetes/cmd/kube-apiserver/app/options"
	kcmapp "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	proxyapp "k8s.io/kubernetes/cmd/kube-proxy/app"
	schedulerapp "k8s.io/kubernetes/cmd/kube-scheduler/app"
	scheduleroptions "k8s.io/kubernetes/cmd/kube-scheduler/app/options"
	kubeletapp "k8s.io/kubernetes/cmd/kubelet/app"
)

// AllowSharedLogging lets every in-process component apply the same logging
// configuration. Upstream refuses a second logsapi.ValidateAndApply call
// ("logging configuration was already applied earlier"), which each component
// makes; identical settings are harmless in one process.
func AllowSharedLogging() {
	logsapi.ReapplyHandling = logsapi.ReapplyHandlingIgnoreUnchanged
}

// APIServer runs kube-apiserver until ctx ends. It calls the upstream Run
// directly rather than NewAPIServerCommand, because that constructor installs
// a process-wide signal handler that may only be installed once per process.
func APIServer(ctx context.Context, args []string) error {
	s := apiserveroptions.NewServerRunOptions()
	fs := pflag.NewFlagSet("kube-apiserver", pflag.ContinueOnError)
	for _, f := range s.Flags().FlagSets {
		fs.AddFlagSet(f)
	}
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("kube-apiserver flags: %w", err)
	}
	if err := s.GenericServerRunOptions.ComponentGlobalsRegistry.Set(); err != nil {
		return fmt.Errorf("kube-apiserver feature gates: %w", err)
	}
	completed, err := s.Complete(ctx)
	if err != nil {
		return fmt.Errorf("kube-apiserver options: %w", err)
	}
	if errs := completed.Validate(); len(errs) != 0 {
		return fmt.Errorf("kube-apiserver options: %v", errs)
	}
	return apiserverapp.Run(ctx, completed)
}

// Scheduler runs kube-scheduler until ctx ends, bypassing the command's own
// signal handler for the same reason as APIServer.
func Scheduler(ctx context.Context, args []string) error {
	opts := scheduleroptions.NewOptions()
	fs := pflag.NewFlagSet("kube-scheduler", pflag.ContinueOnError)
	for _, f := range opts.Flags.FlagSets {
		fs.AddFlagSet(f)
	}
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("kube-scheduler flags: %w", err)
	}
	if err := opts.ComponentGlobalsRegistry.Set(); err != nil {
		return fmt.Errorf("kube-scheduler feature gates: %w", err)
	}
	cc, sched, err := schedulerapp.Setup(ctx, opts)
	if err != nil {
		return fmt.Errorf("kube-scheduler setup: %w", err)
	}
	return schedulerapp.Run(ctx, cc, sched)
}

// ControllerManager runs kube-controller-manager. Upstream runs it on
// context.Background(), so it stops only with the process.
func ControllerManager(ctx context.Context, args []string) error {
	cmd := kcmapp.NewControllerManagerCommand()
	cmd.SetArgs(args)
	return cmd.ExecuteContext(ctx)
}

// Kubelet runs the kubelet. Its RunE installs the process's only upstream
// signal handler (see APIServer), which stops it on SIGTERM.
func Kubelet(ctx context.Context, args []string) error {
	cmd := kubeletapp.NewKubeletCommand(ctx)
	cmd.SetArgs(args)
	return cmd.ExecuteContext(ctx)
}

// Proxy runs kube-proxy.
func Proxy(ctx context.Context, args []string) error {
	cmd := proxyapp.NewProxyCommand()
	cmd.SetArgs(args)
	return cmd.ExecuteContext(ctx)
}
