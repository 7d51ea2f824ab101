package v1alpha1

// Example is the fully commented default config that `edgectl config init`
// prints. A unit test keeps it valid and equal to the defaults.
const Example = `# edgectl cluster config. Create with: edgectl cluster create --config FILE
# Flags given on the command line override these values.
apiVersion: edgectl.io/v1alpha1
kind: Cluster

# Name of the cluster: lower-case letters, digits and '-', at most 32.
# Containers are named edgectl-NAME-server-0, edgectl-NAME-agent-0, edgectl-NAME-lb;
# the kubeconfig context is edgectl-NAME.
name: edgectl

# Control-plane nodes (1, or 3+ for HA) and worker nodes.
servers: 1
agents: 0

# Node image, built with ` + "`edgectl image build`" + `.
image: edgectl/node:dev

network:
  # Subnet of the cluster's bridge network. Node IPs are static: .2 load balancer,
  # .10+ servers, .20+ agents. Empty: a free /24 of 10.89.0.0/16.
  subnet: ""
  # Where the Kubernetes API is published on the host. Port 0 picks a free port.
  apiHostIP: 127.0.0.1
  apiPort: 0

kubernetes:
  clusterCIDR: 10.42.0.0/16   # pod network
  serviceCIDR: 10.43.0.0/16   # service network

# Host ports. node: loadbalancer (TCP, reaches the port on every node),
# server:N or agent:N (that node only, tcp or udp).
ports: []
# - {hostPort: 8080, containerPort: 30080}
# - {hostPort: 5353, containerPort: 30053, protocol: udp, node: agent:0}

# Per-node labels, taints and extra edgelet flags (name=value).
nodes: []
# - role: agent
#   index: 0
#   labels: {site: store-17}
#   taints: ["edge=true:NoSchedule"]
#   args: ["kubelet-arg=max-pods=50"]
#   platform: linux/arm64   # this node only; under qemu emulation where it is not the host's

# The machines the nodes go on with ` + "`edgectl promote`" + ` (cluster create ignores this):
# one per node, by role and index, reached over SSH (USER@ADDRESS[:PORT]).
hosts: []
# - {role: server, index: 0, ssh: root@192.168.1.10}
# - {role: agent, index: 0, ssh: pi@192.168.1.21, keyFile: ~/.ssh/id_ed25519, labels: {board: pi4}}
#   hooks: {apply: {before: ["systemctl stop unattended-upgrades"]}}   # also upgrade, reset; before, after

# Extra edgelet flags for every server / every agent.
serverArgs: []
agentArgs: []
# Platform of every agent (linux/amd64 or linux/arm64); empty is the host's. Another
# platform runs under qemu user emulation, from the node image tagged IMAGE-ARCH
# (edgectl image build --platform linux/arm64).
agentPlatform: ""
`
