package helmcontroller

import (
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestDecodeKeepsK3sFields(t *testing.T) {
	obj := &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{"name": "traefik", "namespace": "kube-system"},
		"spec": map[string]any{"chart": "traefik", "repo": "https://example.com", "jobImage": "rancher/klipper-helm",
			"set": map[string]any{"replicas": int64(2), "name": "x"}, "valuesContent": "a: 1"},
	}}
	c, err := decode(obj)
	if err != nil {
		t.Fatal(err)
	}
	if c.releaseNamespace() != "kube-system" || c.spec.Chart != "traefik" || c.spec.Set["replicas"] != intstr.FromInt32(2) {
		t.Errorf("decoded %+v", c.spec)
	}
	c.spec.TargetNamespace = "web"
	if c.releaseNamespace() != "web" {
		t.Error("targetNamespace ignored")
	}
}

func TestValues(t *testing.T) {
	vals, err := values(Spec{ValuesContent: "a: 1\nb: {c: x}", Set: map[string]intstr.IntOrString{"b.d": intstr.FromString("y"), "e": intstr.FromInt32(3)}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"a": float64(1), "b": map[string]any{"c": "x", "d": "y"}, "e": int64(3)}
	if !reflect.DeepEqual(vals, want) {
		t.Errorf("values %#v", vals)
	}
	if _, err := values(Spec{ValuesContent: "a: ["}); err == nil {
		t.Error("bad valuesContent accepted")
	}
	if _, err := (&helm{}).load(Spec{}); err == nil {
		t.Error("a chart with neither chart nor chartContent loaded")
	}
	if _, err := (&helm{}).load(Spec{ChartContent: "not base64!"}); err == nil {
		t.Error("bad chartContent loaded")
	}
}
