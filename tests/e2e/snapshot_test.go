package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// TestSnapshotRestore: a snapshot taken, objects deleted, the snapshot
// restored with the server stopped: the objects are back.
func TestSnapshotRestore(t *testing.T) {
	inLane(t, laneClusters)
	e := setup(t)
	const name = "e2e-snap"
	client, server, ctx := e.oneServer(t, name, 10*time.Minute)

	for i := 0; i < 3; i++ {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("keep-%d", i), Namespace: "default"},
			Data: map[string]string{"i": fmt.Sprint(i)}}
		if _, err := client.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	file := strings.TrimSpace(e.nodeExec(t, server, "edgelet", "snapshot", "save"))
	if !strings.HasSuffix(file, ".db") {
		t.Fatalf("snapshot save printed %q", file)
	}
	for i := 0; i < 3; i++ {
		if err := client.CoreV1().ConfigMaps("default").Delete(ctx, fmt.Sprintf("keep-%d", i), metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// Restoring under a running server is refused.
	res, err := e.p.Runtime().Exec(ctx, server, []string{"edgelet", "snapshot", "restore", file}, nil)
	if err != nil || res.ExitCode == 0 || !strings.Contains(res.Stderr, "stop it first") {
		t.Fatalf("restore while running: exit %d %v %s", res.ExitCode, err, res.Stderr)
	}
	e.nodeExec(t, server, "systemctl", "stop", "edgelet")
	e.nodeExec(t, server, "edgelet", "snapshot", "restore", file)
	e.nodeExec(t, server, "systemctl", "start", "edgelet")

	err = wait.PollUntilContextTimeout(ctx, time.Second, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		list, err := client.CoreV1().ConfigMaps("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		n := 0
		for _, cm := range list.Items {
			if strings.HasPrefix(cm.Name, "keep-") {
				n++
			}
		}
		return n == 3, nil
	})
	if err != nil {
		t.Fatalf("objects not back after restore: %v", err)
	}
}
