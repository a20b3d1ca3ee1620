package bus

import (
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ServerOptions configure the embedded JetStream server.
type ServerOptions struct {
	Host     string // default 127.0.0.1
	Port     int    // -1 picks a free port; 0 means the default 4222
	StoreDir string // JetStream file store
}

// StartServer starts an embedded nats-server with JetStream on a file store
// and waits until it takes connections. Shut it down with Shutdown and
// WaitForShutdown.
func StartServer(o ServerOptions) (*server.Server, error) {
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if o.Port == 0 {
		o.Port = 4222
	}
	ns, err := server.NewServer(&server.Options{
		ServerName: "gantry",
		Host:       o.Host,
		Port:       o.Port,
		JetStream:  true,
		StoreDir:   o.StoreDir,
		NoSigs:     true,
		MaxPayload: 8 << 20,
	})
	if err != nil {
		return nil, fmt.Errorf("bus: configure embedded server: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("bus: embedded server on %s:%d not ready within 30s", o.Host, o.Port)
	}
	return ns, nil
}
