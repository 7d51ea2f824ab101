package v1alpha1

import (
	"fmt"
	"io"
	"os"
	"strings"

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

// Parse decodes a config strictly. A config that decodes only leniently
// (an unknown field) is returned with the error, so that the caller can
// report the field together with every other problem the config has.
func Parse(data []byte) (*Cluster, error) {
	c := &Cluster{}
	err := yaml.UnmarshalStrict(data, c)
	if err == nil {
		return c, nil
	}
	err = fmt.Errorf("decode config: %s", strings.TrimPrefix(err.Error(), "error unmarshaling JSON: while decoding JSON: json: "))
	lenient := &Cluster{}
	if yaml.Unmarshal(data, lenient) != nil {
		return nil, err
	}
	return lenient, err
}
