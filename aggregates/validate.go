package aggregates

import (
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validateName checks an object's name: a DNS-1123 label for kinds whose
// names become DNS labels (namespaces, services), a subdomain otherwise.
func validateName(k *Kind, name string, p *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(p, "name is required")}
	}
	if k.Token == "namespace" || k.Token == "service" {
		return validateDNSLabel(name, p)
	}
	if dns1123Label(name) { // what most names are: a subdomain, without its regular expression
		return nil
	}
	var errs field.ErrorList
	for _, m := range validation.IsDNS1123Subdomain(name) {
		errs = append(errs, field.Invalid(p, name, m))
	}
	return errs
}

// dns1123Label: name is 1 to 63 lower-case letters, digits and '-',
// beginning and ending with a letter or digit (RFC 1123 label), which both
// validation.IsDNS1123Label and IsDNS1123Subdomain take.
func dns1123Label(name string) bool {
	if len(name) == 0 || len(name) > 63 || name[0] == '-' || name[len(name)-1] == '-' {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func validateKeys[V any](m map[string]V, member string) field.ErrorList {
	var errs field.ErrorList
	for key := range m {
		if configMapKey(key) {
			continue
		}
		for _, msg := range validation.IsConfigMapKey(key) {
			errs = append(errs, field.Invalid(field.NewPath(member).Key(key), key, msg)) // the path only for an error
		}
	}
	return errs
}

// configMapKey: key is what validation.IsConfigMapKey takes, checked
// without its regular expression: 1 to 253 of [-._a-zA-Z0-9], neither "."
// nor beginning with "..". It reports false for what it is not sure of.
func configMapKey(key string) bool {
	if len(key) == 0 || len(key) > 253 || key == "." || strings.HasPrefix(key, "..") {
		return false
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

func validatePort(port int32, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsValidPortNum(int(port)) {
		errs = append(errs, field.Invalid(p, port, msg))
	}
	return errs
}

func validateDNSLabel(v string, p *field.Path) field.ErrorList {
	if dns1123Label(v) { // what most are, without the upstream regular expression
		return nil
	}
	var errs field.ErrorList
	for _, msg := range validation.IsDNS1123Label(v) {
		errs = append(errs, field.Invalid(p, v, msg))
	}
	return errs
}

func oneOf(v string, p *field.Path, allowed ...string) field.ErrorList {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return field.ErrorList{field.NotSupported(p, v, allowed)}
}

// imageTagless reports whether an image reference names no tag or :latest.
func imageTagless(image string) bool {
	if strings.Contains(image, "@") {
		return false
	}
	last := image[strings.LastIndex(image, "/")+1:]
	i := strings.LastIndex(last, ":")
	return i < 0 || last[i+1:] == "latest"
}
