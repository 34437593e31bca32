//go:build tools

// Package tools pins kwok, which the controller-scale bench uses to run
// thousands of fake nodes against the lab's API server. kwok's go.mod has no
// replace directives, so a plain require is enough (unlike kubernetes/ and etcd/).
package tools

import (
	_ "sigs.k8s.io/kwok/cmd/kwok"
)
