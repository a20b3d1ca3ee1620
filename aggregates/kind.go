package aggregates

import (
	"sort"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Object is any Kubernetes object Gantry stores.
type Object interface {
	metav1.Object
	runtime.Object
}

// Kind describes one resource kind: its names, its Go type and its rules.
type Kind struct {
	Name       string   // "Deployment"
	Token      string   // "deployment": event types, subjects, keys
	Plural     string   // "deployments"
	Aliases    []string // "deploy"
	Group      string   // "apps"; "" for the core group
	Version    string   // "v1"
	Namespaced bool
	// Sealed: the object's data is encrypted before it is appended and
	// never shown — not in replies, history, events, rejections or the
	// dashboard — and apply keeps no last-applied copy of it (Secrets).
	Sealed bool

	New func() Object
	// Default fills what Kubernetes defaults (replicas 1, protocol TCP, …).
	Default func(Object)
	// Validate checks a whole object; ValidateUpdate what may not change.
	Validate       func(Object) field.ErrorList
	ValidateUpdate func(old, new Object) field.ErrorList
	// PrepareUpdate drops from new what a change of old makes meaningless
	// (a Service's node ports when it stops being a NodePort), before
	// new is validated.
	PrepareUpdate func(old, new Object)
	// Verbs beyond create, apply, update, delete, label and status.
	Verbs []string
	// Unimplemented names fields Gantry accepts but does not act on: a
	// manifest setting one gets a warning, never a silent drop.
	Unimplemented []string
}

// APIVersion is "group/version", or "version" for the core group.
func (k *Kind) APIVersion() string {
	if k.Group == "" {
		return k.Version
	}
	return k.Group + "/" + k.Version
}

// GroupResource names the kind in Kubernetes-style errors.
func (k *Kind) GroupResource() schema.GroupResource {
	return schema.GroupResource{Group: k.Group, Resource: k.Plural}
}

// Allows reports whether the kind takes the verb.
func (k *Kind) Allows(verb string) bool {
	switch verb {
	case VerbCreate, VerbApply, VerbUpdate, VerbDelete, VerbLabel, VerbStatus:
		return true
	}
	for _, v := range k.Verbs {
		if v == verb {
			return true
		}
	}
	return false
}

// Registry maps names, plurals, aliases and tokens to kinds.
type Registry struct {
	byName map[string]*Kind
	kinds  []*Kind
}

// NewRegistry indexes kinds by every name a user may type.
func NewRegistry(kinds ...*Kind) *Registry {
	r := &Registry{byName: map[string]*Kind{}}
	for _, k := range kinds {
		r.kinds = append(r.kinds, k)
		for _, n := range append([]string{k.Name, k.Token, k.Plural}, k.Aliases...) {
			r.byName[strings.ToLower(n)] = k
		}
	}
	sort.Slice(r.kinds, func(i, j int) bool { return r.kinds[i].Token < r.kinds[j].Token })
	return r
}

// Lookup finds a kind by name, plural, alias or token, any case.
func (r *Registry) Lookup(name string) (*Kind, bool) {
	k, ok := r.byName[strings.ToLower(name)]
	return k, ok
}

// Kinds lists the registered kinds by token.
func (r *Registry) Kinds() []*Kind { return r.kinds }

// IsSealed reports whether the built-in kind of this name, plural, alias
// or token is Sealed, for code that knows a kind only by a subject's or
// a key's token.
func IsSealed(name string) bool {
	k, ok := BuiltinKind(name)
	return ok && k.Sealed
}

// BuiltinKind looks a name, plural, alias or token up in one Builtin
// registry shared by the process.
func BuiltinKind(name string) (*Kind, bool) { return builtin().Lookup(name) }

var builtin = sync.OnceValue(Builtin)

// Builtin is the registry of every kind Gantry implements.
func Builtin() *Registry {
	return NewRegistry(Namespace(), ConfigMap(), Secret(), Pod(), ReplicaSet(), Deployment(), Service(),
		Node(), DaemonSet(), StatefulSet(), Job(), CronJob(), EndpointSlice(), Ingress(),
		ResourceQuota(), LimitRange(), HorizontalPodAutoscaler(), IngressClass())
}
