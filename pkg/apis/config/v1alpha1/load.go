package v1alpha1

import (
	"fmt"
	"io"
	"os"

	"sigs.k8s.io/yaml"
)

// Load reads a config file ("-" is stdin) strictly: unknown fields are errors.
// It does not apply defaults.
func Load(path string, stdin io.Reader) (*Cluster, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(data)
}

// Parse decodes a config strictly.
func Parse(data []byte) (*Cluster, error) {
	c := &Cluster{}
	if err := yaml.UnmarshalStrict(data, c); err != nil {
		return nil, fmt.Errorf("decode config: %w", err)
	}
	return c, nil
}
