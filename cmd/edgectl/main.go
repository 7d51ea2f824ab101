// Command edgectl creates Kubernetes clusters of containers, shaped like edge sites.
package main

import "github.com/edgectl/edgectl/pkg/cmd/edgectl"

func main() { edgectl.Main() }
