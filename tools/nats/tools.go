//go:build tools

// Package tools pins the NATS CLI (github.com/nats-io/natscli v0.3.0) so
// `go tool task nats` can build it: `go install …@v0.3.0` is refused by
// the module proxy's deprecation check, a require plus `go build` is not.
package tools

import _ "github.com/nats-io/natscli/nats"
