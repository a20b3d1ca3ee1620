package aggregates

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Namespace rules: a DNS-1123 label name; cluster-scoped; Active from
// creation. Delete makes it Terminating (no new objects may be created in
// it); the namespace controller deletes its contents, then finalizes it.
func Namespace() *Kind {
	return &Kind{
		Name: "Namespace", Token: "namespace", Plural: "namespaces", Aliases: []string{"ns"},
		Version: "v1",
		Verbs:   []string{VerbFinalize},
		New:     func() Object { return &corev1.Namespace{} },
		Default: func(o Object) {
			ns := o.(*corev1.Namespace)
			if ns.Status.Phase == "" {
				ns.Status.Phase = corev1.NamespaceActive
			}
		},
	}
}

// ConfigMap rules: keys are valid config-map keys, unique across data and binaryData.
func ConfigMap() *Kind {
	return &Kind{
		Name: "ConfigMap", Token: "configmap", Plural: "configmaps", Aliases: []string{"cm"},
		Version: "v1", Namespaced: true,
		New: func() Object { return &corev1.ConfigMap{} },
		Validate: func(o Object) field.ErrorList {
			cm := o.(*corev1.ConfigMap)
			errs := validateKeys(cm.Data, "data")
			errs = append(errs, validateKeys(cm.BinaryData, "binaryData")...)
			for key := range cm.BinaryData {
				if _, dup := cm.Data[key]; dup {
					errs = append(errs, field.Duplicate(field.NewPath("binaryData").Key(key), key))
				}
			}
			return errs
		},
	}
}

// Secret rules: keys are valid; stringData is folded into data on write
// (as the API server does), so only data is ever stored, and sealed.
func Secret() *Kind {
	return &Kind{
		Name: "Secret", Token: "secret", Plural: "secrets",
		Version: "v1", Namespaced: true, Sealed: true,
		New: func() Object { return &corev1.Secret{} },
		Default: func(o Object) {
			s := o.(*corev1.Secret)
			if s.Type == "" {
				s.Type = corev1.SecretTypeOpaque
			}
			if len(s.StringData) > 0 && s.Data == nil {
				s.Data = map[string][]byte{}
			}
			for key, v := range s.StringData {
				s.Data[key] = []byte(v)
			}
			s.StringData = nil
		},
		Validate: func(o Object) field.ErrorList {
			return validateKeys(o.(*corev1.Secret).Data, "data")
		},
	}
}
