package cli

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gantry-sh/gantry/agentd/agent"
	"github.com/gantry-sh/gantry/bus"
)

// cpCmd is kubectl cp: files between this machine and a container, as a
// tar stream through an exec of the container's tar (it must have one).
func cpCmd(g *globals) *cobra.Command {
	var container string
	c := &cobra.Command{
		Use:   "cp [NAMESPACE/]POD:PATH LOCAL | LOCAL [NAMESPACE/]POD:PATH [-c CONTAINER]",
		Short: "Copy files and directories to and from a container (through tar in the container)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			src, srcRemote := splitRemote(args[0])
			dst, dstRemote := splitRemote(args[1])
			switch {
			case srcRemote && !dstRemote:
				return g.copyFrom(cmd.Context(), src, args[1], container)
			case dstRemote && !srcRemote:
				return g.copyTo(cmd.Context(), args[0], dst, container)
			}
			return errors.New("cp: one side is POD:PATH, the other a local path")
		},
	}
	c.Flags().StringVarP(&container, "container", "c", "", "container (default: the first)")
	return c
}

// remote is POD:PATH (with an optional NAMESPACE/ before the pod).
type remote struct{ namespace, pod, path string }

// splitRemote reads POD:PATH or NAMESPACE/POD:PATH; anything else (a path
// beginning with / or ., or with more than one / before a colon) is local.
func splitRemote(arg string) (remote, bool) {
	pod, p, ok := strings.Cut(arg, ":")
	if !ok || pod == "" || p == "" || strings.HasPrefix(arg, "/") || strings.HasPrefix(arg, ".") || strings.Count(pod, "/") > 1 {
		return remote{}, false
	}
	r := remote{pod: pod, path: p}
	if ns, name, ok := strings.Cut(pod, "/"); ok {
		r.namespace, r.pod = ns, name
	}
	return r, true
}

// split is the container path's directory ("/" at the root) and last
// element: a file or a directory, never the root itself.
func (r remote) split() (dir, base string, err error) {
	dir, base = path.Split(path.Clean(r.path))
	if base == "" || base == "/" {
		return "", "", fmt.Errorf("cp: name a file or a directory in the container, not %s", r.path)
	}
	return or(dir, "/"), base, nil
}

// copyFrom runs `tar cf - -C DIR BASE` in the container and unpacks it at
// local: into it when it is a directory, else as it.
func (g *globals) copyFrom(ctx context.Context, src remote, local, container string) error {
	dir, base, err := src.split()
	if err != nil {
		return err
	}
	var archive, stderr bytes.Buffer
	if err := g.execIn(ctx, src, container, []string{"tar", "cf", "-", "-C", dir, base}, nil, &archive, &stderr); err != nil {
		return err
	}
	target := local
	if info, err := os.Stat(local); err == nil && info.IsDir() {
		target = filepath.Join(local, base)
	}
	return untar(&archive, base, target)
}

// copyTo packs local as the base name of dst and runs `tar xf - -C DIR`
// in the container.
func (g *globals) copyTo(ctx context.Context, local string, dst remote, container string) error {
	dir, base, err := dst.split()
	if err != nil {
		return err
	}
	var archive bytes.Buffer
	if err := packTar(&archive, local, base); err != nil {
		return err
	}
	var stdout, stderr bytes.Buffer
	return g.execIn(ctx, dst, container, []string{"tar", "xf", "-", "-C", dir}, &archive, &stdout, &stderr)
}

// execIn runs a command in the pod's container through its node's agent;
// a failure carries the command's standard error.
func (g *globals) execIn(ctx context.Context, r remote, container string, command []string, stdin io.Reader, stdout, stderr *bytes.Buffer) error {
	if r.namespace != "" {
		g.namespace = r.namespace
	}
	return g.withClient(func(conn *bus.Conn, client *bus.Client) error {
		req := agent.ExecRequest{Container: container, Command: command, Stdin: stdin != nil}
		pod, err := g.execTarget(ctx, client, r.pod, &req)
		if err != nil {
			return err
		}
		code, err := agent.Exec(ctx, conn.NC, pod.Spec.NodeName, req, stdin, stdout, stderr)
		if err != nil {
			return err
		}
		if code != 0 {
			return fmt.Errorf("cp: %s in %s/%s exited %d: %s", command[0], pod.Name, req.Container, code, strings.TrimSpace(stderr.String()))
		}
		return nil
	})
}

// untar writes the archive's entries under root (the entry base), renamed
// to target. It refuses entries that would land outside target, and links.
func untar(r io.Reader, root, target string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("cp: the container's archive: %w", err)
		}
		name := path.Clean(h.Name)
		rel, ok := strings.CutPrefix(name, root)
		if !ok || rel != "" && !strings.HasPrefix(rel, "/") { // path.Clean leaves a climb out as a leading ".."
			return fmt.Errorf("cp: the archive's entry %q is outside %s", h.Name, root)
		}
		out := filepath.Join(target, filepath.FromSlash(rel))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(out, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, fs.FileMode(h.Mode).Perm())
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		default: // links and devices could point anywhere: left out
		}
	}
}

// packTar writes local (a file, or a directory and what is under it) as
// an archive whose root entry is named base.
func packTar(w io.Writer, local, base string) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(local, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if !info.Mode().IsRegular() && !info.IsDir() {
			return nil // links and devices: left out
		}
		rel, err := filepath.Rel(local, p)
		if err != nil {
			return err
		}
		h, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		h.Name = path.Join(base, filepath.ToSlash(rel))
		if info.IsDir() {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if info.IsDir() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return fmt.Errorf("cp: %w", err)
	}
	return tw.Close()
}
