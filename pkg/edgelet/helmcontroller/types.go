// Package helmcontroller installs Helm charts that HelmChart resources
// (helm.cattle.io/v1, the shape k3s uses) describe, with the Helm SDK inside
// edgelet: no helm job image, no pod. A HelmChart dropped into the server's
// manifests directory, or applied with kubectl, is installed; a change to it
// upgrades the release; deleting it uninstalls the release. The outcome is
// written to the resource's status (conditions) and as Events.
package helmcontroller

import (
	"encoding/json"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// GVR is the HelmChart resource.
var GVR = schema.GroupVersionResource{Group: "helm.cattle.io", Version: "v1", Resource: "helmcharts"}

// Finalizer holds a HelmChart until its release is uninstalled.
const Finalizer = "helm.edgectl.io/uninstall"

// Spec is what edgelet reads of a HelmChart's spec. Other k3s fields
// (jobImage, helmVersion, bootstrap, ...) are accepted and ignored.
type Spec struct {
	// Chart is a chart name in Repo, a URL of a chart archive, or an
	// oci:// reference; unused when ChartContent is set.
	Chart   string `json:"chart,omitempty"`
	Version string `json:"version,omitempty"`
	Repo    string `json:"repo,omitempty"`
	// ChartContent is a chart archive (.tgz), base64-encoded.
	ChartContent  string `json:"chartContent,omitempty"`
	ValuesContent string `json:"valuesContent,omitempty"`
	// Set are values given one by one (--set key=value).
	Set map[string]intstr.IntOrString `json:"set,omitempty"`
	// TargetNamespace is the release's namespace; default: the HelmChart's.
	TargetNamespace string `json:"targetNamespace,omitempty"`
	CreateNamespace bool   `json:"createNamespace,omitempty"`
	// Timeout bounds each install, upgrade or uninstall. Default 5m.
	Timeout *metav1.Duration `json:"timeout,omitempty"`
}

// Status is what edgelet writes to a HelmChart's status.
type Status struct {
	ObservedGeneration int64              `json:"observedGeneration,omitempty"`
	ReleaseName        string             `json:"releaseName,omitempty"`
	ReleaseNamespace   string             `json:"releaseNamespace,omitempty"`
	ReleaseRevision    int                `json:"releaseRevision,omitempty"`
	Conditions         []metav1.Condition `json:"conditions,omitempty"`
}

// ConditionDeployed is True while the release matches the HelmChart.
const ConditionDeployed = "Deployed"

// chart is one HelmChart, decoded.
type chart struct {
	obj    *unstructured.Unstructured
	spec   Spec
	status Status
}

func decode(obj *unstructured.Unstructured) (*chart, error) {
	c := &chart{obj: obj}
	if err := convert(obj.Object["spec"], &c.spec); err != nil {
		return nil, fmt.Errorf("spec: %w", err)
	}
	if err := convert(obj.Object["status"], &c.status); err != nil {
		c.status = Status{} // rewritten below
	}
	return c, nil
}

func convert(in, out any) error {
	if in == nil {
		return nil
	}
	data, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, out)
}

func (c *chart) key() string { return c.obj.GetNamespace() + "/" + c.obj.GetName() }

// releaseNamespace is where the release goes.
func (c *chart) releaseNamespace() string {
	if c.spec.TargetNamespace != "" {
		return c.spec.TargetNamespace
	}
	return c.obj.GetNamespace()
}
