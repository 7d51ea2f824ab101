// Command edgelet is the Kubernetes distribution that runs on every edgectl node.
package main

import "github.com/edgectl/edgectl/pkg/edgelet/app"

func main() { app.Main() }
