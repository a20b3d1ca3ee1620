package containerd

import (
	"errors"
	"fmt"
	"os/exec"
)

// ErrBinaryMissing is returned when a binary containerd needs is not installed.
var ErrBinaryMissing = errors.New("binary not found")

// debianPackage names the Debian package that ships each binary.
func debianPackage(binary string) string {
	if binary == "runc" {
		return "runc"
	}
	return "containerd" // containerd and containerd-shim-runc-v2

}

// lookBinary finds name in PATH (or as a path) and explains how to install it.
func lookBinary(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("containerd: %s %w in PATH (install it: apt-get install -y %s): %v",
			name, ErrBinaryMissing, debianPackage(name), err)
	}
	return p, nil
}
