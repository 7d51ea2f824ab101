package server

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/klog/v2"

	"github.com/edgectl/edgectl/pkg/edgelet/token"
)

// runTokenApprover approves the node client certificates that holders of
// counted tokens ask for, once each token's use is counted on its Secret,
// and denies them when the token is used up or gone. Every server runs it:
// the Secret's resourceVersion makes two servers count a use once.
func runTokenApprover(ctx context.Context, client kubernetes.Interface) {
	go collectExpiredTokens(ctx, client, 10*time.Minute, time.Hour)
	csrs := client.CertificatesV1().CertificateSigningRequests()
	for ctx.Err() == nil {
		list, err := csrs.List(ctx, metav1.ListOptions{})
		if err == nil {
			for i := range list.Items {
				approveCounted(ctx, client, &list.Items[i], time.Now())
			}
			var w watch.Interface
			if w, err = csrs.Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion}); err == nil {
				for ev := range w.ResultChan() {
					if csr, ok := ev.Object.(*certv1.CertificateSigningRequest); ok && (ev.Type == watch.Added || ev.Type == watch.Modified) {
						approveCounted(ctx, client, csr, time.Now())
					}
				}
				w.Stop()
			}
		}
		if err != nil && ctx.Err() == nil {
			klog.V(2).InfoS("Token approver: listing CSRs again", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// approveCounted decides one CSR: only pending kubelet client CSRs of a
// counted token's holder are its business.
func approveCounted(ctx context.Context, client kubernetes.Interface, csr *certv1.CertificateSigningRequest, now time.Time) {
	id, ok := strings.CutPrefix(csr.Spec.Username, "system:bootstrap:")
	if !ok || csr.Spec.SignerName != certv1.KubeAPIServerClientKubeletSignerName || !slices.Contains(csr.Spec.Groups, token.CountedGroup) || decided(csr) {
		return
	}
	node, err := nodeClientCSR(csr)
	if err == nil {
		err = countUse(ctx, client, id, node, now)
	}
	cond := certv1.CertificateSigningRequestCondition{Type: certv1.CertificateApproved, Status: corev1.ConditionTrue,
		Reason: "EdgeletCountedToken", Message: fmt.Sprintf("node %s joined with token %s", node, id), LastUpdateTime: metav1.NewTime(now)}
	if err != nil {
		if ctx.Err() != nil || !errors.Is(err, token.ErrRefused) {
			klog.ErrorS(err, "Token approver: left undecided", "csr", csr.Name)
			return
		}
		cond.Type, cond.Reason, cond.Message = certv1.CertificateDenied, "EdgeletTokenRefused", err.Error()
	}
	csr = csr.DeepCopy()
	csr.Status.Conditions = append(csr.Status.Conditions, cond)
	if _, err := client.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, csr.Name, csr, metav1.UpdateOptions{}); err != nil && !apierrors.IsConflict(err) {
		klog.ErrorS(err, "Token approver: update approval", "csr", csr.Name)
		return
	}
	klog.InfoS("Token approver", "csr", csr.Name, "decision", cond.Type, "message", cond.Message)
}

func decided(csr *certv1.CertificateSigningRequest) bool {
	for _, c := range csr.Status.Conditions {
		if c.Type == certv1.CertificateApproved || c.Type == certv1.CertificateDenied || c.Type == certv1.CertificateFailed {
			return true
		}
	}
	return false
}

// nodeClientCSR checks that a CSR asks for a node's client certificate and
// nothing more (organization system:nodes, CN system:node:NAME, no other
// names, client usages), as kube-controller-manager's approver does, and
// returns the node's name.
func nodeClientCSR(csr *certv1.CertificateSigningRequest) (string, error) {
	block, _ := pem.Decode(csr.Spec.Request)
	if block == nil {
		return "", fmt.Errorf("%w: CSR %s holds no PEM request", token.ErrRefused, csr.Name)
	}
	req, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return "", fmt.Errorf("%w: CSR %s: %v", token.ErrRefused, csr.Name, err)
	}
	node, ok := strings.CutPrefix(req.Subject.CommonName, "system:node:")
	if !ok || node == "" || !slices.Equal(req.Subject.Organization, []string{"system:nodes"}) ||
		len(req.DNSNames)+len(req.EmailAddresses)+len(req.IPAddresses)+len(req.URIs) > 0 {
		return "", fmt.Errorf("%w: CSR %s is not a node client certificate (subject %s)", token.ErrRefused, csr.Name, req.Subject)
	}
	for _, u := range csr.Spec.Usages {
		if u != certv1.UsageDigitalSignature && u != certv1.UsageKeyEncipherment && u != certv1.UsageClientAuth {
			return "", fmt.Errorf("%w: CSR %s asks for usage %q", token.ErrRefused, csr.Name, u)
		}
	}
	if !slices.Contains(csr.Spec.Usages, certv1.UsageClientAuth) {
		return "", fmt.Errorf("%w: CSR %s lacks the client auth usage", token.ErrRefused, csr.Name)
	}
	return node, nil
}

// countUse records on the token's Secret that node joined with it, or says
// why it may not.
func countUse(ctx context.Context, client kubernetes.Interface, id, node string, now time.Time) error {
	secrets := client.CoreV1().Secrets("kube-system")
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		s, err := secrets.Get(ctx, token.SecretPrefix+id, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("%w: token %s was deleted", token.ErrRefused, id)
		}
		if err != nil {
			return err
		}
		info, err := token.InfoFrom(s.Data, s.Annotations)
		if err != nil {
			return fmt.Errorf("%w: %v", token.ErrRefused, err)
		}
		used, err := info.Use(node, now)
		if err != nil || len(used.UsedBy) == len(info.UsedBy) {
			return err
		}
		if s.Annotations == nil {
			s.Annotations = map[string]string{}
		}
		s.Annotations[token.AnnotationUsedBy] = strings.Join(used.UsedBy, ",")
		if !used.Expires.Equal(info.Expires) {
			s.Data["expiration"] = []byte(used.Expires.UTC().Format(time.RFC3339))
		}
		_, err = secrets.Update(ctx, s, metav1.UpdateOptions{})
		return err
	})
}

// collectExpiredTokens deletes counted tokens that expired more than keep
// ago: until then `edgectl token list` and a refused join can say why.
func collectExpiredTokens(ctx context.Context, client kubernetes.Interface, every, keep time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		secrets := client.CoreV1().Secrets("kube-system")
		list, err := secrets.List(ctx, metav1.ListOptions{LabelSelector: token.LabelCounted + "=true"})
		if err != nil {
			continue
		}
		for _, s := range list.Items {
			info, err := token.InfoFrom(s.Data, s.Annotations)
			if err == nil && !info.Expires.IsZero() && time.Since(info.Expires) > keep {
				_ = secrets.Delete(ctx, s.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &s.ResourceVersion}})
			}
		}
	}
}
