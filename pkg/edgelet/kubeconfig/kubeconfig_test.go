package kubeconfig

import (
	"os"
	"path/filepath"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
)

func TestWriteIsReadBackWithItsMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dir", "admin.yaml")
	if err := Write(path, Spec{Server: "https://127.0.0.1:6443", CAData: []byte("ca"), Token: "t", Context: "edge"}, 0o600); err != nil {
		t.Fatal(err)
	}
	kc, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if kc.CurrentContext != "edge" || kc.Clusters["edge"].Server != "https://127.0.0.1:6443" || kc.AuthInfos["edge"].Token != "t" {
		t.Errorf("kubeconfig: %+v", kc)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode().Perm())
	}
	if Build(Spec{}).CurrentContext != "default" {
		t.Error("an unnamed context is not \"default\"")
	}
}
