package v1alpha1

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"sigs.k8s.io/yaml"
)

// Load reads a node config file strictly: an unknown field is an error that
// names the field and the file. A missing file is an empty config.
func Load(path string) (*NodeConfig, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &NodeConfig{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read node config: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("node config %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes a node config strictly.
func Parse(data []byte) (*NodeConfig, error) {
	c := &NodeConfig{}
	if err := yaml.UnmarshalStrict(data, c); err != nil {
		return nil, errors.New(strings.TrimPrefix(err.Error(), "error unmarshaling JSON: while decoding JSON: json: "))
	}
	if c.APIVersion != "" && c.APIVersion != APIVersion || c.Kind != "" && c.Kind != Kind {
		return nil, fmt.Errorf("apiVersion %q, kind %q: want %s, %s", c.APIVersion, c.Kind, APIVersion, Kind)
	}
	return c, nil
}

// Marshal writes c as YAML.
func (c *NodeConfig) Marshal() ([]byte, error) { return yaml.Marshal(c) }
