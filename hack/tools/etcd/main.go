// Command etcd is the etcd server, built from its Go module at the version this
// module pins, so that envtest and the local cluster need no release download.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
