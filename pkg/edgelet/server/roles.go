package server

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"
)

// LabelControlPlane marks a server's Node, as kubeadm and k3s do, so that
// `kubectl get nodes` shows its role and charts can select it. kubelet may
// not set node-role labels itself (the NodeRestriction admission plugin
// refuses them), so the server sets it once its Node has registered.
const LabelControlPlane = "node-role.kubernetes.io/control-plane"

// labelControlPlane waits for the Node to register and labels it, once per
// start; an error is only logged: the label is for people and selectors.
func labelControlPlane(ctx context.Context, client kubernetes.Interface, node string, interval time.Duration) {
	patch := []byte(`{"metadata":{"labels":{"` + LabelControlPlane + `":""}}}`)
	err := wait.PollUntilContextCancel(ctx, interval, true, func(ctx context.Context) (bool, error) {
		_, err := client.CoreV1().Nodes().Patch(ctx, node, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "edgelet"})
		return err == nil, nil
	})
	if err != nil && ctx.Err() == nil {
		klog.ErrorS(err, "Failed to label the server's Node", "node", node)
	}
}
