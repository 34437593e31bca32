// Command etcd is etcd's own server entry point, built through this wrapper
// module because etcd's go.mod replaces its sibling modules with local paths.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
