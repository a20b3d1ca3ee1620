package containerd

import (
	"fmt"
	"os"
	"path/filepath"
)

// configTOML is the daemon configuration for an agent-owned containerd:
// version 2 is understood by containerd 1.5 to 1.7 (2.x migrates it).
// The CRI plugin is disabled; the opt plugin is kept under DataDir so an
// agent-owned daemon writes nothing outside it (runc state and FIFOs still
// go under /run/containerd, see FIELD-NOTES.md).
const configTOML = `version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = %q

[plugins."io.containerd.internal.v1.opt"]
  path = %q
`

// layout is where an agent-owned daemon keeps its files.
type layout struct {
	root, state, socket, config, log string
}

func newLayout(dataDir, address string) layout {
	if address == "" {
		address = filepath.Join(dataDir, "containerd.sock")
	}
	return layout{
		root:   filepath.Join(dataDir, "root"),
		state:  filepath.Join(dataDir, "state"),
		socket: address,
		config: filepath.Join(dataDir, "config.toml"),
		log:    filepath.Join(dataDir, "containerd.log"),
	}
}

func (l layout) write(dataDir string) error {
	for _, d := range []string{l.root, l.state, filepath.Dir(l.socket)} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return fmt.Errorf("containerd: create %s: %w", d, err)
		}
	}
	cfg := fmt.Sprintf(configTOML, l.root, l.state, l.socket, filepath.Join(dataDir, "opt"))
	if err := os.WriteFile(l.config, []byte(cfg), 0o600); err != nil {
		return fmt.Errorf("containerd: write config: %w", err)
	}
	return nil
}
