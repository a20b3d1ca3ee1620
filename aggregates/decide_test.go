package aggregates

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

var testEnv = Env{Now: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC), NewUID: func() string { return "uid-1" }}

const deployYAML = `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"default","labels":{"app":"web"}},
"spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},
"spec":{"containers":[{"name":"web","image":"busybox:1"}]}}}}`

// fold runs commands through Decide and Apply like the command service does.
func fold(t *testing.T, k *Kind, cmds ...Command) (State, []Event) {
	t.Helper()
	var s State
	var events []Event
	for _, c := range cmds {
		d, err := Decide(k, s, c, testEnv)
		if err != nil {
			t.Fatalf("%s %s: %v", c.Verb, c.Name, err)
		}
		if d.Event == nil {
			continue
		}
		raw, err := Apply(s.Raw, *d.Event)
		if err != nil {
			t.Fatalf("apply %s: %v", d.Event.Verb, err)
		}
		s = State{Raw: raw, Seq: s.Seq + 1}
		events = append(events, *d.Event)
	}
	return s, events
}

func TestDeploymentLifecycle(t *testing.T) {
	k := Deployment()
	three, seven := int32(3), int32(7)
	v := "blue"
	updated := strings.Replace(deployYAML, "busybox:1", "busybox:2", 1)
	s, events := fold(t, k,
		Command{Verb: VerbCreate, Namespace: "default", Name: "web", Object: json.RawMessage(deployYAML)},
		Command{Verb: VerbScale, Namespace: "default", Name: "web", Replicas: &seven},
		Command{Verb: VerbScale, Namespace: "default", Name: "web", Replicas: &seven}, // no change: no event
		Command{Verb: VerbLabel, Namespace: "default", Name: "web", Labels: map[string]*string{"tier": &v}},
		Command{Verb: VerbApply, Namespace: "default", Name: "web", Object: json.RawMessage(strings.Replace(updated, `"replicas":3`, `"replicas":7`, 1))},
	)
	_ = three
	var got []string
	for _, e := range events {
		got = append(got, e.Verb)
	}
	if strings.Join(got, ",") != "created,scaled,labeled,updated" {
		t.Fatalf("events = %v", got)
	}
	var d appsv1.Deployment
	if err := json.Unmarshal(s.Raw, &d); err != nil {
		t.Fatal(err)
	}
	if *d.Spec.Replicas != 7 || d.Spec.Template.Spec.Containers[0].Image != "busybox:2" || d.UID != "uid-1" {
		t.Errorf("folded deployment: replicas %d image %s uid %s", *d.Spec.Replicas, d.Spec.Template.Spec.Containers[0].Image, d.UID)
	}
	if d.Generation != 3 {
		t.Errorf("generation = %d, want 3 (create, scale, image change)", d.Generation)
	}
	// Apply merges: the label set by the label command stays, as with kubectl.
	if d.Labels["tier"] != "blue" {
		t.Errorf("labels = %v: apply should keep labels its manifests never set", d.Labels)
	}
	if d.Spec.Strategy.RollingUpdate.MaxSurge.String() != "25%" {
		t.Errorf("strategy not defaulted: %+v", d.Spec.Strategy)
	}
}

func TestDecideRejects(t *testing.T) {
	k := Deployment()
	created, _ := fold(t, k, Command{Verb: VerbCreate, Namespace: "default", Name: "web", Object: json.RawMessage(deployYAML)})
	neg := int32(-1)
	cases := []struct {
		name   string
		state  State
		cmd    Command
		reason func(error) bool
		want   string
	}{
		{"unknown field", State{}, Command{Verb: VerbCreate, Namespace: "default", Name: "web", Object: json.RawMessage(strings.Replace(deployYAML, `"replicas":3`, `"replicas":3,"replicaz":1`, 1))},
			apierrors.IsInvalid, `unknown field "spec.replicaz"`},
		{"wrong type", State{}, Command{Verb: VerbCreate, Namespace: "default", Name: "web", Object: json.RawMessage(strings.Replace(deployYAML, `"replicas":3`, `"replicas":"three"`, 1))},
			apierrors.IsInvalid, "spec.replicas"},
		{"bad name", State{}, Command{Verb: VerbCreate, Namespace: "default", Name: "Web_1", Object: json.RawMessage(strings.Replace(deployYAML, `"name":"web"`, `"name":"Web_1"`, 1))},
			apierrors.IsInvalid, "metadata.name: Invalid value: \"Web_1\": a lowercase RFC 1123 subdomain"},
		{"bad label", State{}, Command{Verb: VerbCreate, Namespace: "default", Name: "web", Object: json.RawMessage(strings.Replace(deployYAML, `"labels":{"app":"web"}},
"spec"`, `"labels":{"app":"web","bad key!":"x"}},
"spec"`, 1))},
			apierrors.IsInvalid, `metadata.labels: Invalid value: "bad key!"`},
		{"selector mismatch", State{}, Command{Verb: VerbCreate, Namespace: "default", Name: "web", Object: json.RawMessage(strings.Replace(deployYAML, `"matchLabels":{"app":"web"}`, `"matchLabels":{"app":"api"}`, 1))},
			apierrors.IsInvalid, "`selector` does not match template `labels`"},
		{"exists", created, Command{Verb: VerbCreate, Namespace: "default", Name: "web", Object: json.RawMessage(deployYAML)},
			apierrors.IsAlreadyExists, `deployments.apps "web" already exists`},
		{"missing", State{}, Command{Verb: VerbScale, Namespace: "default", Name: "web", Replicas: &neg},
			apierrors.IsNotFound, `deployments.apps "web" not found`},
		{"negative scale", created, Command{Verb: VerbScale, Namespace: "default", Name: "web", Replicas: &neg},
			apierrors.IsInvalid, "spec.replicas: Invalid value: -1: must be greater than or equal to 0"},
		{"stale version", created, Command{Verb: VerbUpdate, Namespace: "default", Name: "web", ResourceVersion: "7", Object: json.RawMessage(deployYAML)},
			apierrors.IsConflict, "the object has been modified"},
		{"wrong kind", State{}, Command{Verb: VerbCreate, Namespace: "default", Name: "web", Object: json.RawMessage(strings.Replace(deployYAML, `"kind":"Deployment"`, `"kind":"Service"`, 1))},
			apierrors.IsInvalid, "kind: Invalid value: \"Service\": must be Deployment"},
		{"bind not a verb", created, Command{Verb: VerbBind, Namespace: "default", Name: "web", NodeName: "n1"},
			apierrors.IsMethodNotSupported, "bind is not supported"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decide(k, c.state, c.cmd, testEnv)
			if err == nil || !c.reason(err) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestPodBindAndGracefulDelete(t *testing.T) {
	k := Pod()
	pod := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"default"},"spec":{"containers":[{"name":"c","image":"busybox:1"}]}}`
	s, _ := fold(t, k,
		Command{Verb: VerbCreate, Namespace: "default", Name: "p", Object: json.RawMessage(pod)},
		Command{Verb: VerbBind, Namespace: "default", Name: "p", NodeName: "n1"},
	)
	if _, err := Decide(k, s, Command{Verb: VerbBind, Namespace: "default", Name: "p", NodeName: "n2"}, testEnv); !apierrors.IsConflict(err) || !strings.Contains(err.Error(), `already assigned to node "n1"`) {
		t.Fatalf("double bind: %v", err)
	}
	if _, err := Decide(k, s, Command{Verb: VerbBind, Namespace: "default", Name: "p"}, testEnv); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "a node to bind to") {
		t.Fatalf("bind to no node: %v", err)
	}
	terminating := State{Raw: json.RawMessage(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"q","namespace":"default","deletionTimestamp":"2026-11-22T10:00:00Z"},"spec":{"containers":[{"name":"c","image":"busybox:1"}]}}`), Seq: 7}
	if _, err := Decide(k, terminating, Command{Verb: VerbBind, Namespace: "default", Name: "q", NodeName: "n1"}, testEnv); !apierrors.IsConflict(err) || !strings.Contains(err.Error(), "pod is being deleted") {
		t.Fatalf("bind of a terminating pod: %v", err)
	}
	d, err := Decide(k, s, Command{Verb: VerbDelete, Namespace: "default", Name: "p"}, testEnv)
	if err != nil || d.Event.Verb != Terminating {
		t.Fatalf("delete of a bound pod = %+v, %v; want terminating", d.Event, err)
	}
	raw, _ := Apply(s.Raw, *d.Event)
	d, err = Decide(k, State{Raw: raw, Seq: 3}, Command{Verb: VerbFinalize, Namespace: "default", Name: "p"}, testEnv)
	if err != nil || d.Event.Verb != Deleted {
		t.Fatalf("finalize = %+v, %v", d.Event, err)
	}
}

func TestPatchObeysUpdateRules(t *testing.T) {
	k := Deployment()
	s, _ := fold(t, k, Command{Verb: VerbCreate, Namespace: "default", Name: "web", Object: json.RawMessage(deployYAML)})
	d, err := Decide(k, s, Command{Verb: VerbPatch, Namespace: "default", Name: "web",
		Patch: json.RawMessage(`{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"busybox:2"}]}}}}`)}, testEnv)
	if err != nil || d.Event == nil || d.Event.Verb != Updated {
		t.Fatalf("patch image = %+v, %v", d.Event, err)
	}
	_, err = Decide(k, s, Command{Verb: VerbPatch, Namespace: "default", Name: "web",
		Patch: json.RawMessage(`{"spec":{"selector":{"matchLabels":{"app":"other"}},"template":{"metadata":{"labels":{"app":"other"}}}}}`)}, testEnv)
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.selector") {
		t.Fatalf("patching the selector = %v, want an immutable-field refusal", err)
	}
}

// An apply of the same manifest onto a stored object (which readers stamp
// with its resourceVersion) changes nothing.
func TestReapplyIsUnchanged(t *testing.T) {
	k := Deployment()
	s, _ := fold(t, k, Command{Verb: VerbApply, Namespace: "default", Name: "web", Object: json.RawMessage(deployYAML)})
	stamped, err := WithResourceVersion(s.Raw, s.Seq)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Decide(k, State{Raw: stamped, Seq: s.Seq}, Command{Verb: VerbApply, Namespace: "default", Name: "web", Object: json.RawMessage(deployYAML)}, testEnv)
	if err != nil || d.Event != nil {
		t.Fatalf("reapply = %+v, %v; want no event", d.Event, err)
	}
}

func TestNamespaceDeleteIsTwoPhase(t *testing.T) {
	k := Namespace()
	s, _ := fold(t, k, Command{Verb: VerbCreate, Name: "shop", Object: json.RawMessage(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop"}}`)})
	d, err := Decide(k, s, Command{Verb: VerbDelete, Name: "shop"}, testEnv)
	if err != nil || d.Event.Verb != Terminating {
		t.Fatalf("delete = %+v, %v; want terminating", d.Event, err)
	}
	raw, _ := Apply(s.Raw, *d.Event)
	if d, err := Decide(k, State{Raw: raw, Seq: 2}, Command{Verb: VerbDelete, Name: "shop"}, testEnv); err != nil || d.Event != nil {
		t.Fatalf("second delete = %+v, %v; want nothing", d.Event, err)
	}
	if d, err := Decide(k, State{Raw: raw, Seq: 2}, Command{Verb: VerbFinalize, Name: "shop"}, testEnv); err != nil || d.Event.Verb != Deleted {
		t.Fatalf("finalize = %+v, %v", d.Event, err)
	}
}

// A status equal to the stored one, whatever the stored JSON's key order,
// changes nothing.
func TestSameStatusIsUnchanged(t *testing.T) {
	k := Deployment()
	s, _ := fold(t, k, Command{Verb: VerbCreate, Namespace: "default", Name: "web", Object: json.RawMessage(deployYAML)})
	st := json.RawMessage(`{"replicas":3,"observedGeneration":1,"conditions":[{"type":"Available","status":"True","reason":"MinimumReplicasAvailable"}]}`)
	s, events := fold(t, k, Command{Verb: VerbCreate, Namespace: "default", Name: "web", Object: json.RawMessage(deployYAML)},
		Command{Verb: VerbStatus, Namespace: "default", Name: "web", Status: st})
	if len(events) != 2 {
		t.Fatalf("events = %d", len(events))
	}
	d, err := Decide(k, s, Command{Verb: VerbStatus, Namespace: "default", Name: "web", Status: st}, testEnv)
	if err != nil || d.Event != nil {
		t.Fatalf("same status again = %+v, %v; want no event", d.Event, err)
	}
}

// Apply merges like kubectl: what a controller or another command set is
// kept; what the previous manifest set and this one drops is removed.
func TestApplyIsAThreeWayMerge(t *testing.T) {
	k := Deployment()
	withEnv := strings.Replace(deployYAML, `"image":"busybox:1"`, `"image":"busybox:1","env":[{"name":"A","value":"1"}]`, 1)
	seven := int32(7)
	s, _ := fold(t, k,
		Command{Verb: VerbApply, Namespace: "default", Name: "web", Object: json.RawMessage(withEnv)},
		Command{Verb: VerbPatch, Namespace: "default", Name: "web", Patch: json.RawMessage(`{"metadata":{"annotations":{"deployment.kubernetes.io/revision":"1"}}}`)},
		Command{Verb: VerbScale, Namespace: "default", Name: "web", Replicas: &seven},
	)
	// The same manifest again: the controller's annotation stays, and
	// replicas go back to the manifest's 3 (it sets them).
	d, err := Decide(k, s, Command{Verb: VerbApply, Namespace: "default", Name: "web", Object: json.RawMessage(withEnv)}, testEnv)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := Apply(s.Raw, *d.Event)
	var got appsv1.Deployment
	_ = json.Unmarshal(raw, &got)
	if got.Annotations["deployment.kubernetes.io/revision"] != "1" || *got.Spec.Replicas != 3 {
		t.Fatalf("annotations %v replicas %d", got.Annotations, *got.Spec.Replicas)
	}
	// A manifest without the env: the env it set before is removed.
	s = State{Raw: raw, Seq: s.Seq + 1}
	d, err = Decide(k, s, Command{Verb: VerbApply, Namespace: "default", Name: "web", Object: json.RawMessage(deployYAML)}, testEnv)
	if err != nil || d.Event == nil {
		t.Fatalf("apply without env = %+v, %v", d.Event, err)
	}
	raw, _ = Apply(s.Raw, *d.Event)
	got = appsv1.Deployment{}
	_ = json.Unmarshal(raw, &got)
	if len(got.Spec.Template.Spec.Containers[0].Env) != 0 || got.Annotations["deployment.kubernetes.io/revision"] != "1" {
		t.Fatalf("env %v annotations %v", got.Spec.Template.Spec.Containers[0].Env, got.Annotations)
	}
	// And once more: nothing changes.
	d, err = Decide(k, State{Raw: raw, Seq: s.Seq + 1}, Command{Verb: VerbApply, Namespace: "default", Name: "web", Object: json.RawMessage(deployYAML)}, testEnv)
	if err != nil || d.Event != nil {
		t.Fatalf("re-apply = %+v, %v; want nothing", d.Event, err)
	}
}

func TestServiceTypeChangeDropsNodePorts(t *testing.T) {
	k := Service()
	np := `{"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"type":"NodePort","selector":{"app":"web"},"ports":[{"port":80}]}}`
	s, _ := fold(t, k, Command{Verb: VerbApply, Namespace: "default", Name: "web", Object: json.RawMessage(np)})
	// The allocator gave it a node port.
	s, _ = fold(t, k, Command{Verb: VerbApply, Namespace: "default", Name: "web", Object: json.RawMessage(np)})
	withPort, _ := Apply(s.Raw, Event{Verb: Updated, Data: mustJSON(UpdatedData{Patch: json.RawMessage(`{"spec":{"ports":[{"port":80,"protocol":"TCP","targetPort":80,"nodePort":30080}]}}`)})})
	ci := strings.Replace(np, `"type":"NodePort"`, `"type":"ClusterIP"`, 1)
	d, err := Decide(k, State{Raw: withPort, Seq: 2}, Command{Verb: VerbApply, Namespace: "default", Name: "web", Object: json.RawMessage(ci)}, testEnv)
	if err != nil || d.Event == nil {
		t.Fatalf("NodePort → ClusterIP = %+v, %v", d.Event, err)
	}
	raw, _ := Apply(withPort, *d.Event)
	if strings.Contains(string(raw), "nodePort") {
		t.Fatalf("node port kept: %s", raw)
	}
}
