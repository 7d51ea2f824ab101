// Package v1alpha1 is the edgectl cluster config file, apiVersion
// edgectl.io/v1alpha1, kind Cluster. Defaults live in defaults.go, checks in
// validate.go; decoding is strict (an unknown field is an error).
package v1alpha1

import (
	"encoding/json"

	"github.com/edgectl/edgectl/pkg/apis/meta"
)

// APIVersion and Kind of the config file.
const (
	APIVersion = meta.GroupVersion
	Kind       = "Cluster"
)

// Cluster describes a cluster to create.
type Cluster struct {
	meta.TypeMeta
	// Name of the cluster; lower-case letters, digits and '-'. Defaults to "edgectl".
	Name string `json:"name,omitempty"`
	// Servers is the number of control-plane nodes. Defaults to 1; 3 or more is HA.
	Servers int `json:"servers,omitempty"`
	// Agents is the number of worker nodes. Defaults to 0.
	Agents int `json:"agents,omitempty"`
	// Image is the node image. Defaults to edgectl/node:dev (see `edgectl image build`).
	Image string `json:"image,omitempty"`
	// Network of the cluster's containers.
	Network Network `json:"network,omitempty"`
	// Kubernetes networking inside the cluster.
	Kubernetes Kubernetes `json:"kubernetes,omitempty"`
	// Ports published on the host, through the load balancer or a node.
	Ports []Port `json:"ports,omitempty"`
	// Nodes sets labels, taints and edgelet args of single nodes.
	Nodes []Node `json:"nodes,omitempty"`
	// ServerArgs and AgentArgs are extra edgelet flags (name=value) for every
	// server or agent, e.g. "kube-apiserver-arg=v=2".
	ServerArgs []string `json:"serverArgs,omitempty"`
	AgentArgs  []string `json:"agentArgs,omitempty"`
	// AgentPlatform is the platform of every agent, linux/amd64 or
	// linux/arm64; empty is the host's. Another platform than the host's
	// runs under qemu user emulation (binfmt_misc), from the node image of
	// that platform (Image with "-ARCH" appended to its tag).
	AgentPlatform string `json:"agentPlatform,omitempty"`
	// Manifests is a host directory whose .yaml, .yml and .json files go into
	// every server's manifests directory at create; edgelet applies them and
	// keeps them applied, as it does its packaged add-ons (k3s's
	// server/manifests). Absolute, or relative to where edgectl runs.
	Manifests string `json:"manifests,omitempty"`
	// Disable names packaged add-ons not to deploy (AddOns lists them).
	Disable []string `json:"disable,omitempty"`
	// Hosts maps nodes to real machines, for `edgectl promote`: the same
	// file rehearsed in containers by `cluster create` (which ignores hosts)
	// is installed on them.
	Hosts []Host `json:"hosts,omitempty"`
	// Registries are edgectl registries (`edgectl registry create`) that
	// every node pulls through: each joins the cluster's network.
	Registries []string `json:"registries,omitempty"`

	// Mirrors (registry host -> mirror URL) and LocalRegistry are resolved
	// from Registries by edgectl at create and node add; never stored.
	Mirrors       map[string]string `json:"-"`
	MirrorServers map[string]string `json:"-"`
	LocalRegistry *LocalRegistry    `json:"-"`
}

// MaxRegistries is how many registries a cluster can use (they take the
// addresses .3 to .9 of its subnet).
const MaxRegistries = 7

// LocalRegistry is KEP-1755's local registry hosting: where to push images
// that the cluster can run.
type LocalRegistry struct {
	Host                     string `json:"host"`
	HostFromContainerRuntime string `json:"hostFromContainerRuntime"`
	HostFromClusterNetwork   string `json:"hostFromClusterNetwork"`
	Help                     string `json:"help"`
}

// AddOns are the packaged add-ons every cluster gets unless disabled.
var AddOns = []string{"coredns", "local-path", "servicelb", "metrics-server", "helm-controller"}

// Network settings.
type Network struct {
	// Subnet of the cluster's bridge network (IPv4 CIDR, /16 to /24). Node IPs
	// are assigned statically from it, so they survive restarts. Defaults to a
	// free /24 under 10.89.0.0/16.
	Subnet string `json:"subnet,omitempty"`
	// APIHostIP is the host address the API is published on. Defaults to
	// 127.0.0.1, or 0.0.0.0 (every address) when APIAddress is set.
	APIHostIP string `json:"apiHostIP,omitempty"`
	// APIAddress is the IP or DNS name that hosts outside the engine (boards
	// that `node join`) reach the API on, at APIPort: this host's LAN
	// address, or a name or router address that forwards to it. It is in
	// the servers' certificate from the start.
	APIAddress string `json:"apiAddress,omitempty"`
	// APIPort is the host port of the API. 0 picks a free port.
	APIPort int `json:"apiPort,omitempty"`
	// LoadBalancerRange is the pool that LoadBalancer Services get their
	// EXTERNAL-IP from: "FIRST-LAST" or a CIDR inside the subnet, above the
	// node addresses (.0 to .219 of the subnet). Defaults to the subnet's
	// last 31 addresses (x.x.x.224-x.x.x.254 of a /24).
	LoadBalancerRange string `json:"loadBalancerRange,omitempty"`
}

// Kubernetes networking.
type Kubernetes struct {
	// ClusterCIDR is the pod network. Defaults to 10.42.0.0/16.
	ClusterCIDR string `json:"clusterCIDR,omitempty"`
	// ServiceCIDR is the service network. Defaults to 10.43.0.0/16.
	ServiceCIDR string `json:"serviceCIDR,omitempty"`
}

// Port publishes HostPort on the host and forwards it to ContainerPort of the
// load balancer ("loadbalancer", the default) or of one node ("server:N",
// "agent:N").
type Port struct {
	HostIP        string `json:"hostIP,omitempty"`
	HostPort      int    `json:"hostPort"`
	ContainerPort int    `json:"containerPort"`
	Protocol      string `json:"protocol,omitempty"`
	Node          string `json:"node,omitempty"`
}

// Node customises one node, chosen by role and index.
type Node struct {
	// Role is "server" or "agent".
	Role string `json:"role"`
	// Index of the node within its role, from 0.
	Index int `json:"index"`
	// Labels to register the node with.
	Labels map[string]string `json:"labels,omitempty"`
	// Taints, key=value:Effect.
	Taints []string `json:"taints,omitempty"`
	// Args are extra edgelet flags, name=value.
	Args []string `json:"args,omitempty"`
	// Platform of this node (see AgentPlatform); it wins over AgentPlatform.
	Platform string `json:"platform,omitempty"`
}

// Host is the machine one node, chosen by role and index, is promoted to.
type Host struct {
	// Role is "server" or "agent".
	Role string `json:"role"`
	// Index of the node within its role, from 0.
	Index int `json:"index"`
	// SSH is USER@ADDRESS[:PORT] (root and 22 by default); another user
	// than root needs passwordless sudo.
	SSH string `json:"ssh"`
	// KeyFile is the SSH private key; empty: the SSH agent and ~/.ssh/id_*.
	KeyFile string `json:"keyFile,omitempty"`
	// Bastion is USER@ADDRESS[:PORT] of a host the connection goes through.
	Bastion string `json:"bastion,omitempty"`
	// Labels are added to this node's (nodes[].labels) on the host only.
	Labels map[string]string `json:"labels,omitempty"`
	// Hooks are shell commands promote runs on the host, as root.
	Hooks *Hooks `json:"hooks,omitempty"`
}

// Hooks are commands run on a host before and after promote does
// something there; a command that fails stops promote (a before hook:
// before the host is changed).
type Hooks struct {
	// Apply: around the install of the host, or the rewrite of its files.
	Apply HookPoints `json:"apply,omitempty"`
	// Upgrade: around its upgrade (after the drain, before the uncordon).
	Upgrade HookPoints `json:"upgrade,omitempty"`
	// Reset: around its reset (or its prune).
	Reset HookPoints `json:"reset,omitempty"`
}

// HookPoints are the commands before and after one action.
type HookPoints struct {
	Before []string `json:"before,omitempty"`
	After  []string `json:"after,omitempty"`
}

// Commands are the hooks of action (apply, upgrade, reset) to run when
// (before, after); none for a nil h.
func (h *Hooks) Commands(action, when string) []string {
	if h == nil {
		return nil
	}
	p := map[string]HookPoints{"apply": h.Apply, "upgrade": h.Upgrade, "reset": h.Reset}[action]
	if when == "after" {
		return p.After
	}
	return p.Before
}

// DeepCopy returns a copy of c that shares nothing with it.
func (c *Cluster) DeepCopy() *Cluster {
	data, err := json.Marshal(c)
	if err != nil {
		panic(err) // a Cluster is plain data; Marshal cannot fail
	}
	out := &Cluster{}
	if err := json.Unmarshal(data, out); err != nil {
		panic(err)
	}
	return out
}
