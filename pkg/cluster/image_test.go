package cluster

import (
	"context"
	"testing"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	"github.com/edgectl/edgectl/internal/log"
)

// Bad arguments are refused before the engine is asked anything (the
// provider here has no runtime at all).
func TestImportRejectsBadArguments(t *testing.T) {
	p := NewProviderWithRuntime(nil, log.Discard())
	for name, opts := range map[string]ImportOptions{
		"nothing":     {Cluster: "c"},
		"both":        {Cluster: "c", Images: []string{"app:1"}, Archive: "x.tar"},
		"image ID":    {Cluster: "c", Images: []string{"sha256:be58435fa21072d2ef3eee02fdd335ff7f1880375615d6a18ac1abd826ddcdc7"}},
		"bad name":    {Cluster: "c", Images: []string{"App:1"}},
		"hex ID only": {Cluster: "c", Images: []string{"be58435fa21072d2ef3eee02fdd335ff7f1880375615d6a18ac1abd826ddcdc7"}},
	} {
		err := p.ImportImages(context.Background(), opts)
		if edgeerrors.ExitCode(err) != int(edgeerrors.KindInvalidConfig) {
			t.Errorf("%s: got %v (exit %d), want an invalid-input error", name, err, edgeerrors.ExitCode(err))
		}
	}
}
