package storage

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
)

func TestProvisionAndRelease(t *testing.T) {
	ctx := context.Background()
	sc := "local-path"
	retain := corev1.PersistentVolumeReclaimRetain
	claim := func(name, node string) *corev1.PersistentVolumeClaim {
		return &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "db", UID: types.UID("uid-x" + name),
				Annotations: map[string]string{annProvisioner: Provisioner, annSelectedNode: node}},
			Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: &sc, AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}},
			Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending},
		}
	}
	unplaced := claim("later", "")
	client := fake.NewSimpleClientset(
		&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: sc}, Provisioner: Provisioner, ReclaimPolicy: &retain},
		claim("data", "agent-1"), unplaced,
		&corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pvc-gone", Annotations: map[string]string{annProvisioned: Provisioner}},
			Spec:   corev1.PersistentVolumeSpec{PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete},
			Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeReleased}})
	if err := Provision(ctx, client, "/var/lib/edgelet/storage"); err != nil {
		t.Fatal(err)
	}
	pv, err := client.CoreV1().PersistentVolumes().Get(ctx, "pvc-uid-xdata", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pv.Spec.HostPath.Path != "/var/lib/edgelet/storage/pvc-uid-xdata_db_data" || *pv.Spec.HostPath.Type != corev1.HostPathDirectory ||
		pv.Spec.NodeAffinity.Required.NodeSelectorTerms[0].MatchExpressions[0].Values[0] != "agent-1" ||
		pv.Spec.ClaimRef.Name != "data" || pv.Spec.PersistentVolumeReclaimPolicy != retain || pv.Spec.Capacity.Storage().String() != "1Gi" {
		t.Errorf("volume: %+v", pv.Spec)
	}
	if _, err := client.CoreV1().PersistentVolumes().Get(ctx, "pvc-uid-xlater", metav1.GetOptions{}); err == nil {
		t.Error("a claim not placed on a node yet got a volume")
	}
	if _, err := client.CoreV1().PersistentVolumes().Get(ctx, "pvc-gone", metav1.GetOptions{}); err == nil {
		t.Error("a released volume of reclaim policy Delete was kept")
	}
	if err := Provision(ctx, client, "/var/lib/edgelet/storage"); err != nil {
		t.Errorf("a second pass: %v", err)
	}
}

func TestSyncMakesAndRemovesDirectories(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"pvc-live_db_a", "pvc-orphan_db_b", "pvc-fresh_db_c", "not-ours"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-time.Hour)
	for _, d := range []string{"pvc-live_db_a", "pvc-orphan_db_b", "not-ours"} {
		_ = os.Chtimes(filepath.Join(dir, d), old, old)
	}
	vol := func(name, path, node string) *corev1.PersistentVolume {
		pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "db", UID: types.UID(name)}}
		pv := volumeFor(pvc, "local-path", corev1.PersistentVolumeReclaimDelete, node, dir)
		pv.Name, pv.Spec.HostPath.Path = name, filepath.Join(dir, path)
		return pv
	}
	client := fake.NewSimpleClientset(vol("pvc-live", "pvc-live_db_a", "n1"), vol("pvc-new", "pvc-new_db_d", "n1"), vol("pvc-elsewhere", "pvc-elsewhere_db_e", "n2"))
	if err := Sync(context.Background(), client, dir, "n1", time.Minute); err != nil {
		t.Fatal(err)
	}
	for d, want := range map[string]bool{"pvc-live_db_a": true, "pvc-orphan_db_b": false, "pvc-fresh_db_c": true, "not-ours": true,
		"pvc-new_db_d": true, "pvc-elsewhere_db_e": false} {
		if _, err := os.Stat(filepath.Join(dir, d)); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", d, err == nil, want)
		}
	}
	if st, _ := os.Stat(filepath.Join(dir, "pvc-new_db_d")); st.Mode().Perm() != 0o777 {
		t.Errorf("a new volume's directory is %v, want 0777", st.Mode().Perm())
	}
	if err := Sync(context.Background(), client, filepath.Join(dir, "missing"), "n1", time.Minute); err != nil {
		t.Errorf("a node without volumes: %v", err)
	}
}
