package testimage

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Registry is an in-process OCI registry on 127.0.0.1.
type Registry struct {
	// Host is "127.0.0.1:PORT".
	Host string
}

// Serve starts a registry that t.Cleanup stops.
func Serve(t testing.TB) *Registry {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return &Registry{Host: strings.TrimPrefix(srv.URL, "http://")}
}

// Busybox builds the busybox image, pushes it as repo:tag and returns its
// reference ("127.0.0.1:PORT/repo:tag").
func (r *Registry) Busybox(t testing.TB, repoTag string) string {
	t.Helper()
	img, err := BusyboxImage(BusyboxPath)
	if err != nil {
		t.Fatal(err)
	}
	ref := r.Host + "/" + repoTag
	if err := push(img, ref); err != nil {
		t.Fatal(err)
	}
	return ref
}

// Busybox serves a fresh registry holding the busybox image and returns the
// image reference. Everything stops in t.Cleanup.
func Busybox(t testing.TB) string {
	t.Helper()
	return Serve(t).Busybox(t, "gantry/busybox:test")
}

// BusyboxImage builds the image from a busybox binary on this machine.
func BusyboxImage(busybox string) (v1.Image, error) {
	rootfs, err := rootfsTar(busybox)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(rootfs)), nil
	})
	if err != nil {
		return nil, fmt.Errorf("testimage: layer: %w", err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, fmt.Errorf("testimage: append layer: %w", err)
	}
	return withConfig(img)
}

// withConfig sets what containerd needs (os, architecture) and a default
// command and PATH, as a real busybox image has.
func withConfig(img v1.Image) (v1.Image, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("testimage: config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS = "linux"
	cf.Architecture = runtime.GOARCH
	cf.Config.Cmd = []string{"/bin/sh"}
	cf.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	return mutate.ConfigFile(img, cf)
}

func push(img v1.Image, ref string) error {
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		return fmt.Errorf("testimage: parse %s: %w", ref, err)
	}
	if err := remote.Write(r, img); err != nil {
		return fmt.Errorf("testimage: push %s: %w", ref, err)
	}
	return nil
}

// ServeBusybox is Busybox for TestMain, where there is no testing.TB: it
// returns the reference and a stop function the caller must call.
func ServeBusybox() (ref string, stop func(), err error) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	img, err := BusyboxImage(BusyboxPath)
	if err == nil {
		ref = strings.TrimPrefix(srv.URL, "http://") + "/gantry/busybox:test"
		err = push(img, ref)
	}
	if err != nil {
		srv.Close()
		return "", nil, err
	}
	return ref, srv.Close, nil
}
