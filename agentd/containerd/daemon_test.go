package containerd

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestEnsureStartsAndReuses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real containerd")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := Ensure(ctx, Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	if !d.Owned() || d.PID() == 0 {
		t.Fatalf("want an owned daemon, got pid %d", d.PID())
	}
	again, err := Ensure(ctx, Options{Address: d.Address})
	if err != nil {
		t.Fatal(err)
	}
	if again.Owned() {
		t.Fatal("second Ensure started another daemon")
	}
	_ = again.Close()
	if _, err := d.Client.Version(ctx); err != nil {
		t.Fatalf("owned daemon stopped by closing a borrowed handle: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.exited:
	default:
		t.Fatal("daemon still running after Close")
	}
}

func TestEnsureMissingBinary(t *testing.T) {
	_, err := Ensure(context.Background(), Options{DataDir: t.TempDir(), Binary: "containerd-not-installed"})
	if !errors.Is(err, ErrBinaryMissing) {
		t.Fatalf("want ErrBinaryMissing, got %v", err)
	}
	t.Log(err)
}
