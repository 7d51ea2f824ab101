package netem

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// The NFQUEUE netlink protocol (linux/netfilter/nfnetlink_queue.h), the part
// a delay line needs: bind a queue, ask for packet metadata only, read each
// packet's id, and give a verdict for it.
const (
	nfnlSubsysQueue = 3
	nfqnlMsgPacket  = 0
	nfqnlMsgVerdict = 1
	nfqnlMsgConfig  = 2

	nfqaCfgCmd         = 1
	nfqaCfgParams      = 2
	nfqaCfgQueueMaxlen = 3
	nfqaCfgMask        = 4
	nfqaCfgFlags       = 5
	nfqnlCfgCmdBind    = 1
	nfqnlCopyMeta      = 1
	nfqaCfgFFailOpen   = 1

	nfqaPacketHdr  = 1
	nfqaVerdictHdr = 2

	nfAccept = 1
)

// queue is one bound NFQUEUE: packets that an iptables NFQUEUE rule sends to
// it wait in the kernel until they get a verdict.
type queue struct {
	fd  int
	num uint16
	mu  sync.Mutex // numbers and sends requests
	seq uint32
}

// openQueue binds NFQUEUE number num. Packets beyond maxLen waiting for a
// verdict are accepted rather than dropped (fail-open), so a slow reader
// never turns a delay into loss.
func openQueue(num uint16, maxLen uint32) (*queue, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
	if err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlink bind: %w", err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20)
	q := &queue{fd: fd, num: num}
	params := make([]byte, 5)
	binary.BigEndian.PutUint32(params, 0) // copy range: no payload
	params[4] = nfqnlCopyMeta
	maxLenB := binary.BigEndian.AppendUint32(nil, maxLen)
	flags := binary.BigEndian.AppendUint32(nil, nfqaCfgFFailOpen)
	for _, attrs := range [][]byte{
		attr(nfqaCfgCmd, []byte{nfqnlCfgCmdBind, 0, 0, 0}),
		attr(nfqaCfgParams, params),
		append(attr(nfqaCfgQueueMaxlen, maxLenB), append(attr(nfqaCfgFlags, flags), attr(nfqaCfgMask, flags)...)...),
	} {
		if err := q.request(nfqnlMsgConfig, attrs, true); err != nil {
			q.Close()
			return nil, fmt.Errorf("configure NFQUEUE %d: %w", num, err)
		}
	}
	return q, nil
}

// Close unbinds the queue; the kernel then lets packets through (the
// iptables rule has --queue-bypass).
func (q *queue) Close() error { return unix.Close(q.fd) }

// Verdict accepts the packet with id.
func (q *queue) Verdict(id uint32) error {
	hdr := binary.BigEndian.AppendUint32(nil, nfAccept)
	hdr = binary.BigEndian.AppendUint32(hdr, id)
	return q.request(nfqnlMsgVerdict, attr(nfqaVerdictHdr, hdr), false)
}

// request sends one nfnetlink message of the queue subsystem; with ack it
// waits for the kernel's answer.
func (q *queue) request(msgType uint16, attrs []byte, ack bool) error {
	flags := uint16(unix.NLM_F_REQUEST)
	if ack {
		flags |= unix.NLM_F_ACK
	}
	msg := make([]byte, unix.SizeofNlMsghdr+4, unix.SizeofNlMsghdr+4+len(attrs))
	binary.NativeEndian.PutUint16(msg[4:], nfnlSubsysQueue<<8|msgType)
	binary.NativeEndian.PutUint16(msg[6:], flags)

	// nfgenmsg: family AF_UNSPEC, version 0, queue number (big endian).
	binary.BigEndian.PutUint16(msg[unix.SizeofNlMsghdr+2:], q.num)
	msg = append(msg, attrs...)
	binary.NativeEndian.PutUint32(msg[0:], uint32(len(msg)))
	q.mu.Lock()
	q.seq++
	seq := q.seq
	binary.NativeEndian.PutUint32(msg[8:], seq)
	err := unix.Sendto(q.fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
	q.mu.Unlock()
	if err != nil || !ack {
		return err
	}
	buf := make([]byte, 8192)
	for {
		msgs, err := q.receive(buf)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if m.Header.Type == unix.NLMSG_ERROR && m.Header.Seq == seq {
				if code := int32(binary.NativeEndian.Uint32(m.Data)); code != 0 {
					return unix.Errno(-code)
				}
				return nil
			}
		}
	}
}

// Read blocks until packets arrive and calls fn with each packet's id, in
// arrival order. ENOBUFS (the socket overflowed) is not an error: those
// packets were let through by fail-open or will time out in the kernel.
func (q *queue) Read(fn func(id uint32)) error {
	buf := make([]byte, 1<<16)
	for {
		msgs, err := q.receive(buf)
		if errors.Is(err, unix.ENOBUFS) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if m.Header.Type != nfnlSubsysQueue<<8|nfqnlMsgPacket || len(m.Data) < 4 {
				continue
			}
			if id, ok := packetID(m.Data[4:]); ok {
				fn(id)
			}
		}
	}
}

// receive reads one datagram of netlink messages into buf.
func (q *queue) receive(buf []byte) ([]syscall.NetlinkMessage, error) {
	n, _, err := unix.Recvfrom(q.fd, buf, 0)
	if err != nil {
		return nil, err
	}
	return syscall.ParseNetlinkMessage(buf[:n])
}

// packetID finds NFQA_PACKET_HDR among a packet message's attributes.
func packetID(attrs []byte) (uint32, bool) {
	for len(attrs) >= 4 {
		l := int(binary.NativeEndian.Uint16(attrs))
		t := binary.NativeEndian.Uint16(attrs[2:]) & 0x3fff // without NLA_F_NESTED/NET_BYTEORDER
		if l < 4 || l > len(attrs) {
			return 0, false
		}
		if t == nfqaPacketHdr && l >= 8 {
			return binary.BigEndian.Uint32(attrs[4:]), true
		}
		attrs = attrs[min(align4(l), len(attrs)):]
	}
	return 0, false
}

// attr encodes one netlink attribute, padded to 4 bytes.
func attr(typ uint16, data []byte) []byte {
	b := make([]byte, 4, align4(4+len(data)))
	binary.NativeEndian.PutUint16(b, uint16(4+len(data)))
	binary.NativeEndian.PutUint16(b[2:], typ)
	b = append(b, data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func align4(n int) int { return (n + 3) &^ 3 }
