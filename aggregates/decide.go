package aggregates

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	jsonpatch "github.com/evanphx/json-patch/v5"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	sigsjson "sigs.k8s.io/json"
)

// State is an object as its events left it: its JSON (nil when absent:
// never created, or deleted) and the stream sequence of its last event.
type State struct {
	Raw []byte
	Seq uint64
}

// Exists reports whether the object is present.
func (s State) Exists() bool { return s.Raw != nil }

// Decision is what Decide concluded: at most one event (none when the
// command changes nothing), and warnings for the sender.
type Decision struct {
	Event    *Event
	Warnings []string
}

// Decide checks a command against the object's state and the kind's rules
// and returns the event it causes, or a Kubernetes status error naming the
// object, the field and the rule.
func Decide(k *Kind, s State, c Command, env Env) (Decision, error) {
	if !k.Allows(c.Verb) {
		return Decision{}, apierrors.NewMethodNotSupported(k.GroupResource(), c.Verb)
	}
	if err := checkPrecondition(k, s, c); err != nil {
		return Decision{}, err
	}
	switch c.Verb {
	case VerbCreate:
		return decideCreate(k, s, c, env)
	case VerbApply:
		return decideApply(k, s, c, env)
	case VerbUpdate:
		return decideUpdate(k, s, c)
	case VerbDelete:
		return decideDelete(k, s, c, env)
	case VerbLabel:
		return decideLabel(k, s, c)
	case VerbStatus:
		return decideStatus(k, s, c)
	case VerbScale:
		return decideScale(k, s, c)
	case VerbBind:
		return decideBind(k, s, c)
	case VerbFinalize:
		return one(Deleted, DeletedData{}), nil
	case VerbPatch:
		return decidePatch(k, s, c)
	}
	return Decision{}, apierrors.NewMethodNotSupported(k.GroupResource(), c.Verb)
}

func one(verb string, data any) Decision {
	return Decision{Event: &Event{Verb: verb, Data: mustJSON(data)}}
}

// checkPrecondition: the object must exist for every verb but create and
// apply, and a stated resourceVersion must be the current one.
func checkPrecondition(k *Kind, s State, c Command) error {
	if c.Verb != VerbCreate && c.Verb != VerbApply && !s.Exists() {
		return apierrors.NewNotFound(k.GroupResource(), c.Name)
	}
	if c.ResourceVersion != "" && s.Exists() && c.ResourceVersion != strconv.FormatUint(s.Seq, 10) {
		return apierrors.NewConflict(k.GroupResource(), c.Name,
			fmt.Errorf("the object has been modified (resourceVersion %s, now %d); please apply your changes to the latest version and try again", c.ResourceVersion, s.Seq))
	}
	return nil
}

// manifest decodes the command's object and checks it names the command's object.
func manifest(k *Kind, c Command) (Object, []string, error) {
	return manifestOver(k, c, nil)
}

// manifestOver is manifest for an update of old: the kind may first drop
// what the change makes meaningless (PrepareUpdate).
func manifestOver(k *Kind, c Command, old Object) (Object, []string, error) {
	if len(c.Object) == 0 {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("%s %q: %s needs an object", k.Name, c.Name, c.Verb))
	}
	obj, warns, err := DecodeManifest(k, c.Object)
	if err != nil {
		return nil, nil, err
	}
	var errs field.ErrorList
	if obj.GetName() != c.Name {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), obj.GetName(), fmt.Sprintf("must be %q, the name the command is for", c.Name)))
	}
	if !k.Namespaced && obj.GetNamespace() != "" {
		errs = append(errs, field.Forbidden(field.NewPath("metadata", "namespace"), k.Name+" is not namespaced"))
	}
	if k.Namespaced {
		if obj.GetNamespace() == "" {
			obj.SetNamespace(c.Namespace)
		}
		if obj.GetNamespace() != c.Namespace {
			errs = append(errs, field.Invalid(field.NewPath("metadata", "namespace"), obj.GetNamespace(), fmt.Sprintf("must be %q, the namespace the command is for", c.Namespace)))
		}
	}
	if old != nil && k.PrepareUpdate != nil {
		k.PrepareUpdate(old, obj)
	}
	errs = append(errs, validateMeta(k, obj)...)
	if k.Validate != nil {
		errs = append(errs, k.Validate(obj)...)
	}
	if len(errs) > 0 {
		return nil, nil, invalid(k, c.Name, errs)
	}
	return obj, warns, nil
}

func validateMeta(k *Kind, obj Object) field.ErrorList {
	p := field.NewPath("metadata")
	errs := validateName(k, obj.GetName(), p.Child("name"))
	errs = append(errs, validateLabels(obj.GetLabels())...)
	return errs
}

func decideCreate(k *Kind, s State, c Command, env Env) (Decision, error) {
	if s.Exists() {
		return Decision{}, apierrors.NewAlreadyExists(k.GroupResource(), c.Name)
	}
	obj, warns, err := manifest(k, c)
	if err != nil {
		return Decision{}, err
	}
	zeroStatus(obj)
	if k.Default != nil {
		k.Default(obj) // again: defaults may set status (a namespace is Active)
	}
	obj.SetUID(k8stypes.UID(env.NewUID()))
	obj.SetCreationTimestamp(metav1.NewTime(env.Now.UTC()))
	obj.SetGeneration(1)
	obj.SetResourceVersion("")
	obj.SetDeletionTimestamp(nil)
	obj.SetManagedFields(nil)
	d := one(Created, obj)
	d.Warnings = warns
	return d, nil
}

func decideUpdate(k *Kind, s State, c Command) (Decision, error) {
	old, err := decodeStored(k, s.Raw)
	if err != nil {
		return Decision{}, err
	}
	old.SetResourceVersion("") // the version is the stream's, never part of the object
	obj, warns, err := manifestOver(k, c, old)
	if err != nil {
		return Decision{}, err
	}
	copyStatus(old, obj)
	obj.SetUID(old.GetUID())
	obj.SetCreationTimestamp(old.GetCreationTimestamp())
	obj.SetGeneration(old.GetGeneration())
	obj.SetDeletionTimestamp(old.GetDeletionTimestamp())
	obj.SetDeletionGracePeriodSeconds(old.GetDeletionGracePeriodSeconds())
	obj.SetResourceVersion("")
	obj.SetManagedFields(nil)
	if k.ValidateUpdate != nil {
		if errs := k.ValidateUpdate(old, obj); len(errs) > 0 {
			return Decision{}, invalid(k, c.Name, errs)
		}
	}
	oldJSON := mustJSON(old)
	if specChanged(oldJSON, mustJSON(obj)) {
		obj.SetGeneration(old.GetGeneration() + 1)
	}
	patch, err := jsonpatch.CreateMergePatch(oldJSON, mustJSON(obj))
	if err != nil {
		return Decision{}, fmt.Errorf("aggregates: diff %s %q: %w", k.Name, c.Name, err)
	}
	if string(patch) == "{}" {
		return Decision{Warnings: warns}, nil
	}
	d := one(Updated, UpdatedData{Patch: patch})
	d.Warnings = warns
	return d, nil
}

// specChanged compares everything but metadata and status: what a
// generation counts.
func specChanged(a, b []byte) bool {
	var ma, mb map[string]json.RawMessage
	_ = json.Unmarshal(a, &ma)
	_ = json.Unmarshal(b, &mb)
	for _, m := range []map[string]json.RawMessage{ma, mb} {
		delete(m, "metadata")
		delete(m, "status")
	}
	return !bytes.Equal(mustJSON(ma), mustJSON(mb))
}

func decideDelete(k *Kind, s State, c Command, env Env) (Decision, error) {
	if k.Token == "namespace" {
		return decideNamespaceDelete(k, s, env)
	}
	if k.Token != "pod" {
		return one(Deleted, DeletedData{}), nil
	}
	pod, err := decodePod(s.Raw)
	if err != nil {
		return Decision{}, err
	}
	grace := int64(30)
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		grace = *pod.Spec.TerminationGracePeriodSeconds
	}
	if c.GracePeriodSeconds != nil {
		grace = *c.GracePeriodSeconds
	}
	if pod.Spec.NodeName == "" || grace == 0 {
		return one(Deleted, DeletedData{}), nil
	}
	if pod.DeletionTimestamp != nil {
		return Decision{}, nil // already terminating
	}
	return one(Terminating, TerminatingData{DeletionTimestamp: metav1.NewTime(env.Now.UTC()), GracePeriodSeconds: grace}), nil
}

func decideLabel(k *Kind, s State, c Command) (Decision, error) {
	current, err := storedLabels(s.Raw)
	if err != nil {
		return Decision{}, fmt.Errorf("aggregates: stored %s %q: %w", k.Name, c.Name, err)
	}
	next := map[string]string{}
	changes := map[string]*string{}
	for key, v := range c.Labels {
		old, had := current[key]
		switch {
		case v == nil && had:
			changes[key] = nil
		case v != nil && (!had || old != *v):
			changes[key] = v
			next[key] = *v
		}
	}
	if errs := validateLabels(next); len(errs) > 0 {
		return Decision{}, invalid(k, c.Name, errs)
	}
	if len(changes) == 0 {
		return Decision{}, nil
	}
	return one(Labeled, LabeledData{Labels: changes}), nil
}

// storedLabels decodes only a stored object's metadata.labels: the value
// is found without decoding the rest (memberAt), and the whole object is
// decoded only when that could not be sure or the labels do not decode, so
// the error is the one decoding it whole gives.
func storedLabels(raw []byte) (map[string]string, error) {
	if v, ok := memberAt(raw, "metadata", "labels"); ok {
		if v == nil || string(v) == "null" {
			return nil, nil
		}
		var labels map[string]string
		if end, ok := readStringMap(&labels, v, 0); ok && end == len(v) {
			return labels, nil
		}
		labels = nil
		if json.Unmarshal(v, &labels) == nil {
			return labels, nil
		}
	}
	var obj struct {
		Metadata struct {
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
	}
	err := json.Unmarshal(raw, &obj)
	return obj.Metadata.Labels, err
}

// validateLabels is metav1validation.ValidateLabels, which matches every key
// and value against regular expressions; labels whose keys are DNS labels
// and whose values are DNS labels or empty pass it and are taken without.
func validateLabels(labels map[string]string) field.ErrorList {
	for k, v := range labels {
		if !dns1123Label(k) || v != "" && !dns1123Label(v) {
			return metav1validation.ValidateLabels(labels, field.NewPath("metadata", "labels"))
		}
	}
	return nil
}

func decideStatus(k *Kind, s State, c Command) (Decision, error) {
	probe, err := decodeStatus(k, c)
	if err != nil {
		return Decision{}, err
	}
	status, err := statusJSON(probe)
	if err != nil {
		return Decision{}, err
	}
	cur, err := storedStatus(k, s.Raw)
	if err != nil {
		return Decision{}, err
	}
	if bytes.Equal(status, cur) { // both canonical: typed, then marshaled
		return Decision{}, nil
	}
	return one(StatusChanged, StatusData{Status: status}), nil
}

// decodeStatus decodes a status command's status into a new object of k:
// a plain status straight into its Status field, anything else through
// {"status": …}, where the strict decoder words what it refuses (and a
// kind without a Status field takes it as it can).
func decodeStatus(k *Kind, c Command) (Object, error) {
	probe := k.New()
	if v := statusOf(probe); v.IsValid() && len(c.Status) > 0 && decodePlain(c.Status, v.Addr().Interface()) {
		return probe, nil
	}
	doc := mustJSON(map[string]json.RawMessage{"status": c.Status})
	if probe = k.New(); decodePlain(doc, probe) {
		return probe, nil
	}
	probe = k.New()
	if strict, err := sigsjson.UnmarshalStrict(doc, probe); err != nil || len(strict) > 0 {
		if err == nil {
			err = strict[0]
		}
		return nil, invalid(k, c.Name, field.ErrorList{field.Invalid(field.NewPath("status"), "", cleanJSONError(err))})
	}
	return probe, nil
}

// statusJSON is obj's status as json.Marshal(obj) writes it.
func statusJSON(obj Object) (json.RawMessage, error) {
	if v := statusOf(obj); v.IsValid() {
		return json.Marshal(v.Addr().Interface())
	}
	var m statusMember
	err := json.Unmarshal(mustJSON(obj), &m)
	return m.Status, err
}

// statusMember is an object's status, undecoded.
type statusMember struct {
	Status json.RawMessage `json:"status"`
}

// storedStatus is statusJSON of the stored object raw, decoding only its
// status: a pod's status command otherwise decoded the whole pod.
func storedStatus(k *Kind, raw []byte) (json.RawMessage, error) {
	obj := k.New()
	v := statusOf(obj)
	if !v.IsValid() {
		if err := Unmarshal(raw, obj); err != nil {
			return nil, fmt.Errorf("aggregates: stored %s: %w", k.Name, err)
		}
		return statusJSON(obj)
	}
	var m statusMember
	if err := Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("aggregates: stored %s: %w", k.Name, err)
	}
	if len(m.Status) > 0 {
		if err := Unmarshal(m.Status, v.Addr().Interface()); err != nil {
			return nil, fmt.Errorf("aggregates: stored %s status: %w", k.Name, err)
		}
	}
	return json.Marshal(v.Addr().Interface())
}

// scaleView is what a scale command reads of the stored object, decoded
// when scaleFields cannot be sure.
type scaleView struct {
	Metadata struct {
		Generation int64 `json:"generation"`
	} `json:"metadata"`
	Spec struct {
		Replicas *int32 `json:"replicas"`
	} `json:"spec"`
}

func decideScale(k *Kind, s State, c Command) (Decision, error) {
	if c.Replicas == nil {
		return Decision{}, invalid(k, c.Name, field.ErrorList{field.Required(field.NewPath("spec", "replicas"), "scale needs a replica count")})
	}
	if *c.Replicas < 0 {
		return Decision{}, invalid(k, c.Name, field.ErrorList{field.Invalid(field.NewPath("spec", "replicas"), *c.Replicas, "must be greater than or equal to 0")})
	}
	generation, replicas, ok := scaleFields(s.Raw) // without decoding the whole object
	if !ok {
		var cur scaleView
		if err := json.Unmarshal(s.Raw, &cur); err != nil {
			return Decision{}, fmt.Errorf("aggregates: stored %s %q: %w", k.Name, c.Name, err)
		}
		generation, replicas = cur.Metadata.Generation, cur.Spec.Replicas
	}
	prev := int32(1)
	if replicas != nil {
		prev = *replicas
	}
	if prev == *c.Replicas {
		return Decision{}, nil
	}
	return one(Scaled, ScaledData{Replicas: *c.Replicas, Previous: prev, Generation: generation + 1}), nil
}

// bindView is what a bind reads of the stored pod.
type bindView struct {
	Metadata struct {
		DeletionTimestamp *metav1.Time `json:"deletionTimestamp"`
	} `json:"metadata"`
	Spec struct {
		NodeName string `json:"nodeName"`
	} `json:"spec"`
}

func decideBind(k *Kind, s State, c Command) (Decision, error) {
	if c.NodeName == "" {
		return Decision{}, invalid(k, c.Name, field.ErrorList{field.Required(field.NewPath("target", "name"), "a node to bind to")})
	}
	var pod bindView
	if err := Unmarshal(s.Raw, &pod); err != nil {
		return Decision{}, fmt.Errorf("aggregates: stored pod: %w", err)
	}
	if pod.Metadata.DeletionTimestamp != nil {
		return Decision{}, apierrors.NewConflict(k.GroupResource(), c.Name, fmt.Errorf("pod is being deleted"))
	}
	if pod.Spec.NodeName != "" {
		return Decision{}, apierrors.NewConflict(k.GroupResource(), c.Name, fmt.Errorf("pod %s/%s is already assigned to node %q", c.Namespace, c.Name, pod.Spec.NodeName))
	}
	return one(Bound, BoundData{NodeName: c.NodeName}), nil
}

// decidePatch merges the patch into the object and decides it as an
// update, so a patch obeys every rule an update does.
func decidePatch(k *Kind, s State, c Command) (Decision, error) {
	if len(c.Patch) == 0 {
		return Decision{}, apierrors.NewBadRequest(fmt.Sprintf("%s %q: patch needs a patch", k.Name, c.Name))
	}
	patched, err := jsonpatch.MergePatch(s.Raw, c.Patch)
	if err != nil {
		return Decision{}, apierrors.NewBadRequest(fmt.Sprintf("%s %q: patch: %v", k.Name, c.Name, err))
	}
	c.Object = patched
	return decideUpdate(k, s, c)
}

// decideNamespaceDelete: a namespace is Terminating until the namespace
// controller has deleted everything in it and finalizes it.
func decideNamespaceDelete(k *Kind, s State, env Env) (Decision, error) {
	obj, err := decodeStored(k, s.Raw)
	if err != nil {
		return Decision{}, err
	}
	if obj.GetDeletionTimestamp() != nil {
		return Decision{}, nil // already terminating
	}
	return one(Terminating, TerminatingData{DeletionTimestamp: metav1.NewTime(env.Now.UTC())}), nil
}

// decideApply creates, or merges the manifest three ways into the object
// (see applymerge.go) and decides the result as an update.
func decideApply(k *Kind, s State, c Command, env Env) (Decision, error) {
	if k.Sealed || len(c.Object) == 0 {
		if !s.Exists() {
			return decideCreate(k, s, c, env)
		}
		return decideUpdate(k, s, c)
	}
	if !s.Exists() {
		withSelf, err := withLastApplied(c.Object)
		if err != nil {
			return Decision{}, apierrors.NewBadRequest(fmt.Sprintf("%s %q: apply: %v", k.Name, c.Name, err))
		}
		c.Object = withSelf
		return decideCreate(k, s, c, env)
	}
	if _, _, err := manifest(k, c); err != nil {
		return Decision{}, err // the manifest itself must be valid, field by field
	}
	merged, err := mergeApplied(k, s.Raw, c.Object)
	if err != nil {
		return Decision{}, err
	}
	c.Object = merged
	return decideUpdate(k, s, c)
}
