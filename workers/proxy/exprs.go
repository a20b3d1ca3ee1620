package proxy

import (
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// masqMark is the packet mark asking the postrouting chain to masquerade.
const masqMark = 0x4000

// Registers: NFT_REG_1 (16 bytes) and the 32-bit registers 9 and 10 that
// follow the first 4 bytes of it, so a concatenated key starts at 1.
const (
	reg1, reg9, reg10, reg2 = 1, 9, 10, 2
)

func loadDaddr(reg uint32) expr.Any {
	return &expr.Payload{DestRegister: reg, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4}
}

func loadSaddr(reg uint32) expr.Any {
	return &expr.Payload{DestRegister: reg, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4}
}

func loadL4Proto(reg uint32) expr.Any { return &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg} }

func loadDport(reg uint32) expr.Any {
	return &expr.Payload{DestRegister: reg, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2}
}

func cmpEq(reg uint32, data []byte) expr.Any {
	return &expr.Cmp{Op: expr.CmpOpEq, Register: reg, Data: data}
}

func gotoChain(name string) expr.Any      { return &expr.Verdict{Kind: expr.VerdictGoto, Chain: name} }
func jumpChain(name string) expr.Any      { return &expr.Verdict{Kind: expr.VerdictJump, Chain: name} }
func verdict(k expr.VerdictKind) expr.Any { return &expr.Verdict{Kind: k} }

// vmapLookup looks the key in reg1 up in map s and takes its verdict.
func vmapLookup(s *nftables.Set) expr.Any {
	return &expr.Lookup{SourceRegister: reg1, IsDestRegSet: true, DestRegister: 0, SetName: s.Name, SetID: s.ID}
}

func setLookup(s *nftables.Set) expr.Any {
	return &expr.Lookup{SourceRegister: reg1, SetName: s.Name, SetID: s.ID}
}

// serviceTriple loads ip daddr . meta l4proto . th dport into reg1.
func serviceTriple() []expr.Any {
	return []expr.Any{loadDaddr(reg1), loadL4Proto(reg9), loadDport(reg10)}
}

// ctStateNew matches the first packet of a connection.
func ctStateNew() []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: reg1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitNEW), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: reg1, Data: make([]byte, 4)},
	}
}

// saddrNotIn matches sources outside prefix.
func saddrNotIn(p netip.Prefix) []expr.Any {
	return append([]expr.Any{loadSaddr(reg1)}, prefixMatch(p, expr.CmpOpNeq)...)
}

// daddrIn matches destinations inside prefix.
func daddrIn(p netip.Prefix) []expr.Any {
	return append([]expr.Any{loadDaddr(reg1)}, prefixMatch(p, expr.CmpOpEq)...)
}

// prefixMatch masks the address in reg1 and compares it with p.
func prefixMatch(p netip.Prefix, op expr.CmpOp) []expr.Any {
	bits := make([]byte, 4)
	for i := range p.Bits() {
		bits[i/8] |= 0x80 >> (i % 8)
	}
	return []expr.Any{
		&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4, Mask: bits, Xor: make([]byte, 4)},
		&expr.Cmp{Op: op, Register: reg1, Data: p.Masked().Addr().AsSlice()},
	}
}

func saddrIs(ip netip.Addr) []expr.Any {
	return []expr.Any{loadSaddr(reg1), cmpEq(reg1, ip.AsSlice())}
}

// dnatTo rewrites the destination to ip:port.
func dnatTo(ip netip.Addr, port uint16) []expr.Any {
	return []expr.Any{
		&expr.Immediate{Register: reg1, Data: ip.AsSlice()},
		&expr.Immediate{Register: reg2, Data: binaryutil.BigEndian.PutUint16(port)},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4,
			RegAddrMin: reg1, RegProtoMin: reg2, Specified: true},
	}
}

// markForMasq sets the masquerade bit: meta mark set meta mark | 0x4000.
func markForMasq() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: reg1},
		&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(^uint32(masqMark)),
			Xor:  binaryutil.NativeEndian.PutUint32(masqMark)},
		&expr.Meta{Key: expr.MetaKeyMARK, Register: reg1, SourceRegister: true},
	}
}

// masqIfMarked: return unless marked; clear the bit; masquerade.
func masqIfMarked() [][]expr.Any {
	return [][]expr.Any{
		{
			&expr.Meta{Key: expr.MetaKeyMARK, Register: reg1},
			&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4,
				Mask: binaryutil.NativeEndian.PutUint32(masqMark), Xor: make([]byte, 4)},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: make([]byte, 4)},
			verdict(expr.VerdictReturn),
		},
		{
			&expr.Meta{Key: expr.MetaKeyMARK, Register: reg1},
			&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4,
				Mask: binaryutil.NativeEndian.PutUint32(^uint32(0)),
				Xor:  binaryutil.NativeEndian.PutUint32(masqMark)},
			&expr.Meta{Key: expr.MetaKeyMARK, Register: reg1, SourceRegister: true},
			&expr.Masq{FullyRandom: true},
		},
	}
}

// rejectRules: tcp reset for TCP, icmp port-unreachable otherwise.
func rejectRules() [][]expr.Any {
	return [][]expr.Any{
		{loadL4Proto(reg1), cmpEq(reg1, []byte{unix.IPPROTO_TCP}),
			&expr.Reject{Type: unix.NFT_REJECT_TCP_RST}},
		{&expr.Reject{Type: unix.NFT_REJECT_ICMP_UNREACH, Code: 3 /* port unreachable */}},
	}
}
