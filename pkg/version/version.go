// Package version is edgectl's release version and the node image that
// goes with it.
package version

import (
	"os"
	"path"
	"strings"
)

// Version is edgectl's release version, set at link time (make dist:
// -X github.com/edgectl/edgectl/pkg/version.Version=v0.5.0). A build from
// the source tree is "dev".
var Version = "dev" //nolint:gochecknoglobals // link-time constant

// ImageRepository is where a release publishes its node image, one
// multi-platform index per version. Set at link time too, for a release
// published elsewhere (make dist IMAGE_REPOSITORY=...).
var ImageRepository = "ghcr.io/edgectl/node" //nolint:gochecknoglobals // link-time constant

// DevImage is the node image of a build from the source tree, which
// `edgectl image build` (make image) makes locally.
const DevImage = "edgectl/node:dev"

// ImageEnv overrides the default node image (a mirror of the public one,
// or a build of one's own).
const ImageEnv = "EDGECTL_NODE_IMAGE"

// NodeImage is the node image this edgectl uses unless told otherwise:
// $EDGECTL_NODE_IMAGE, else the release's (ImageRepository:VERSION), else
// DevImage.
func NodeImage() string {
	if v := os.Getenv(ImageEnv); v != "" {
		return v
	}
	return ReleaseImage(Version)
}

// ReleaseImage is the node image of edgectl version v.
func ReleaseImage(v string) string {
	if v == "" || v == "dev" {
		return DevImage
	}
	return ImageRepository + ":" + v
}

// DevRegistryImage is the image of `edgectl registry create` of a build
// from the source tree, which `edgectl image build` makes with the node
// image.
const DevRegistryImage = "edgectl/registry:dev"

// RegistryImageEnv overrides the default registry image.
const RegistryImageEnv = "EDGECTL_REGISTRY_IMAGE"

// RegistryImage is the registry image this edgectl uses:
// $EDGECTL_REGISTRY_IMAGE, else the release's (the registry repository
// beside ImageRepository, REPO/../registry:VERSION), else DevRegistryImage.
func RegistryImage() string {
	if v := os.Getenv(RegistryImageEnv); v != "" {
		return v
	}
	if img := ReleaseImage(Version); img != DevImage {
		return RegistryImageBeside(img)
	}
	return DevRegistryImage
}

// RegistryImageBeside is the registry image published beside the node
// image ref (REPO/node:TAG -> REPO/registry:TAG).
func RegistryImageBeside(ref string) string {
	repo, tag := ref, "latest"
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		repo, tag = ref[:i], ref[i+1:]
	}
	return path.Dir(repo) + "/registry:" + tag
}
