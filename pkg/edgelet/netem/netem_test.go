package netem

import (
	"testing"
)

func TestPacketID(t *testing.T) {
	hdr := []byte{0, 0, 0x12, 0x34, 0x08, 0x00, 3} // id 0x1234, IPv4, hook 3
	attrs := append(attr(9, []byte{1, 2, 3}), attr(nfqaPacketHdr, hdr)...)
	if id, ok := packetID(attrs); !ok || id != 0x1234 {
		t.Errorf("packetID = %#x, %v", id, ok)
	}
	if _, ok := packetID(attr(9, []byte{1})); ok {
		t.Error("found a packet id where there is none")
	}
}
