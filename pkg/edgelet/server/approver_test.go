package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/edgectl/edgectl/pkg/edgelet/token"
)

func nodeCSR(t *testing.T, name, node, group string, org ...string) *certv1.CertificateSigningRequest {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "system:node:" + node, Organization: org}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return &certv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: certv1.CertificateSigningRequestSpec{
			Request:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
			SignerName: certv1.KubeAPIServerClientKubeletSignerName,
			Usages:     []certv1.KeyUsage{certv1.UsageDigitalSignature, certv1.UsageClientAuth},
			Username:   "system:bootstrap:abcdef", Groups: []string{"system:bootstrappers", group},
		}}
}

func decision(t *testing.T, client *fake.Clientset, name string) string {
	t.Helper()
	csr, err := client.CertificatesV1().CertificateSigningRequests().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range csr.Status.Conditions {
		return string(c.Type) + ": " + c.Message
	}
	return "pending"
}

// A single-use token approves the first node's certificate, records the use
// and shortens its life; a second node is denied with the reason; the
// cluster's own token and other CSRs are left to kube-controller-manager.
func TestTokenApprover(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	data, labels, ann := token.CountedSecret(token.Token{ID: "abcdef", Secret: "0123456789abcdef"}, "test", now.Add(time.Hour), 1)
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "bootstrap-token-abcdef", Namespace: "kube-system", Labels: labels, Annotations: ann},
		Type: corev1.SecretTypeBootstrapToken, Data: map[string][]byte{}}
	for k, v := range data {
		secret.Data[k] = []byte(v)
	}
	csrs := []*certv1.CertificateSigningRequest{
		nodeCSR(t, "first", "pi-7", token.CountedGroup, "system:nodes"),
		nodeCSR(t, "second", "pi-8", token.CountedGroup, "system:nodes"),
		nodeCSR(t, "cluster-token", "agent-0", token.ClusterGroup, "system:nodes"),
		nodeCSR(t, "not-a-node", "pi-9", token.CountedGroup, "system:masters"),
	}
	client := fake.NewClientset(secret)
	for _, c := range csrs {
		if _, err := client.CertificatesV1().CertificateSigningRequests().Create(ctx, c, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		approveCounted(ctx, client, c, now)
	}
	for name, want := range map[string]string{
		"first":         "Approved: node pi-7 joined with token abcdef",
		"second":        "Denied: join token refused: token abcdef was used up: 1 of 1 use(s), by pi-7",
		"cluster-token": "pending",
		"not-a-node":    "Denied: join token refused: CSR not-a-node is not a node client certificate",
	} {
		if got := decision(t, client, name); !strings.HasPrefix(got, want) {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	s, _ := client.CoreV1().Secrets("kube-system").Get(ctx, "bootstrap-token-abcdef", metav1.GetOptions{})
	if s.Annotations[token.AnnotationUsedBy] != "pi-7" || string(s.Data["expiration"]) != now.Add(token.UsedUpGrace).Format(time.RFC3339) {
		t.Errorf("secret after the use: %v %s", s.Annotations, s.Data["expiration"])
	}

	// A deleted token: its holder's CSR is denied, with the reason.
	_ = client.CoreV1().Secrets("kube-system").Delete(ctx, "bootstrap-token-abcdef", metav1.DeleteOptions{})
	gone := nodeCSR(t, "gone", "pi-10", token.CountedGroup, "system:nodes")
	_, _ = client.CertificatesV1().CertificateSigningRequests().Create(ctx, gone, metav1.CreateOptions{})
	approveCounted(ctx, client, gone, now)
	if got := decision(t, client, "gone"); !strings.Contains(got, "token abcdef was deleted") {
		t.Errorf("deleted token: %q", got)
	}
}
