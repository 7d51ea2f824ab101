package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	nodev1 "github.com/edgectl/edgectl/pkg/apis/node/v1alpha1"
)

// serverManifestsDir is where edgelet reads manifests on a server.
var serverManifestsDir = filepath.Join(nodev1.DefaultDataDir, "server", "manifests")

// userManifests reads the files of the config's manifests directory, by
// their path in a server. A name that a packaged add-on uses is refused:
// edgelet rewrites those files at every start.
func userManifests(cfg *v1alpha1.Cluster) (map[string][]byte, error) {
	if cfg.Manifests == "" {
		return nil, nil
	}
	entries, err := os.ReadDir(cfg.Manifests)
	if err != nil {
		return nil, edgeerrors.Wrap(edgeerrors.KindInvalidConfig, "pass a directory of .yaml manifests or HelmCharts",
			fmt.Errorf("manifests %s: %w", cfg.Manifests, err))
	}
	out := map[string][]byte{}
	for _, e := range entries {
		ext := filepath.Ext(e.Name())
		if e.IsDir() || (ext != ".yaml" && ext != ".yml" && ext != ".json") {
			continue
		}
		if slices.Contains(v1alpha1.AddOns, strings.TrimSuffix(e.Name(), ext)) {
			return nil, edgeerrors.New(edgeerrors.KindInvalidConfig, "rename it; to replace the add-on, disable it with --disable",
				"manifests %s: %s has the name of a packaged add-on", cfg.Manifests, e.Name())
		}
		data, err := os.ReadFile(filepath.Join(cfg.Manifests, e.Name()))
		if err != nil {
			return nil, edgeerrors.Wrap(edgeerrors.KindInvalidConfig, "make the file readable", err)
		}
		out[filepath.Join(serverManifestsDir, e.Name())] = data
	}
	return out, nil
}
