package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/gantry-sh/gantry/projections/projtest"
)

// TestCreateRunExpose: kubectl's imperative creators build the objects
// kubectl would, through create commands; bad flags are refused before
// anything is sent.
func TestCreateRunExpose(t *testing.T) {
	c := projtest.Start(t, projtest.Options{})
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.conf"), []byte("x=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "blob"), []byte{0xff, 0xfe, 0}, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		args []string
		out  string // printed, or
		err  string // the refusal
	}{
		{[]string{"create", "namespace", "shop"}, "namespace/shop created\n", ""},
		{[]string{"create", "configmap", "cfg", "-n", "shop", "--from-literal=mode=fast", "--from-file=" + filepath.Join(dir, "app.conf"), "--from-file=raw=" + filepath.Join(dir, "blob")}, "configmap/cfg created\n", ""},
		{[]string{"create", "secret", "generic", "db", "-n", "shop", "--from-literal=password=s3cret"}, "secret/db created\n", ""},
		{[]string{"create", "deployment", "web", "-n", "shop", "--image=registry.local:5000/web:2", "--replicas=3", "--port=8080"}, "deployment.apps/web created\n", ""},
		{[]string{"run", "probe", "-n", "shop", "--image=busybox", "--restart=Never", "--", "sh", "-c", "echo hi"}, "pod/probe created\n", ""},
		{[]string{"expose", "deployment/web", "-n", "shop", "--port=80", "--target-port=8080"}, "service/web exposed\n", ""},
		{[]string{"expose", "pod", "probe", "-n", "shop", "--port=80", "--name=probe-svc", "--type=NodePort"}, "service/probe-svc exposed\n", ""},
		{[]string{"create", "deployment", "api", "-n", "shop"}, "", "error: create deployment: --image is required\n"},
		{[]string{"create", "configmap", "dup", "-n", "shop", "--from-literal=a=1", "--from-literal=a=2"}, "", "error: key \"a\" given twice\n"},
		{[]string{"run", "p2", "--image=busybox", "sh"}, "", "error: run: a command goes after --: run p2 --image=busybox -- sh\n"},
		{[]string{"expose", "configmap/cfg", "-n", "shop", "--port=80"}, "", "error: expose: cannot expose configmaps\n"},
		{[]string{"create", "namespace", "shop"}, "", "error: namespaces \"shop\" already exists\n"},
	} {
		out, errOut := gantryOn(c, step.args...)
		if out != step.out || errOut != step.err {
			t.Fatalf("gantry %s:\n got %q %q\nwant %q %q", strings.Join(step.args, " "), out, errOut, step.out, step.err)
		}
	}
	var cm corev1.ConfigMap
	get(t, c, "configmap", "shop", "cfg", &cm)
	if cm.Data["mode"] != "fast" || cm.Data["app.conf"] != "x=1\n" || !bytes.Equal(cm.BinaryData["raw"], []byte{0xff, 0xfe, 0}) {
		t.Errorf("config map data %v, binary %v", cm.Data, cm.BinaryData)
	}
	var d appsv1.Deployment
	get(t, c, "deployment", "shop", "web", &d)
	ctr := d.Spec.Template.Spec.Containers[0]
	if *d.Spec.Replicas != 3 || d.Spec.Selector.MatchLabels["app"] != "web" || ctr.Name != "web" || ctr.Ports[0].ContainerPort != 8080 {
		t.Errorf("deployment %+v", d.Spec)
	}
	var p corev1.Pod
	get(t, c, "pod", "shop", "probe", &p)
	if p.Labels["run"] != "probe" || p.Spec.RestartPolicy != corev1.RestartPolicyNever || strings.Join(p.Spec.Containers[0].Command, " ") != "sh -c echo hi" {
		t.Errorf("pod %v %+v", p.Labels, p.Spec)
	}
	var svc corev1.Service
	get(t, c, "service", "shop", "web", &svc)
	if svc.Spec.Selector["app"] != "web" || svc.Spec.Ports[0].Port != 80 || svc.Spec.Ports[0].TargetPort.IntValue() != 8080 || svc.Spec.ClusterIP == "" {
		t.Errorf("service %+v", svc.Spec)
	}
	get(t, c, "service", "shop", "probe-svc", &svc)
	if svc.Spec.Selector["run"] != "probe" || svc.Spec.Type != corev1.ServiceTypeNodePort || svc.Spec.Ports[0].NodePort == 0 {
		t.Errorf("service %+v", svc.Spec)
	}
	var s corev1.Secret
	get(t, c, "secret", "shop", "db", &s)
	if string(s.Data["password"]) != "s3cret" || s.Type != corev1.SecretTypeOpaque {
		t.Errorf("secret %v %s", s.Data, s.Type)
	}
}

// gantryOn runs the command line against the test cluster and returns what
// it printed and what it printed as an error.
func gantryOn(c *projtest.Cluster, args ...string) (string, string) {
	var out, errOut bytes.Buffer
	Main(append([]string{"--server", c.Server.ClientURL()}, args...), nil, &out, &errOut)
	return out.String(), errOut.String()
}

// get reads one object from the test cluster's view, once it holds
// everything stored.
func get(t *testing.T, c *projtest.Cluster, kind, ns, name string, into any) {
	t.Helper()
	if err := c.CaughtUp(t.Context()); err != nil {
		t.Fatal(err)
	}
	e, ok := c.View.Get(kind, ns, name)
	if !ok {
		t.Fatalf("%s %s/%s not found", kind, ns, name)
	}
	if err := json.Unmarshal(e.Raw, into); err != nil {
		t.Fatal(err)
	}
}

// TestDeleteBySelectorAllAndNames: delete takes several names, a label
// selector or --all, as kubectl.
func TestDeleteBySelectorAllAndNames(t *testing.T) {
	c := projtest.Start(t, projtest.Options{})
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		c.Apply("deployment", "default", name, deploymentManifest(name, 1))
	}
	for _, name := range []string{"x", "y"} {
		c.Apply("configmap", "default", name, map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": name}})
	}
	for _, tc := range []struct {
		args        []string
		out, stderr string
	}{
		{[]string{"delete", "deploy", "-l", "app=a"}, "deployment.apps/a deleted\n", ""},
		{[]string{"delete", "deploy", "b", "c"}, "deployment.apps/b deleted\ndeployment.apps/c deleted\n", ""},
		{[]string{"delete", "deploy/d"}, "deployment.apps/d deleted\n", ""},
		{[]string{"delete", "cm/x", "deploy/e"}, "configmap/x deleted\ndeployment.apps/e deleted\n", ""},
		{[]string{"delete", "cm", "--all"}, "configmap/y deleted\n", ""},
		{[]string{"delete", "deploy", "-l", "app=a"}, "", "No resources found in default namespace.\n"},
		{[]string{"delete", "deploy"}, "", "error: delete: a name is required: deploy NAME… or deploy/NAME…\n"},
		{[]string{"delete", "deploy", "cm/x"}, "", "error: delete: there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'gantry delete resource/<resource_name>' instead of 'gantry delete resource resource/<resource_name>')\n"},
		{[]string{"delete", "deploy/"}, "", "error: delete: \"deploy/\": want KIND/NAME\n"},
		{[]string{"delete", "deploy/a", "-l", "app=a"}, "", "error: delete: -l or --all takes a kind alone (and not both)\n"},
	} {
		out, errOut := gantryOn(c, tc.args...)
		if out != tc.out || errOut != tc.stderr {
			t.Errorf("gantry %s:\n got %q %q\nwant %q %q", strings.Join(tc.args, " "), out, errOut, tc.out, tc.stderr)
		}
		if err := c.CaughtUp(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	for _, kind := range []string{"deployment", "configmap"} {
		if left := c.View.List(kind, "default"); len(left) != 0 {
			t.Errorf("%d %ss left", len(left), kind)
		}
	}
}

// TestObjectArgs: delete and wait read their objects alike, kubectl's way.
func TestObjectArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		refs []objectRef
		kind string
		err  string
	}{
		{args: []string{"deploy"}, kind: "deploy"},
		{args: []string{"deploy", "a", "b"}, refs: []objectRef{{"deploy", "a"}, {"deploy", "b"}}, kind: "deploy"},
		{args: []string{"deploy/a", "svc/b"}, refs: []objectRef{{"deploy", "a"}, {"svc", "b"}}},
		{args: []string{"deploy/a", "b"}, err: "no need to specify a resource type"},
		{args: []string{"deploy", "svc/b"}, err: "no need to specify a resource type"},
		{args: []string{"/a"}, err: `"/a": want KIND/NAME`},
		{args: nil, err: "want KIND NAME… or KIND/NAME…"},
	} {
		refs, kind, err := objectArgs("verb", tc.args)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: got %v, want an error with %q", tc.args, err, tc.err)
			}
		case err != nil || !slices.Equal(refs, tc.refs) || kind != tc.kind:
			t.Errorf("%q: got %v %q %v, want %v %q", tc.args, refs, kind, err, tc.refs, tc.kind)
		}
	}
}
