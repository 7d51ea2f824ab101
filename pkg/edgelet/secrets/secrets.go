// Package secrets keeps Secrets encrypted at rest: the API server's
// EncryptionConfiguration with secretbox keys, generated once per cluster
// and kept with the server's PKI (mode 0600; HA servers share it through the
// encrypted server bundle), and the key rotation of `edgelet secrets-encrypt`.
// The identity provider stays last, so Secrets written before encryption
// was on are still read, and rewritten encrypted by a rotation.
package secrets

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	apiserverv1 "k8s.io/apiserver/pkg/apis/apiserver/v1"
	"sigs.k8s.io/yaml"
)

// ConfigFile is the EncryptionConfiguration's name in the TLS directory.
const ConfigFile = "encryption-config.yaml"

// Key is one secretbox key.
type Key = apiserverv1.Key

// NewKey is a random 32-byte secretbox key named after the time it was made.
func NewKey(now time.Time) (Key, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return Key{}, err
	}
	return Key{Name: "key-" + strconv.FormatInt(now.Unix(), 10), Secret: base64.StdEncoding.EncodeToString(b)}, nil
}

// Render is the EncryptionConfiguration for keys: the first one writes,
// all of them (and identity, last) read.
func Render(keys []Key) ([]byte, error) {
	if len(keys) == 0 {
		return nil, errors.New("no encryption key")
	}
	cfg := apiserverv1.EncryptionConfiguration{
		Resources: []apiserverv1.ResourceConfiguration{{
			Resources: []string{"secrets"},
			Providers: []apiserverv1.ProviderConfiguration{
				{Secretbox: &apiserverv1.SecretboxConfiguration{Keys: keys}},
				{Identity: &apiserverv1.IdentityConfiguration{}},
			},
		}},
	}
	cfg.APIVersion, cfg.Kind = "apiserver.config.k8s.io/v1", "EncryptionConfiguration"
	return yaml.Marshal(cfg)
}

// Keys reads the secretbox keys of the config at path, the writing key first.
func Keys(path string) ([]Key, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var cfg apiserverv1.EncryptionConfiguration
	if err := yaml.UnmarshalStrict(data, &cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, r := range cfg.Resources {
		for _, p := range r.Providers {
			if p.Secretbox != nil && len(p.Secretbox.Keys) > 0 {
				return p.Secretbox.Keys, nil
			}
		}
	}
	return nil, fmt.Errorf("%s: no secretbox keys", path)
}

// Write replaces the config at path with one for keys, mode 0600, through
// a rename so that the API server never reads half a file.
func Write(path string, keys []Key) error {
	data, err := Render(keys)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Ensure creates the config at path with one new key unless it exists, and
// makes sure only root can read it.
func Ensure(path string) error {
	if _, err := os.Stat(path); err == nil {
		return os.Chmod(path, 0o600)
	}
	key, err := NewKey(time.Now())
	if err != nil {
		return err
	}
	return Write(path, []Key{key})
}
