// Package meta holds what every edgectl file format shares: its group
// version and its kind, inlined at the top of each document.
package meta

// GroupVersion of edgectl's file formats.
const GroupVersion = "edgectl.io/v1alpha1"

// TypeMeta names a document's format. Embedded without a tag, its fields
// sit at the top level of the YAML.
type TypeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

// Default fills an unset apiVersion and kind.
func (t *TypeMeta) Default(kind string) {
	if t.APIVersion == "" {
		t.APIVersion = GroupVersion
	}
	if t.Kind == "" {
		t.Kind = kind
	}
}
