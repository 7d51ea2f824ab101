// Package kubeconfig writes the kubeconfig files that edgelet's components and
// its users read, and makes clients from them.
package kubeconfig

import (
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Spec is what a kubeconfig needs: the server, the CA and a credential.
type Spec struct {
	Server   string
	CAFile   string // or CAData
	CAData   []byte
	CertFile string // client certificate, or Token
	KeyFile  string
	CertData []byte
	KeyData  []byte
	Token    string
	Context  string // name of the cluster, user and context; "default" if empty
}

// Build returns the kubeconfig for spec.
func Build(s Spec) *clientcmdapi.Config {
	name := s.Context
	if name == "" {
		name = "default"
	}
	c := clientcmdapi.NewConfig()
	c.Clusters[name] = &clientcmdapi.Cluster{Server: s.Server, CertificateAuthority: s.CAFile, CertificateAuthorityData: s.CAData}
	c.AuthInfos[name] = &clientcmdapi.AuthInfo{
		ClientCertificate: s.CertFile, ClientKey: s.KeyFile,
		ClientCertificateData: s.CertData, ClientKeyData: s.KeyData, Token: s.Token,
	}
	c.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	c.CurrentContext = name
	return c
}

// Write writes the kubeconfig for s to path with the given mode.
func Write(path string, s Spec, mode os.FileMode) error {
	data, err := clientcmd.Write(*Build(s))
	if err != nil {
		return fmt.Errorf("encode kubeconfig %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// NewClient is a client of the API server that the kubeconfig at path names.
func NewClient(path string) (kubernetes.Interface, error) {
	restCfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(restCfg)
}
