// Package nodeimage builds edgectl's node image offline: a Debian rootfs made
// with debootstrap from Debian's package mirror, edgelet, containerd, runc and
// the CNI plugins built from Go modules, and the offline system images (pause,
// CoreDNS, the echo test workload). The image is assembled as layers with
// go-containerregistry and loaded into the container engine; no registry is
// contacted. Every input is hashed: an unchanged build is a cache hit.
package nodeimage
