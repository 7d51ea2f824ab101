package version

import "testing"

func TestNodeImage(t *testing.T) {
	for v, want := range map[string]string{"dev": DevImage, "": DevImage, "v0.5.0": "ghcr.io/edgectl/node:v0.5.0"} {
		if got := ReleaseImage(v); got != want {
			t.Errorf("ReleaseImage(%q) = %q, want %q", v, got, want)
		}
	}
	t.Setenv(ImageEnv, "localhost:5001/edgectl/node:v1")
	if got := NodeImage(); got != "localhost:5001/edgectl/node:v1" {
		t.Errorf("with %s set: %q", ImageEnv, got)
	}
}

func TestRegistryImage(t *testing.T) {
	if got := RegistryImage(); got != DevRegistryImage {
		t.Errorf("dev: %q", got)
	}
	old := Version
	defer func() { Version = old }()
	Version = "v0.5.0"
	if got := RegistryImage(); got != "ghcr.io/edgectl/registry:v0.5.0" {
		t.Errorf("release: %q", got)
	}
	for ref, want := range map[string]string{
		"localhost:5001/edgectl/node:v1": "localhost:5001/edgectl/registry:v1",
		"ghcr.io/edgectl/node":           "ghcr.io/edgectl/registry:latest",
	} {
		if got := RegistryImageBeside(ref); got != want {
			t.Errorf("RegistryImageBeside(%q) = %q, want %q", ref, got, want)
		}
	}
}
