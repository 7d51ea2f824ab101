//go:build agentonly

package app

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// buildNote marks the agent build in `edgelet version`.
const buildNote = ", agent build"

// serverCommands: the agent build has no server.
func serverCommands() []*cobra.Command { return nil }

func runKubectl() {
	fmt.Fprintln(os.Stderr, "kubectl: this edgelet is the agent build, with no kubectl in it; run kubectl on a server, or from your machine with `edgectl kubeconfig`")
	os.Exit(1)
}
