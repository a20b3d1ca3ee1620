package aggregates

import (
	"bytes"
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

// LastAppliedAnnotation is where apply keeps the manifest it was last
// given, as kubectl does, so the next apply knows which fields it owns.
const LastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// Apply rules: apply merges three ways, as `kubectl apply` does. A field the
// manifest sets is set; a field the previous manifest set and this one
// does not is removed; a field the manifests never set (a controller's
// annotation, a defaulted value, a scale) is kept. Lists merge by their
// Kubernetes merge keys (containers by name, ports by port). Secrets are
// the exception: their manifest would be kept in plain text in the
// annotation, so a Secret's apply replaces it.

// withLastApplied returns the manifest carrying itself in the annotation.
func withLastApplied(manifest []byte) ([]byte, error) {
	var m map[string]any
	if err := json.Unmarshal(manifest, &m); err != nil {
		return nil, err
	}
	meta, _ := m["metadata"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
		m["metadata"] = meta
	}
	ann, _ := meta["annotations"].(map[string]any)
	if ann == nil {
		ann = map[string]any{}
	}
	delete(ann, LastAppliedAnnotation)
	if len(ann) == 0 {
		delete(meta, "annotations")
	}
	self, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	ann[LastAppliedAnnotation] = string(self)
	meta["annotations"] = ann
	return json.Marshal(m)
}

// mergeApplied is the object an apply of manifest onto current leaves.
func mergeApplied(k *Kind, current, manifest []byte) ([]byte, error) {
	modified, err := withLastApplied(manifest)
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("%s: apply: %v", k.Name, err))
	}
	obj, err := decodeStored(k, current)
	if err != nil {
		return nil, err
	}
	original := []byte(obj.GetAnnotations()[LastAppliedAnnotation])
	if len(bytes.TrimSpace(original)) == 0 {
		original = []byte(`{}`)
	}
	obj.SetResourceVersion("")
	cur := mustJSON(obj)
	meta, err := strategicpatch.NewPatchMetaFromStruct(k.New())
	if err != nil {
		return nil, err
	}
	patch, err := strategicpatch.CreateThreeWayMergePatch(original, modified, cur, meta, true)
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("%s %q: apply: %v", k.Name, obj.GetName(), err))
	}
	merged, err := strategicpatch.StrategicMergePatch(cur, patch, k.New())
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("%s %q: apply: %v", k.Name, obj.GetName(), err))
	}
	return merged, nil
}
