package component

import (
	"testing"

	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

func TestWithModelNames(t *testing.T) {
	get := func(common.ReferenceCallback) map[string]common.OpenAPIDefinition {
		return map[string]common.OpenAPIDefinition{
			"k8s.io/metrics/pkg/apis/metrics/v1beta1.PodMetrics": {Schema: spec.Schema{SchemaProps: spec.SchemaProps{Description: "pod"}}},
		}
	}
	defs := withModelNames(get)(nil)
	if defs["io.k8s.metrics.pkg.apis.metrics.v1beta1.PodMetrics"].Schema.Description != "pod" || len(defs) != 2 {
		t.Errorf("definitions %v", defs)
	}
}
