package cluster

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	"github.com/edgectl/edgectl/pkg/build/nodeimage"
)

// A node image that is missing from the engine and names its registry is
// pulled before anything is created; a reference the registry lacks is a
// clear error that names the build, with nothing created.
func TestCreatePullsAMissingNodeImage(t *testing.T) {
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer reg.Close()
	image := strings.TrimPrefix(reg.URL, "http://") + "/edgectl/node:v9.9.9"
	img, err := random.Image(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf.OS, cf.Architecture = "linux", strings.TrimPrefix(v1alpha1.HostPlatform(), "linux/")
	cf.Config.Labels = map[string]string{nodeimage.LabelInputs: "x", nodeimage.LabelArch: cf.Architecture}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	ref, _ := name.NewTag(image)
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}

	p, rt, kubeconfig := newTest(t)
	missing := &v1alpha1.Cluster{Name: "nopull", Image: strings.Replace(image, "v9.9.9", "v0.0.0", 1)}
	v1alpha1.SetDefaults(missing)
	err = p.Create(context.Background(), CreateOptions{Config: missing, Kubeconfig: kubeconfig})
	if edgeerrors.ExitCode(err) != int(edgeerrors.KindImageMissing) || !strings.Contains(err.Error(), "the pull failed") ||
		!strings.Contains(edgeerrors.Hint(err), "edgectl image build") {
		t.Errorf("a reference the registry lacks: %v (hint %q)", err, edgeerrors.Hint(err))
	}
	if objs := rt.Objects(); len(objs) != 0 {
		t.Errorf("a failed pull left %v", objs)
	}

	cfg := &v1alpha1.Cluster{Name: "pulled", Image: image}
	v1alpha1.SetDefaults(cfg)
	create(t, p, kubeconfig, cfg)
	if _, ok, _ := rt.ImageLabel(context.Background(), image, nodeimage.LabelInputs); !ok {
		t.Errorf("%s is not in the engine after create", image)
	}
	if c := rt.Container(nodeName("pulled", RoleServer, 0)); c == nil || c.Spec.Image != image {
		t.Errorf("the server does not run the pulled image: %+v", c)
	}
}
