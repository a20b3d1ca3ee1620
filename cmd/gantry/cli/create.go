package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/gantry-sh/gantry/aggregates"
	"github.com/gantry-sh/gantry/bus"
)

// The imperative creators of kubectl: create namespace|configmap|secret
// generic|deployment, run and expose. Each builds the manifest kubectl
// would and sends it as a create command, so it is decided, validated and
// recorded like any other.

func createCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "create namespace|configmap|secret generic|deployment NAME …", Short: "Create an object from flags, as kubectl create does"}
	var reason string
	c.PersistentFlags().StringVar(&reason, "reason", "", "why: recorded with the change in its history")

	ns := &cobra.Command{
		Use: "namespace NAME", Aliases: []string{"ns"}, Short: "Create a namespace", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return g.create("namespace", &corev1.Namespace{TypeMeta: typeMeta("v1", "Namespace"), ObjectMeta: metav1.ObjectMeta{Name: args[0]}}, reason, "created")
		},
	}

	var data dataFlags
	cm := &cobra.Command{
		Use: "configmap NAME [--from-literal=KEY=VALUE]… [--from-file=[KEY=]PATH]…", Aliases: []string{"cm"}, Short: "Create a config map from literals and files", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			values, err := data.read()
			if err != nil {
				return err
			}
			obj := &corev1.ConfigMap{TypeMeta: typeMeta("v1", "ConfigMap"), ObjectMeta: metav1.ObjectMeta{Name: args[0], Namespace: g.ns()}}
			for k, v := range values { // a file that is not UTF-8 goes to binaryData
				if utf8.Valid(v) {
					setKey(&obj.Data, k, string(v))
				} else {
					setKey(&obj.BinaryData, k, v)
				}
			}
			return g.create("configmap", obj, reason, "created")
		},
	}
	data.addFlags(cm)

	secret := &cobra.Command{Use: "secret generic NAME …", Short: "Create a secret"}
	var sdata dataFlags
	var stype string
	generic := &cobra.Command{
		Use: "generic NAME [--from-literal=KEY=VALUE]… [--from-file=[KEY=]PATH]… [--type TYPE]", Short: "Create an Opaque (or --type) secret from literals and files", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			values, err := sdata.read()
			if err != nil {
				return err
			}
			obj := &corev1.Secret{TypeMeta: typeMeta("v1", "Secret"), ObjectMeta: metav1.ObjectMeta{Name: args[0], Namespace: g.ns()},
				Type: corev1.SecretType(stype), Data: values}
			return g.create("secret", obj, reason, "created")
		},
	}
	sdata.addFlags(generic)
	generic.Flags().StringVar(&stype, "type", string(corev1.SecretTypeOpaque), "the secret's type")
	secret.AddCommand(generic)

	var image string
	var replicas, port int32
	deploy := &cobra.Command{
		Use: "deployment NAME --image=IMAGE [--replicas=N] [--port=PORT]", Aliases: []string{"deploy"}, Short: "Create a deployment of one image", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if image == "" {
				return fmt.Errorf("create deployment: --image is required")
			}
			labels := map[string]string{"app": args[0]}
			obj := &appsv1.Deployment{TypeMeta: typeMeta("apps/v1", "Deployment"),
				ObjectMeta: metav1.ObjectMeta{Name: args[0], Namespace: g.ns(), Labels: labels},
				Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels},
					Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
						Spec: corev1.PodSpec{Containers: []corev1.Container{container(image, port)}}}}}
			return g.create("deployment", obj, reason, "created")
		},
	}
	deploy.Flags().StringVar(&image, "image", "", "the container image")
	deploy.Flags().Int32Var(&replicas, "replicas", 1, "how many pods")
	deploy.Flags().Int32Var(&port, "port", 0, "the port the container exposes (0: none)")

	c.AddCommand(ns, cm, secret, deploy)
	return c
}

// runCmd is kubectl run: one pod, labelled run=NAME.
func runCmd(g *globals) *cobra.Command {
	var image, restart, reason string
	var port int32
	var labels []string
	c := &cobra.Command{
		Use:   "run NAME --image=IMAGE [--port=PORT] [--labels=K=V,…] [--restart=Always|OnFailure|Never] [-- COMMAND [ARG…]]",
		Short: "Run one pod of an image",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if image == "" {
				return fmt.Errorf("run: --image is required")
			}
			l := map[string]string{"run": args[0]}
			if len(labels) > 0 {
				set, err := parseLabelArgs(labels)
				if err != nil {
					return err
				}
				l = map[string]string{}
				for k, v := range set {
					if v == nil {
						return fmt.Errorf("run: label %q: want key=value", k)
					}
					l[k] = *v
				}
			}
			ctr := container(image, port)
			ctr.Name = args[0]
			if dash := cmd.ArgsLenAtDash(); dash >= 0 {
				ctr.Command = args[dash:]
			} else if len(args) > 1 {
				return fmt.Errorf("run: a command goes after --: run %s --image=%s -- %s", args[0], image, strings.Join(args[1:], " "))
			}
			obj := &corev1.Pod{TypeMeta: typeMeta("v1", "Pod"), ObjectMeta: metav1.ObjectMeta{Name: args[0], Namespace: g.ns(), Labels: l},
				Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicy(restart), Containers: []corev1.Container{ctr}}}
			return g.create("pod", obj, reason, "created")
		},
	}
	c.Flags().StringVar(&image, "image", "", "the container image")
	c.Flags().Int32Var(&port, "port", 0, "the port the container exposes (0: none)")
	c.Flags().StringSliceVarP(&labels, "labels", "l", nil, "the pod's labels (default run=NAME)")
	c.Flags().StringVar(&restart, "restart", string(corev1.RestartPolicyAlways), "the pod's restart policy")
	c.Flags().StringVar(&reason, "reason", "", "why: recorded with the change in its history")
	return c
}

// exposeCmd is kubectl expose: a service selecting what the workload's
// selector (or a pod's labels) selects.
func exposeCmd(g *globals) *cobra.Command {
	var name, typ, protocol, reason string
	var port int32
	var target string
	c := &cobra.Command{
		Use:   "expose KIND/NAME | KIND NAME --port=PORT [--target-port=PORT] [--type=ClusterIP|NodePort|LoadBalancer] [--name=NAME]",
		Short: "Make a service for a deployment, replica set, stateful set, daemon set, pod or service",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(_ *cobra.Command, args []string) error {
			if port <= 0 {
				return fmt.Errorf("expose: --port is required")
			}
			var svc *corev1.Service
			err := g.onObject(args, func(client *bus.Client, k *aggregates.Kind, ns, objName string) error {
				selector, err := selectorOf(client, k, ns, objName)
				if err != nil {
					return err
				}
				tp := intstr.FromInt32(port)
				if target != "" {
					tp = intstr.Parse(target)
				}
				svc = &corev1.Service{TypeMeta: typeMeta("v1", "Service"), ObjectMeta: metav1.ObjectMeta{Name: or(name, objName), Namespace: ns},
					Spec: corev1.ServiceSpec{Type: corev1.ServiceType(typ), Selector: selector,
						Ports: []corev1.ServicePort{{Port: port, TargetPort: tp, Protocol: corev1.Protocol(protocol)}}}}
				return nil
			})
			if err != nil {
				return err
			}
			return g.create("service", svc, reason, "exposed")
		},
	}
	c.Flags().Int32Var(&port, "port", 0, "the service's port")
	c.Flags().StringVar(&target, "target-port", "", "the pods' port, a number or a name (default: --port)")
	c.Flags().StringVar(&typ, "type", string(corev1.ServiceTypeClusterIP), "ClusterIP, NodePort or LoadBalancer")
	c.Flags().StringVar(&protocol, "protocol", string(corev1.ProtocolTCP), "TCP or UDP")
	c.Flags().StringVar(&name, "name", "", "the service's name (default: the object's)")
	c.Flags().StringVar(&reason, "reason", "", "why: recorded with the change in its history")
	return c
}

// selectorOf is what a service for the object selects: a workload's
// matchLabels, a pod's labels, a service's selector.
func selectorOf(client *bus.Client, k *aggregates.Kind, ns, name string) (map[string]string, error) {
	var obj json.RawMessage
	if err := fetch(client, k.Token, ns, name, &obj); err != nil {
		return nil, err
	}
	var o struct {
		Metadata metav1.ObjectMeta `json:"metadata"`
		Spec     struct {
			Selector json.RawMessage `json:"selector"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(obj, &o); err != nil {
		return nil, err
	}
	var sel map[string]string
	switch k.Token {
	case "pod":
		sel = o.Metadata.Labels
	case "service", "replicationcontroller":
		_ = json.Unmarshal(o.Spec.Selector, &sel)
	case "deployment", "replicaset", "statefulset", "daemonset":
		var ls metav1.LabelSelector
		if err := json.Unmarshal(o.Spec.Selector, &ls); err != nil {
			return nil, err
		}
		if len(ls.MatchExpressions) > 0 {
			return nil, fmt.Errorf("expose: %s %q selects with matchExpressions, which a service cannot", k.Plural, o.Metadata.Name)
		}
		sel = ls.MatchLabels
	default:
		return nil, fmt.Errorf("expose: cannot expose %s", k.Plural)
	}
	if len(sel) == 0 {
		return nil, fmt.Errorf("expose: %s %q has no labels to select its pods by", k.Plural, o.Metadata.Name)
	}
	return sel, nil
}

// create sends obj as a create command and prints kubectl's line, done
// being its last word.
func (g *globals) create(kind string, obj metav1.Object, reason, done string) error {
	k, err := g.kind(kind)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	return g.send(k, aggregates.VerbCreate, obj.GetNamespace(), obj.GetName(), aggregates.Command{Object: raw}, reason, done)
}

func typeMeta(apiVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
}

// container is kubectl's: named after the image's last path element,
// without tag or digest.
func container(image string, port int32) corev1.Container {
	name := path.Base(image)
	name, _, _ = strings.Cut(name, "@")
	name, _, _ = strings.Cut(name, ":")
	c := corev1.Container{Name: name, Image: image}
	if port > 0 {
		c.Ports = []corev1.ContainerPort{{ContainerPort: port}}
	}
	return c
}

func setKey[V any](m *map[string]V, k string, v V) {
	if *m == nil {
		*m = map[string]V{}
	}
	(*m)[k] = v
}

// dataFlags are --from-literal and --from-file of create configmap and
// create secret generic.
type dataFlags struct {
	literals, files []string
}

func (d *dataFlags) addFlags(c *cobra.Command) {
	c.Flags().StringArrayVar(&d.literals, "from-literal", nil, "a KEY=VALUE pair (repeat for more)")
	c.Flags().StringArrayVar(&d.files, "from-file", nil, "a file, [KEY=]PATH, its name the key unless given; or a directory: each regular file in it (repeat for more)")
}

// read returns the keys and their values.
func (d *dataFlags) read() (map[string][]byte, error) {
	values := map[string][]byte{}
	add := func(k string, v []byte) error {
		if _, dup := values[k]; dup {
			return fmt.Errorf("key %q given twice", k)
		}
		values[k] = v
		return nil
	}
	for _, l := range d.literals {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--from-literal %q: want KEY=VALUE", l)
		}
		if err := add(k, []byte(v)); err != nil {
			return nil, err
		}
	}
	for _, f := range d.files {
		key, p, named := strings.Cut(f, "=")
		if !named {
			key, p = "", f
		}
		info, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("--from-file: %w", err)
		}
		paths := []string{p}
		if info.IsDir() {
			if named {
				return nil, fmt.Errorf("--from-file %q: a directory takes no key", f)
			}
			entries, err := os.ReadDir(p)
			if err != nil {
				return nil, fmt.Errorf("--from-file: %w", err)
			}
			paths = paths[:0]
			for _, e := range entries {
				if e.Type().IsRegular() {
					paths = append(paths, filepath.Join(p, e.Name()))
				}
			}
		}
		for _, file := range paths {
			b, err := os.ReadFile(file)
			if err != nil {
				return nil, fmt.Errorf("--from-file: %w", err)
			}
			k := key
			if k == "" {
				k = filepath.Base(file)
			}
			if err := add(k, b); err != nil {
				return nil, err
			}
		}
	}
	return values, nil
}
