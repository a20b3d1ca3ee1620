package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// podRecord is pod.json: what a restarted agent needs to adopt the pod.
type podRecord struct {
	Spec  PodSpec `json:"spec"`
	IP    string  `json:"ip"`
	Netns string  `json:"netns"`
}

func (r *Containerd) writeRecord(rec podRecord) error {
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(r.podDir(rec.Spec.UID), "pod.json"), b)
}

func (r *Containerd) readRecord(uid string) (podRecord, error) {
	var rec podRecord
	b, err := os.ReadFile(filepath.Join(r.podDir(uid), "pod.json"))
	if errors.Is(err, os.ErrNotExist) {
		return rec, fmt.Errorf("runtime: pod %s: %w", uid, ErrNotFound)
	}
	if err != nil {
		return rec, fmt.Errorf("runtime: pod %s: %w", uid, err)
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return rec, fmt.Errorf("runtime: pod %s: pod.json: %w", uid, err)
	}
	return rec, nil
}

// writeEtcFiles writes the pod's hosts, hostname and resolv.conf.
func (r *Containerd) writeEtcFiles(rec podRecord) error {
	dir := filepath.Join(r.podDir(rec.Spec.UID), "etc")
	files := map[string]string{
		"hosts":       hostsFile(rec),
		"hostname":    rec.Spec.Hostname + "\n",
		"resolv.conf": resolvConf(rec.Spec.DNS),
	}
	for name, content := range files {
		if err := writeAtomic(filepath.Join(dir, name), []byte(content)); err != nil {
			return fmt.Errorf("runtime: pod %s: write %s: %w", rec.Spec.UID, name, err)
		}
	}
	return nil
}

func hostsFile(rec podRecord) string {
	var b strings.Builder
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	if rec.IP != "" { // not yet while the network is being attached
		fmt.Fprintf(&b, "%s\t%s\n", rec.IP, rec.Spec.Hostname)
	}
	for _, a := range rec.Spec.HostAliases {
		fmt.Fprintf(&b, "%s\t%s\n", a.IP, strings.Join(a.Hostnames, " "))
	}
	return b.String()
}

func resolvConf(dns DNSConfig) string {
	var b strings.Builder
	for _, ns := range dns.Nameservers {
		fmt.Fprintf(&b, "nameserver %s\n", ns)
	}
	if len(dns.Searches) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(dns.Searches, " "))
	}
	if len(dns.Options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(dns.Options, " "))
	}
	return b.String()
}

func writeAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
