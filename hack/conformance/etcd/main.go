// Command etcd is the etcd server, for the image that the conformance test of
// the aggregated sample API server runs beside it.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
