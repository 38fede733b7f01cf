//go:build tools

// Package tools pins helm's command as a dependency of this module, so go.mod and go.sum hold the exact versions
// of everything it is built from. The build tag keeps the file out of every build: a main package cannot be
// imported, only built (scripts/go-tools runs `go build helm.sh/helm/v4/cmd/helm` here).
package tools

import _ "helm.sh/helm/v4/cmd/helm"
