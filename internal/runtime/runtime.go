// Package runtime defines what edgectl needs from a container engine, in
// engine-neutral types. Implementations (docker, and podman through its
// Docker-compatible API) live in sub-packages; the node spec they receive is
// built once, by pure functions in pkg/cluster.
package runtime

import (
	"context"
	"errors"
	"io"
	"strconv"
)

// Labels that hold all cluster state.
const (
	LabelCluster = "io.edgectl.cluster"
	LabelRole    = "io.edgectl.role"
	LabelIndex   = "io.edgectl.index"
	LabelAPIPort = "io.edgectl.api-port"
	LabelIP      = "io.edgectl.ip"
	LabelSubnet  = "io.edgectl.subnet"
	LabelImage   = "io.edgectl.image"
)

// ErrNotFound is returned for a missing container, network, image or file.
var ErrNotFound = errors.New("not found")

// ErrPrivilegeRefused is returned by CreateNode when the engine cannot give a
// container --privileged (a host whose capability bounding set lacks
// CAP_SYS_RESOURCE fails with "unable to apply caps"). The container is
// left for the caller to remove.
var ErrPrivilegeRefused = errors.New("the engine refused --privileged")

// SubnetTakenError is a network create that lost its subnet to another
// network (Docker: "Pool overlaps with other one on this address space"):
// a parallel create picked the same free subnet.
type SubnetTakenError struct {
	Subnet string
	By     string // the other network, when known
}

func (e *SubnetTakenError) Error() string {
	if e.By != "" {
		return "subnet " + e.Subnet + " overlaps network " + e.By
	}
	return "subnet " + e.Subnet + " overlaps another network"
}

// PortTakenError is a container start that could not publish a host port
// because something bound it since it was found free.
type PortTakenError struct{ Port int }

func (e *PortTakenError) Error() string { return "host port " + strconv.Itoa(e.Port) + " is taken" }

// PortMapping publishes a container port on the host.
type PortMapping struct {
	HostIP        string
	HostPort      int
	ContainerPort int
	Protocol      string // tcp or udp
}

// Mount is a named volume or a bind mount.
type Mount struct {
	Volume   string // named volume (created with the node's labels)
	Source   string // host path for a bind mount
	Target   string
	ReadOnly bool
}

// NodeSpec is a container to create.
type NodeSpec struct {
	Name     string
	Hostname string
	Image    string
	Network  string
	IP       string
	Labels   map[string]string
	// Node is true for Kubernetes nodes, which need elevated access: either
	// --privileged (Privileged) or the explicit set of UnprivilegedCaps.
	// Helper containers (the load balancer) leave it false.
	Node       bool
	Privileged bool
	Entrypoint []string
	// StopSignal overrides the image's stop signal ("" keeps it).
	StopSignal string
	Cmd        []string
	Env        []string
	Mounts     []Mount
	Tmpfs      []string
	Ports      []PortMapping
	// Files are written into the container after it is created and before it
	// starts (path -> content).
	Files map[string][]byte
}

// Container is a container as listed by the engine.
type Container struct {
	Name    string
	ID      string
	Image   string
	State   string // running, exited, created, ...
	Labels  map[string]string
	IP      string // on the cluster network
	Network string
	// Networks are all the networks the container is attached to.
	Networks []string
}

// ExecResult is the output of a command run in a container.
type ExecResult struct {
	Stdout, Stderr string
	ExitCode       int
}

// Info describes the engine.
type Info struct {
	Name          string // docker, podman
	Version       string
	CgroupVersion string
	CgroupDriver  string
	Rootless      bool
}

// Provider is a container engine.
type Provider interface {
	Info(ctx context.Context) (Info, error)
	// EnsureNetwork creates a bridge network with the subnet unless it exists.
	EnsureNetwork(ctx context.Context, name, subnet, gateway string, labels map[string]string) error
	DeleteNetwork(ctx context.Context, name string) error
	// NetworkSubnets returns the IPv4 subnets of every network of the engine.
	NetworkSubnets(ctx context.Context) ([]string, error)
	ListNetworks(ctx context.Context, labels map[string]string) ([]string, error)
	// Connect attaches a container to one more network, at ip when it is
	// not "" (a no-op when it is attached already); Disconnect detaches it.
	Connect(ctx context.Context, container, network, ip string) error
	Disconnect(ctx context.Context, container, network string) error
	// CreateNode creates the container (and its volumes), writes Files, and
	// starts it. A failed start leaves the container for the caller to remove.
	CreateNode(ctx context.Context, spec NodeSpec) error
	List(ctx context.Context, labels map[string]string) ([]Container, error)
	Start(ctx context.Context, name string) error
	Stop(ctx context.Context, name string) error
	// Signal sends a signal ("KILL", "USR2", ...) to the container's PID 1;
	// "KILL" stops it at once, as a crash would.
	Signal(ctx context.Context, name, signal string) error
	// Remove deletes the container and its anonymous volumes.
	Remove(ctx context.Context, name string) error
	ListVolumes(ctx context.Context, labels map[string]string) ([]string, error)
	RemoveVolume(ctx context.Context, name string) error
	Exec(ctx context.Context, name string, cmd []string, stdin io.Reader) (ExecResult, error)
	// ExecDirect runs a command in a container whose image has no shell.
	ExecDirect(ctx context.Context, name string, cmd []string) (ExecResult, error)
	// WriteFiles writes files (path -> content, mode 0600) into a container,
	// running or stopped.
	WriteFiles(ctx context.Context, name string, files map[string][]byte) error
	// ReadFile reads a file of a container, running or stopped; a missing
	// file is ErrNotFound.
	ReadFile(ctx context.Context, name, path string) ([]byte, error)
	Logs(ctx context.Context, name string, w io.Writer) error
	ImageLabel(ctx context.Context, ref, label string) (string, bool, error)
	LoadImage(ctx context.Context, archive io.Reader) error
	// SaveImage streams local images as one `docker save` archive.
	SaveImage(ctx context.Context, refs []string) (io.ReadCloser, error)
	ImageID(ctx context.Context, ref string) (string, error)
	// ImagePlatform is the OS/architecture an image is built for ("" when
	// the engine does not have it).
	ImagePlatform(ctx context.Context, ref string) (string, error)
	// ReadImageFiles reads files of an image (symlinks followed) without
	// running it.
	ReadImageFiles(ctx context.Context, ref string, paths []string) (map[string][]byte, error)
	RemoveImage(ctx context.Context, id string) error
}

// UnprivilegedCaps is what a node gets where --privileged is refused (a host
// whose capability bounding set lacks CAP_SYS_RESOURCE, such as some CI VMs):
// every capability but that one, no seccomp/AppArmor confinement, access to
// all devices, and no masked or read-only /proc and /sys paths (the engine API
// form of the CLI's --security-opt systempaths=unconfined).
func UnprivilegedCaps() (capAdd, capDrop, securityOpt, deviceCgroupRules []string) {
	return []string{"ALL"}, []string{"SYS_RESOURCE"},
		[]string{"seccomp=unconfined", "apparmor=unconfined"},
		[]string{"a *:* rwm"}
}
