package bus

import (
	"fmt"
	"strconv"
	"strings"
)

// Stream, bucket and subject names. They exist only here.
const (
	EventsStream   = "GANTRY_EVENTS"
	RejectedStream = "GANTRY_REJECTED"
	StateBucket    = "gantry-state"
	LeaseBucket    = "gantry-leases"
	LeaderBucket   = "gantry-leaders"

	eventPrefix    = "gantry.evt"
	commandPrefix  = "gantry.cmd"
	rejectedPrefix = "gantry.rejected"
	queryPrefix    = "gantry.query"

	// CommandQueue is the queue group of the command service, so several
	// replicas share the command load.
	CommandQueue = "gantry-commands"
	// QueryQueue is the queue group of the query service.
	QueryQueue = "gantry-queries"

	// ClusterScope is the namespace token of cluster-scoped kinds.
	ClusterScope = "_"
)

// EventSubject is the subject of one aggregate instance: every event of the
// object lives on it, so its last sequence is the object's version.
func EventSubject(kind, namespace, name string) string {
	return eventPrefix + "." + EncodeToken(kind) + "." + nsToken(namespace) + "." + EncodeToken(name)
}

// EventFilter is the subject filter for every event of a kind in a
// namespace; an empty kind or namespace matches all.
func EventFilter(kind, namespace string) string {
	k, n := "*", "*"
	if kind != "" {
		k = EncodeToken(kind)
	}
	if namespace != "" {
		n = nsToken(namespace)
	}
	return eventPrefix + "." + k + "." + n + ".*"
}

// AllEvents matches every event subject.
const AllEvents = eventPrefix + ".>"

// ParseEventSubject is the inverse of EventSubject.
func ParseEventSubject(subject string) (kind, namespace, name string, err error) {
	parts := strings.Split(subject, ".")
	if len(parts) != 5 || parts[0]+"."+parts[1] != eventPrefix {
		return "", "", "", fmt.Errorf("bus: %q is not an event subject", subject)
	}
	if kind, err = DecodeToken(parts[2]); err != nil {
		return "", "", "", err
	}
	if parts[3] != ClusterScope {
		if namespace, err = DecodeToken(parts[3]); err != nil {
			return "", "", "", err
		}
	}
	name, err = DecodeToken(parts[4])
	return kind, namespace, name, err
}

// CommandSubject is where commands of one verb on one kind are sent.
func CommandSubject(kind, verb string) string {
	return commandPrefix + "." + EncodeToken(kind) + "." + EncodeToken(verb)
}

// AllCommands matches every command subject.
const AllCommands = commandPrefix + ".>"

// ParseCommandSubject is the inverse of CommandSubject.
func ParseCommandSubject(subject string) (kind, verb string, err error) {
	rest, ok := strings.CutPrefix(subject, commandPrefix+".")
	kindToken, verbToken, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 || strings.Contains(verbToken, ".") {
		return "", "", fmt.Errorf("bus: %q is not a command subject", subject)
	}
	if kind, err = DecodeToken(kindToken); err != nil {
		return "", "", err
	}
	verb, err = DecodeToken(verbToken)
	return kind, verb, err
}

// RejectedSubject records a refused command of one kind and verb.
func RejectedSubject(kind, verb string) string {
	return rejectedPrefix + "." + EncodeToken(kind) + "." + EncodeToken(verb)
}

// QuerySubject is where queries of one verb are answered.
func QuerySubject(verb string) string { return queryPrefix + "." + EncodeToken(verb) }

// StateKey is the key of an object in the state bucket.
func StateKey(kind, namespace, name string) string {
	return EncodeToken(kind) + "." + nsToken(namespace) + "." + EncodeToken(name)
}

// ParseStateKey is the inverse of StateKey.
func ParseStateKey(key string) (kind, namespace, name string, err error) {
	return ParseEventSubject(eventPrefix + "." + key)
}

// StateKeyFilter matches the state keys of a kind in a namespace (empty
// namespace: all namespaces).
func StateKeyFilter(kind, namespace string) string {
	n := "*"
	if namespace != "" {
		n = nsToken(namespace)
	}
	return EncodeToken(kind) + "." + n + ".*"
}

func nsToken(namespace string) string {
	if namespace == "" {
		return ClusterScope
	}
	return EncodeToken(namespace)
}

// EncodeToken makes any string a single safe subject token, reversibly:
// lower-case letters, digits and '-' stand for themselves; every other byte,
// '_' included, becomes '_' and two upper-case hex digits. So "a.b" is
// "a_2Eb", and no encoded token is ever "_" (the cluster-scope token) or
// contains '.', '*', '>' or white space.
func EncodeToken(s string) string {
	if s == "" {
		return "_"
	}
	i := 0
	for i < len(s) && plain(s[i]) {
		i++
	}
	if i == len(s) {
		return s // the usual name: nothing to escape
	}
	var b strings.Builder
	b.WriteString(s[:i])
	s = s[i:]
	for i := 0; i < len(s); i++ {
		c := s[i]
		if plain(c) {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "_%02X", c)
	}
	return b.String()
}

// DecodeToken is the inverse of EncodeToken.
func DecodeToken(t string) (string, error) {
	if t == "_" {
		return "", nil
	}
	if !strings.Contains(t, "_") {
		return t, nil
	}
	var b strings.Builder
	for i := 0; i < len(t); i++ {
		c := t[i]
		if c != '_' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(t) {
			return "", fmt.Errorf("bus: token %q: truncated escape at %d", t, i)
		}
		v, err := strconv.ParseUint(t[i+1:i+3], 16, 8)
		if err != nil || strings.ToUpper(t[i+1:i+3]) != t[i+1:i+3] {
			return "", fmt.Errorf("bus: token %q: bad escape at %d", t, i)
		}
		b.WriteByte(byte(v))
		i += 2
	}
	return b.String(), nil
}

func plain(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-'
}

// DryRunHeader set to "true" on a command asks the command service to
// decide it and answer with the object it would make, appending nothing
// (kubectl's --dry-run=server).
const DryRunHeader = "Gantry-Dry-Run"

// DirectGets matches every direct get the server answers: how a Store
// reads one subject's events (Load, LastSeq). Watch it to see reads of the
// stream (nats sub '$JS.API.DIRECT.GET.>').
const DirectGets = "$JS.API.DIRECT.GET.>"

// WantObjectHeader set to "true" on a command asks the command service to
// answer with the object as the command left it, stamped with its
// resourceVersion. Without it the answer carries the event's sequence and
// verb (and any warnings), all most senders need: the object is most of
// an answer's bytes, and a header costs both ends more than routing the
// whole command does (nats.go parses every header block into a map), so
// bus.Client sends a command without any header unless it asks for the
// object or a dry run.
const WantObjectHeader = "Gantry-Want-Object"

// NodePodsBucket indexes the pods bound to each node, so an agent watches
// only its own node's pods (key <node>.<ns>.<name>), never the cluster's.
const NodePodsBucket = "gantry-node-pods"

// NodePodKey is a pod's key in NodePodsBucket.
func NodePodKey(node, namespace, name string) string {
	return EncodeToken(node) + "." + nsToken(namespace) + "." + EncodeToken(name)
}

// NodePodFilter matches every key of one node in NodePodsBucket.
func NodePodFilter(node string) string { return EncodeToken(node) + ".>" }

// LeaseKey is a node's key in LeaseBucket.
func LeaseKey(node string) string { return EncodeToken(node) }

// AgentSubject is where a node's agent answers requests of one verb
// (logs, exec), as gantry.agent.<node>.<verb>.
func AgentSubject(node, verb string) string {
	return "gantry.agent." + EncodeToken(node) + "." + EncodeToken(verb)
}

// MetricsSubject is where a node's agent publishes usage (not events).
func MetricsSubject(node string) string { return "gantry.metrics." + EncodeToken(node) }

// AllMetrics matches every node's metrics subject.
const AllMetrics = "gantry.metrics.*"
