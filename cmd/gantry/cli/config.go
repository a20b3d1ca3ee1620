package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/yaml"
)

// Config is the client configuration `gantry up` writes.
type Config struct {
	Server  string `json:"server"`
	Metrics string `json:"metrics,omitempty"`
}

func gantryHome() string {
	if h := os.Getenv("GANTRY_HOME"); h != "" {
		return h
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ".gantry"
	}
	return filepath.Join(home, ".gantry")
}

func defaultConfigPath() string { return filepath.Join(gantryHome(), "config") }

func loadConfig(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("no client config at %s: start a cluster with `gantry up`, or pass --server", path)
	}
	var c Config
	if err := yaml.UnmarshalStrict(b, &c); err != nil {
		return Config{}, fmt.Errorf("client config %s: %w", path, err)
	}
	return c, nil
}

func saveConfig(path string, c Config) error {
	b, err := yaml.Marshal(c)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}
