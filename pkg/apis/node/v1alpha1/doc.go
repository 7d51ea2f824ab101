// Package v1alpha1 is edgelet's node config, apiVersion edgectl.io/v1alpha1,
// kind NodeConfig: everything one node is told (role, server, token file,
// node IP, labels, taints, CIDRs, datastore, extra component args). edgectl
// writes it into each node container; `node join` and `promote` write the
// same file on real hosts; edgelet reads it with --config, strictly, and its
// flags (one per field, registered by AddFlags) override the file. The paths
// and defaults that edgectl and edgelet share are defined here, once.
package v1alpha1
