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
