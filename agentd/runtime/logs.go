package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// followPoll is how often a followed log is checked for new output.
const followPoll = 100 * time.Millisecond

// Logs writes a container's output: the current attempt, or the one before
// with Previous; the last Tail lines; and with Follow, new output until the
// container exits or ctx ends.
func (r *Containerd) Logs(ctx context.Context, uid, name string, opts LogOptions, w io.Writer) error {
	attempts, err := r.logAttempts(uid, name)
	if err != nil {
		return err
	}
	idx := len(attempts) - 1
	if opts.Previous {
		idx--
	}
	if idx < 0 {
		return fmt.Errorf("runtime: pod %s container %s: no logs (previous=%t): %w", uid, name, opts.Previous, ErrNotFound)
	}
	f, err := os.Open(r.logPath(uid, name, attempts[idx]))
	if err != nil {
		return fmt.Errorf("runtime: pod %s container %s: logs: %w", uid, name, err)
	}
	defer f.Close()
	if err := writeTail(f, opts.Tail, w); err != nil {
		return fmt.Errorf("runtime: pod %s container %s: logs: %w", uid, name, err)
	}
	if !opts.Follow || opts.Previous {
		return nil
	}
	return r.follow(ctx, uid, name, f, w)
}

// logAttempts lists the attempts that have a log file, ascending.
func (r *Containerd) logAttempts(uid, name string) ([]int, error) {
	entries, err := os.ReadDir(filepath.Dir(r.logPath(uid, name, 0)))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("runtime: pod %s container %s: logs: %w", uid, name, err)
	}
	var out []int
	for _, e := range entries {
		if n, err := strconv.Atoi(strings.TrimSuffix(e.Name(), ".log")); err == nil {
			out = append(out, n)
		}
	}
	sort.Ints(out)
	return out, nil
}

// writeTail copies the last n lines of f (all if n <= 0), leaving f at EOF.
func writeTail(f *os.File, n int, w io.Writer) error {
	b, err := io.ReadAll(f)
	if err != nil {
		return err
	}
	if n > 0 {
		b = lastLines(b, n)
	}
	_, err = w.Write(b)
	return err
}

func lastLines(b []byte, n int) []byte {
	end := len(b)
	if end > 0 && b[end-1] == '\n' {
		end--
	}
	for i := end - 1; i >= 0; i-- {
		if b[i] == '\n' {
			n--
			if n == 0 {
				return b[i+1:]
			}
		}
	}
	return b
}

// follow copies new output until the container is no longer running.
func (r *Containerd) follow(ctx context.Context, uid, name string, f *os.File, w io.Writer) error {
	for {
		if _, err := io.Copy(w, f); err != nil {
			return err
		}
		st, err := r.ContainerStatus(ctx, uid, name)
		if err != nil || st.State != StateRunning {
			_, err = io.Copy(w, f) // what it wrote before exiting
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(followPoll):
		}
	}
}
