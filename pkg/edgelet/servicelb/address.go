package servicelb

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	"k8s.io/klog/v2"
)

// addrLabel marks the addresses servicelb added to an interface, so that
// they are told apart from the node's own and found again after a restart.
func addrLabel(iface string) string {
	l := iface + ":lb"
	if len(l) > 15 { // IFNAMSIZ-1
		l = iface
	}
	return l
}

// holdAddresses makes want exactly the servicelb addresses on iface: it adds
// the missing ones (and announces each with a gratuitous ARP, so that peers
// drop a cached MAC of the node that held it before) and removes the rest.
func holdAddresses(iface string, want []netip.Addr) error {
	link, err := netlink.LinkByName(iface)
	if err != nil {
		return err
	}
	addrs, err := netlink.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return err
	}
	label := addrLabel(iface)
	have := map[netip.Addr]bool{}
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP.To4())
		if !ok || a.Label != label || label == iface {
			continue
		}
		if ones, _ := a.Mask.Size(); ones != 32 {
			continue
		}
		if !slices.Contains(want, ip) {
			if err := netlink.AddrDel(link, &a); err != nil {
				return fmt.Errorf("remove %s: %w", ip, err)
			}
			klog.InfoS("Released a LoadBalancer address", "ip", ip, "interface", iface)
			continue
		}
		have[ip] = true
	}
	for _, ip := range want {
		if have[ip] {
			continue
		}
		addr := &netlink.Addr{IPNet: &net.IPNet{IP: ip.AsSlice(), Mask: net.CIDRMask(32, 32)}, Label: label}
		if err := netlink.AddrAdd(link, addr); err != nil && err != unix.EEXIST {
			return fmt.Errorf("add %s: %w", ip, err)
		}
		if err := gratuitousARP(link.Attrs().Index, link.Attrs().HardwareAddr, ip); err != nil {
			klog.ErrorS(err, "No gratuitous ARP for a LoadBalancer address; peers learn it when their cache expires", "ip", ip)
		}
		klog.InfoS("Holding a LoadBalancer address", "ip", ip, "interface", iface)
	}
	return nil
}

// arpFrame is a broadcast ARP request for ip from ip itself: a gratuitous
// ARP, which updates the neighbour caches of every host on the link.
func arpFrame(mac net.HardwareAddr, ip netip.Addr) []byte {
	f := make([]byte, 42)
	copy(f[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(f[6:12], mac)
	binary.BigEndian.PutUint16(f[12:], unix.ETH_P_ARP)
	binary.BigEndian.PutUint16(f[14:], 1)             // Ethernet
	binary.BigEndian.PutUint16(f[16:], unix.ETH_P_IP) // IPv4
	f[18], f[19] = 6, 4
	binary.BigEndian.PutUint16(f[20:], 1) // request
	copy(f[22:28], mac)
	a := ip.As4()
	copy(f[28:32], a[:])
	copy(f[38:42], a[:]) // target hardware address stays zero
	return f
}

// gratuitousARP sends arpFrame on the interface of index ifindex.
func gratuitousARP(ifindex int, mac net.HardwareAddr, ip netip.Addr) error {
	if len(mac) != 6 {
		return fmt.Errorf("interface has no Ethernet address")
	}
	proto := int(htons(unix.ETH_P_ARP))
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, proto)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	to := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ARP), Ifindex: ifindex, Halen: 6}
	copy(to.Addr[:], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	return unix.Sendto(fd, arpFrame(mac, ip), 0, to)
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
