package v1alpha1

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

// AddFlags registers one flag per field of c (k3s's flag names). Unlike
// pflag's own Var helpers it does not write defaults into c, so a flag set
// can be bound to a config that already holds values: the file's, or the
// ones edgectl planned. A list flag given on the command line replaces the
// list from the file; repeating it appends.
func (c *NodeConfig) AddFlags(fs *pflag.FlagSet) { c.addFlags(fs, false) }

func (c *NodeConfig) addFlags(fs *pflag.FlagSet, appendLists bool) {
	str := func(p *string, name, usage string) { fs.Var(&strValue{p}, name, usage) }
	list := func(p *[]string, name, usage string) { fs.Var(&listValue{p: p, set: appendLists}, name, usage) }
	str(&c.DataDir, "data-dir", "directory for edgelet state")
	str(&c.NodeName, "node-name", "node name (default: the host name)")
	str(&c.NodeIP, "node-ip", "IP address to advertise for the node (default: the address of the default route's interface)")
	str(&c.NodeExternalIP, "node-external-ip", "external IP address to advertise for the node")
	fs.Var(&mapValue{p: &c.Labels, set: appendLists}, "node-label", "label key=value to register the node with (repeatable)")
	list(&c.Taints, "node-taint", "taint key[=value]:Effect to register the node with (repeatable)")
	str(&c.Server, "server", "URL of a server to join, https://HOST:6443")
	str(&c.Token, "token", "join token (a server writes it to DATA_DIR/server/token)")
	str(&c.TokenFile, "token-file", "file holding the join token")
	str(&c.ClusterCIDR, "cluster-cidr", "pod network range")
	str(&c.ServiceCIDR, "service-cidr", "service network range")
	str(&c.FlannelBackend, "flannel-backend", "pod traffic between nodes: vxlan or host-gw (the same on every node)")
	str(&c.ClusterDNS, "cluster-dns", "cluster DNS service IP (default: the 10th address of --service-cidr)")
	str(&c.ClusterDomain, "cluster-domain", "cluster DNS domain")
	str(&c.PauseImage, "pause-image", "pod sandbox image (shipped in the offline image bundle)")
	str(&c.BindAddress, "bind-address", "address the API server listens on")
	fs.Var(&intValue{&c.HTTPSPort}, "https-listen-port", "API server port")
	list(&c.TLSSANs, "tls-san", "extra name or IP for the API server certificate (repeatable)")
	str(&c.Datastore.Endpoint, "datastore-endpoint", "kine datastore: postgres://, mysql:// or sqlite:// (default: SQLite in DATA_DIR/server/db)")
	fs.VarPF(&boolValue{&c.Datastore.ClusterInit}, "cluster-init", "", "start a new HA cluster with embedded etcd").NoOptDefVal = "true"
	fs.VarPF(&boolValue{&c.DisableAgent}, "disable-agent", "", "do not run kubelet and kube-proxy on this server").NoOptDefVal = "true"
	fs.Var(&listValue{p: &c.Disable, set: appendLists, comma: true}, "disable", "packaged manifests not to deploy, e.g. coredns")
	str(&c.ServiceLBRange, "service-lb-range", "addresses for LoadBalancer Services, FIRST-LAST or a CIDR on the nodes' network")
	fs.Var(&mapValue{p: &c.Mirrors, set: appendLists}, "registry-mirror", "HOST=URL: pull images of registry HOST through the mirror at URL (repeatable)")
	str(&c.WriteKubeconfig, "write-kubeconfig", "where to write the admin kubeconfig")
	str(&c.WriteKubeconfigMode, "write-kubeconfig-mode", "file mode of the admin kubeconfig")
	list(&c.Args.APIServer, "kube-apiserver-arg", "extra kube-apiserver flag, name=value (repeatable)")
	list(&c.Args.ControllerManager, "kube-controller-manager-arg", "extra kube-controller-manager flag (repeatable)")
	list(&c.Args.Scheduler, "kube-scheduler-arg", "extra kube-scheduler flag (repeatable)")
	list(&c.Args.Kubelet, "kubelet-arg", "extra kubelet flag, name=value (repeatable)")
	list(&c.Args.KubeProxy, "kube-proxy-arg", "extra kube-proxy flag, name=value (repeatable)")
}

// ServerOnlyFlags are the flags an agent does not take.
var ServerOnlyFlags = []string{"bind-address", "https-listen-port", "tls-san", "datastore-endpoint", "cluster-init",
	"disable-agent", "disable", "service-lb-range", "write-kubeconfig", "write-kubeconfig-mode",
	"kube-apiserver-arg", "kube-controller-manager-arg", "kube-scheduler-arg"}

// ApplyArgs applies edgelet flags written as name=value (a leading "--" is
// allowed; a bare name means true), as edgectl's serverArgs and agentArgs
// carry them. Lists and labels are added to, not replaced. Every bad arg
// is reported.
func (c *NodeConfig) ApplyArgs(args []string) error {
	fs := pflag.NewFlagSet("args", pflag.ContinueOnError)
	c.addFlags(fs, true)
	var errs []string
	for _, a := range args {
		name, value, ok := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !ok {
			value = "true"
		}
		if fs.Lookup(name) == nil {
			errs = append(errs, fmt.Sprintf("%q: edgelet has no flag --%s", a, name))
			continue
		}
		if err := fs.Set(name, value); err != nil {
			errs = append(errs, fmt.Sprintf("%q: %v", a, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// Override copies the flags set on fs (bound to some other NodeConfig with
// AddFlags) into c: the command line wins over the file.
func (c *NodeConfig) Override(fs *pflag.FlagSet) error {
	into := pflag.NewFlagSet("override", pflag.ContinueOnError)
	c.AddFlags(into)
	var err error
	fs.Visit(func(f *pflag.Flag) {
		v, ok := f.Value.(valuesOf)
		if !ok || into.Lookup(f.Name) == nil || err != nil {
			return
		}
		for _, item := range v.values() {
			if err = into.Set(f.Name, item); err != nil {
				err = fmt.Errorf("--%s: %w", f.Name, err)
				return
			}
		}
	})
	return err
}

// valuesOf gives back what was set, one Set argument per item.
type valuesOf interface{ values() []string }

type strValue struct{ p *string }

func (v *strValue) Set(s string) error { *v.p = s; return nil }
func (v *strValue) String() string     { return *v.p }
func (v *strValue) Type() string       { return "string" }
func (v *strValue) values() []string   { return []string{*v.p} }

type intValue struct{ p *int }

func (v *intValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("%q is not a number", s)
	}
	*v.p = n
	return nil
}
func (v *intValue) String() string {
	if *v.p == 0 {
		return ""
	}
	return strconv.Itoa(*v.p)
}
func (v *intValue) Type() string     { return "int" }
func (v *intValue) values() []string { return []string{strconv.Itoa(*v.p)} }

type boolValue struct{ p *bool }

func (v *boolValue) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("%q is not true or false", s)
	}
	*v.p = b
	return nil
}
func (v *boolValue) String() string   { return strconv.FormatBool(*v.p) }
func (v *boolValue) Type() string     { return "bool" }
func (v *boolValue) IsBoolFlag() bool { return true }
func (v *boolValue) values() []string { return []string{strconv.FormatBool(*v.p)} }

// listValue replaces the list on its first Set and appends after that (set
// starts true to always append). comma splits an argument on commas.
type listValue struct {
	p     *[]string
	set   bool
	comma bool
}

func (v *listValue) Set(s string) error {
	items := []string{s}
	if v.comma {
		items = strings.Split(s, ",")
	}
	if !v.set {
		*v.p = nil
		v.set = true
	}
	*v.p = append(*v.p, items...)
	return nil
}
func (v *listValue) String() string   { return strings.Join(*v.p, ",") }
func (v *listValue) Type() string     { return "strings" }
func (v *listValue) values() []string { return append([]string(nil), *v.p...) }

// mapValue holds key=value labels, like listValue.
type mapValue struct {
	p   *map[string]string
	set bool
}

func (v *mapValue) Set(s string) error {
	k, val, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q: must be key=value", s)
	}
	if !v.set {
		*v.p, v.set = nil, true
	}
	if *v.p == nil {
		*v.p = map[string]string{}
	}
	(*v.p)[k] = val
	return nil
}
func (v *mapValue) String() string { return strings.Join(v.values(), ",") }
func (v *mapValue) Type() string   { return "key=value" }
func (v *mapValue) values() []string {
	out := make([]string, 0, len(*v.p))
	for k, val := range *v.p {
		out = append(out, k+"="+val)
	}
	sort.Strings(out)
	return out
}
