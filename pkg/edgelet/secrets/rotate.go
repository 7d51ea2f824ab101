package secrets

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// Rotate replaces the encryption key of a single server: the new key
// becomes the writing key (the old ones still read), the server restarts,
// every Secret is rewritten so that it is stored under the new key, and
// the old keys are dropped with a second restart. restart restarts the
// server and returns when its API answers again. A failure leaves a config
// that still reads every Secret; running Rotate again finishes the job.
func Rotate(ctx context.Context, path string, client kubernetes.Interface, restart func(context.Context) error, log io.Writer) (Key, error) {
	keys, err := Keys(path)
	if err != nil {
		return Key{}, err
	}
	next, err := NewKey(time.Now())
	if err != nil {
		return Key{}, err
	}
	if next.Name == keys[0].Name {
		next.Name += "b" // two rotations within a second
	}
	fmt.Fprintf(log, "New key %s writes; %d old key(s) still read. Restarting the server.\n", next.Name, len(keys))
	if err := Write(path, append([]Key{next}, keys...)); err != nil {
		return Key{}, err
	}
	if err := restart(ctx); err != nil {
		return Key{}, err
	}
	n, err := Rewrite(ctx, client)
	if err != nil {
		return Key{}, err
	}
	fmt.Fprintf(log, "Rewrote %d Secret(s) under %s. Dropping the old key(s) and restarting.\n", n, next.Name)
	if err := Write(path, []Key{next}); err != nil {
		return Key{}, err
	}
	return next, restart(ctx)
}

// Rewrite updates every Secret unchanged. The API server stores an object
// again when it was read with a key that no longer writes, so each ends up
// under the writing key. It returns how many it rewrote.
func Rewrite(ctx context.Context, client kubernetes.Interface) (int, error) {
	list, err := client.CoreV1().Secrets(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, fmt.Errorf("list Secrets: %w", err)
	}
	n := 0
	for _, s := range list.Items {
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			cur, err := client.CoreV1().Secrets(s.Namespace).Get(ctx, s.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			_, err = client.CoreV1().Secrets(s.Namespace).Update(ctx, cur, metav1.UpdateOptions{FieldManager: "edgelet-secrets-encrypt"})
			return err
		})
		if apierrors.IsNotFound(err) {
			continue // deleted meanwhile
		}
		if err != nil {
			return n, fmt.Errorf("rewrite Secret %s/%s: %w", s.Namespace, s.Name, err)
		}
		n++
	}
	return n, nil
}

// The steps of a rotation across several servers, each run on every server
// (and each server restarted) before the next starts, so that no server ever
// writes with a key another cannot read: Prepare adds the new key as a
// reading key, Promote makes it the writing key, Rewrite (once) stores every
// Secret again, and Drop removes the old keys. Each step reports whether it
// changed the config, so a re-run after a failure restarts nothing twice.

// Prepare adds key at the end of the keys at path: it reads but does not
// write.
func Prepare(path string, key Key) (bool, error) {
	keys, err := Keys(path)
	if err != nil {
		return false, err
	}
	for _, k := range keys {
		if k.Name == key.Name {
			if k.Secret != key.Secret {
				return false, fmt.Errorf("%s already holds a different key named %s", path, key.Name)
			}
			return false, nil
		}
	}
	return true, Write(path, append(keys, key))
}

// Promote makes the key named name the writing key.
func Promote(path, name string) (bool, error) {
	keys, err := Keys(path)
	if err != nil {
		return false, err
	}
	for i, k := range keys {
		if k.Name != name {
			continue
		}
		if i == 0 {
			return false, nil
		}
		order := append([]Key{k}, keys[:i]...)
		return true, Write(path, append(order, keys[i+1:]...))
	}
	return false, fmt.Errorf("%s has no key named %s: run prepare first", path, name)
}

// Drop keeps only the writing key, after Rewrite has stored every Secret
// under it.
func Drop(path string) (bool, error) {
	keys, err := Keys(path)
	if err != nil {
		return false, err
	}
	if len(keys) == 1 {
		return false, nil
	}
	return true, Write(path, keys[:1])
}

// ParseKey reads a key as "NAME SECRET" (the secret in base64 of 32 bytes).
func ParseKey(s string) (Key, error) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return Key{}, errors.New(`a key is "NAME SECRET"`)
	}
	b, err := base64.StdEncoding.DecodeString(f[1])
	if err != nil || len(b) != 32 {
		return Key{}, fmt.Errorf("key %s: the secret must be 32 bytes in base64", f[0])
	}
	return Key{Name: f[0], Secret: f[1]}, nil
}
