package tunnel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
)

// Pod traffic between a node behind NAT and the rest of the cluster rides
// the node's tunnel too: IP packets, each framed with its length, on one
// stream the server opens with the header "packets -". Both ends put them
// on a TUN device (TUNName): the server routes the node's pod subnet to
// it, the node the cluster's pod and Service ranges. VXLAN cannot cross
// NAT; the tunnel is TLS already, so nothing more is wrapped around it.

// TUNName is the TUN device on both ends.
const TUNName = "edgelet0"

// MTU of the TUN devices and of the pods of a tunneled node: that of the
// container nodes' pods (flannel's VXLAN), so nothing needs fragmenting.
const MTU = 1450

// AnnotationHub, on a tunneled node's Node, is the IP of the server that
// holds its packet stream: other nodes route its pod subnet there.
const AnnotationHub = "edgectl.io/tunnel-hub"

// PacketsNetwork is the stream header's network of the packet stream.
const PacketsNetwork = "packets"

// maxPacket bounds a frame (the TUN's MTU is below it).
const maxPacket = 65535

// WritePacket writes one framed packet.
func WritePacket(w io.Writer, pkt []byte) error {
	if len(pkt) > maxPacket {
		return fmt.Errorf("packet of %d bytes", len(pkt))
	}
	buf := make([]byte, 2+len(pkt))
	binary.BigEndian.PutUint16(buf, uint16(len(pkt)))
	copy(buf[2:], pkt)
	_, err := w.Write(buf)
	return err
}

// ReadPacket reads one framed packet into buf and returns it.
func ReadPacket(r io.Reader, buf []byte) ([]byte, error) {
	var n [2]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, err
	}
	size := int(binary.BigEndian.Uint16(n[:]))
	if size > len(buf) {
		return nil, fmt.Errorf("packet of %d bytes", size)
	}
	_, err := io.ReadFull(r, buf[:size])
	return buf[:size], err
}

// DestIP is an IPv4 packet's destination (nil for anything else).
func DestIP(pkt []byte) net.IP {
	if len(pkt) < 20 || pkt[0]>>4 != 4 {
		return nil
	}
	return net.IP(pkt[16:20])
}

// ErrClosed ends a packet pump whose stream is gone.
var ErrClosed = errors.New("packet stream closed")

// Pump moves packets between a TUN device and packet streams: each stream
// takes the packets to its subnet (a node's pod subnet on a server; every
// address, 0.0.0.0/0, on the node).
type Pump struct {
	tun   io.ReadWriter
	mu    sync.Mutex
	peers map[string]*peer
}

type peer struct {
	subnet *net.IPNet
	st     net.Conn
	wmu    sync.Mutex
}

// NewPump starts reading tun (one packet per Read, as a TUN device gives
// them).
func NewPump(tun io.ReadWriter) *Pump {
	p := &Pump{tun: tun, peers: map[string]*peer{}}
	go p.fromTUN()
	return p
}

// Attach sends subnet's packets to st and st's packets to the TUN, until
// st ends; a newer stream for the same subnet replaces it.
func (p *Pump) Attach(subnet *net.IPNet, st net.Conn) {
	me := &peer{subnet: subnet, st: st}
	key := subnet.String()
	p.mu.Lock()
	old := p.peers[key]
	p.peers[key] = me
	p.mu.Unlock()
	if old != nil {
		old.st.Close()
	}
	buf := make([]byte, maxPacket)
	for {
		pkt, err := ReadPacket(st, buf)
		if err != nil {
			break
		}
		if _, err := p.tun.Write(pkt); err != nil && errors.Is(err, os.ErrClosed) {
			break
		}
	}
	st.Close()
	p.mu.Lock()
	if p.peers[key] == me {
		delete(p.peers, key)
	}
	p.mu.Unlock()
}

func (p *Pump) fromTUN() {
	buf := make([]byte, maxPacket)
	for {
		n, err := p.tun.Read(buf)
		if err != nil {
			if errors.Is(err, os.ErrClosed) || errors.Is(err, io.EOF) {
				return
			}
			continue
		}
		dst := DestIP(buf[:n])
		if dst == nil {
			continue
		}
		var to *peer
		p.mu.Lock()
		for _, pe := range p.peers {
			if pe.subnet.Contains(dst) && (to == nil || maskLen(pe.subnet) > maskLen(to.subnet)) {
				to = pe
			}
		}
		p.mu.Unlock()
		if to == nil {
			continue // no stream for it now: dropped, as a link down would
		}
		to.wmu.Lock()
		err = WritePacket(to.st, buf[:n])
		to.wmu.Unlock()
		if err != nil {
			to.st.Close()
		}
	}
}

func maskLen(n *net.IPNet) int {
	ones, _ := n.Mask.Size()
	return ones
}
