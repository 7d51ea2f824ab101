// Package storage is edgelet's local-path volumes: the default StorageClass
// (packaged manifest local-path.yaml) provisions a directory on the node a
// pod is scheduled to. The server side turns each claim the scheduler has
// placed into a hostPath PersistentVolume pinned to that node; when a claim
// of reclaim policy Delete is released, it deletes the volume. Each node's
// side makes the directories of its volumes (mode 0777, as
// local-path-provisioner does, so that a pod running as any user can write;
// kubelet would make them 0755 root, and mounts a volume of type Directory
// only once it exists) and removes the directories that no volume names any
// more. No image is pulled and no helper pod runs.
package storage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"
)

// Provisioner is the StorageClass provisioner name.
const Provisioner = "edgectl.io/local-path"

// Annotations the volume controller and the scheduler set on a claim.
const (
	annProvisioner  = "volume.kubernetes.io/storage-provisioner"
	annSelectedNode = "volume.kubernetes.io/selected-node"
	annProvisioned  = "pv.kubernetes.io/provisioned-by"
)

// volumeFor is the PersistentVolume for a claim placed on node, with its
// data under dir on that node.
func volumeFor(pvc *corev1.PersistentVolumeClaim, sc string, reclaim corev1.PersistentVolumeReclaimPolicy, node, dir string) *corev1.PersistentVolume {
	name := "pvc-" + string(pvc.UID)
	dirType := corev1.HostPathDirectory
	return &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{annProvisioned: Provisioner}},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: pvc.Spec.Resources.Requests[corev1.ResourceStorage]},
			AccessModes:                   pvc.Spec.AccessModes,
			StorageClassName:              sc,
			PersistentVolumeReclaimPolicy: reclaim,
			VolumeMode:                    pvc.Spec.VolumeMode,
			ClaimRef: &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1",
				Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID},
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{
				Path: filepath.Join(dir, fmt.Sprintf("%s_%s_%s", name, pvc.Namespace, pvc.Name)), Type: &dirType}},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{node}}},
			}}}},
		},
	}
}

// Provision makes the volumes of the claims that wait for this provisioner
// and deletes released volumes of reclaim policy Delete, once.
func Provision(ctx context.Context, client kubernetes.Interface, dir string) error {
	pvcs, err := client.CoreV1().PersistentVolumeClaims(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for i := range pvcs.Items {
		pvc := &pvcs.Items[i]
		node := pvc.Annotations[annSelectedNode]
		if pvc.Annotations[annProvisioner] != Provisioner || node == "" || pvc.Spec.VolumeName != "" || pvc.Status.Phase != corev1.ClaimPending {
			continue
		}
		scName := ""
		if pvc.Spec.StorageClassName != nil {
			scName = *pvc.Spec.StorageClassName
		}
		sc, err := client.StorageV1().StorageClasses().Get(ctx, scName, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("storage class of %s/%s: %w", pvc.Namespace, pvc.Name, err)
		}
		reclaim := corev1.PersistentVolumeReclaimDelete
		if sc.ReclaimPolicy != nil {
			reclaim = *sc.ReclaimPolicy
		}
		pv := volumeFor(pvc, scName, reclaim, node, dir)
		if _, err := client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create volume for %s/%s: %w", pvc.Namespace, pvc.Name, err)
		}
		klog.InfoS("Provisioned a local-path volume", "claim", pvc.Namespace+"/"+pvc.Name, "node", node, "volume", pv.Name)
	}
	pvs, err := client.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, pv := range pvs.Items {
		if pv.Annotations[annProvisioned] == Provisioner && pv.Status.Phase == corev1.VolumeReleased &&
			pv.Spec.PersistentVolumeReclaimPolicy == corev1.PersistentVolumeReclaimDelete {
			if err := client.CoreV1().PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
			klog.InfoS("Deleted a released local-path volume; its node removes the data", "volume", pv.Name)
		}
	}
	return nil
}

// Sync makes the missing directories of this node's volumes and removes
// the directories under dir that no volume of this provisioner names, once
// they are older than grace (so a directory made a moment ago is never
// removed on a stale list).
func Sync(ctx context.Context, client kubernetes.Interface, dir, node string, grace time.Duration) error {
	pvs, err := client.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	live := map[string]bool{}
	for _, pv := range pvs.Items {
		if pv.Spec.HostPath == nil || pv.Annotations[annProvisioned] != Provisioner || filepath.Dir(pv.Spec.HostPath.Path) != dir {
			continue
		}
		live[filepath.Base(pv.Spec.HostPath.Path)] = true
		if NodeOf(&pv) != node || pv.Status.Phase == corev1.VolumeReleased {
			continue
		}
		if _, err := os.Stat(pv.Spec.HostPath.Path); err == nil {
			continue
		}
		if err := os.MkdirAll(pv.Spec.HostPath.Path, 0o777); err != nil {
			return err
		}
		if err := os.Chmod(pv.Spec.HostPath.Path, 0o777); err != nil { // past the umask
			return err
		}
		klog.InfoS("Made the directory of a local-path volume", "volume", pv.Name)
	}
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !e.IsDir() || !strings.HasPrefix(e.Name(), "pvc-") || live[e.Name()] || time.Since(info.ModTime()) < grace {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
		klog.InfoS("Removed the data of a deleted local-path volume", "dir", e.Name())
	}
	return nil
}

// NodeOf is the node a volume is pinned to.
func NodeOf(pv *corev1.PersistentVolume) string {
	if pv.Spec.NodeAffinity == nil || pv.Spec.NodeAffinity.Required == nil {
		return ""
	}
	for _, term := range pv.Spec.NodeAffinity.Required.NodeSelectorTerms {
		for _, m := range term.MatchExpressions {
			if m.Key == corev1.LabelHostname && len(m.Values) == 1 {
				return m.Values[0]
			}
		}
	}
	return ""
}

// Run calls fn every interval until ctx ends, logging its failures.
func Run(ctx context.Context, interval time.Duration, what string, fn func(context.Context) error) {
	for {
		if err := fn(ctx); err != nil && ctx.Err() == nil {
			klog.ErrorS(err, "local-path "+what+" failed; retrying")
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}
