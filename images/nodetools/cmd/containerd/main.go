// Command containerd is containerd and ctr in one binary: run as "ctr"
// (the node image links /usr/local/bin/ctr to it) it is the ctr client,
// otherwise the daemon. The two share most of their code, so one binary
// is ~20 MB smaller than both. The shim stays a binary of its own: one
// runs per pod, and it should not carry the daemon's start-up cost.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/containerd/containerd/v2/cmd/containerd/command"
	ctrapp "github.com/containerd/containerd/v2/cmd/ctr/app"
)

func main() {
	name, run := "containerd", command.App().Run
	if filepath.Base(os.Args[0]) == "ctr" {
		name, run = "ctr", ctrapp.New().Run
	}
	if err := run(os.Args); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %s\n", name, err)
		os.Exit(1)
	}
}
