//! Receive coalescing (GRO) for the TUN device: decrypted TCP segments of one flow that
//! follow each other are joined into one super packet with a virtio-net header (TSO
//! semantics), so the host's TCP stack takes one packet where the wire carried dozens.
//!
//! The rules follow the kernel's `tcp_gro_receive`: same addresses, ports, ACK number,
//! window, flags (PSH aside) and TCP options, no IP options or IPv6 extension headers, no
//! fragments, SYN/FIN/RST/URG/CWR/ECE never joined; the next segment must start where the
//! last one ended; every segment but the last carries exactly the first one's payload size;
//! a PSH ends the super packet; 64 KiB at most. Only a packet and the one right before it
//! are joined, so nothing is ever reordered. The TCP checksum of every joined segment is
//! verified first (the kernel does not verify a super packet's checksum, it finishes it);
//! a packet that fails is passed on alone for the kernel to verify and drop. Everything
//! else (UDP, ICMP, single segments) goes through unchanged with an empty header.
//!
//! One copy per packet (into the frame buffer), no allocation after construction.

use tun_rs::VIRTIO_NET_HDR_LEN;
use wire::{checksum, ip, ipv4, ipv6};

/// The virtio-net header (`struct virtio_net_hdr`, virtio 1.x §5.1.6) the TUN device
/// expects in front of every frame with `IFF_VNET_HDR`, fields in host byte order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VnetHdr {
    pub flags: u8,
    pub gso_type: u8,
    pub hdr_len: u16,
    pub gso_size: u16,
    pub csum_start: u16,
    pub csum_offset: u16,
}

/// `flags`: the checksum at `csum_start + csum_offset` is to be finished.
pub const VNET_F_NEEDS_CSUM: u8 = 1;
pub const VNET_GSO_NONE: u8 = 0;
pub const VNET_GSO_TCPV4: u8 = 1;
pub const VNET_GSO_TCPV6: u8 = 4;

impl VnetHdr {
    /// Writes the header into the first ten bytes of `out` (which must hold them).
    fn encode(&self, out: &mut [u8]) {
        out[0] = self.flags;
        out[1] = self.gso_type;
        out[2..4].copy_from_slice(&self.hdr_len.to_ne_bytes());
        out[4..6].copy_from_slice(&self.gso_size.to_ne_bytes());
        out[6..8].copy_from_slice(&self.csum_start.to_ne_bytes());
        out[8..10].copy_from_slice(&self.csum_offset.to_ne_bytes());
    }

    /// Reads a header from the first ten bytes of `b`.
    pub fn decode(b: &[u8]) -> Option<Self> {
        let u = |i: usize| Some(u16::from_ne_bytes([*b.get(i)?, *b.get(i + 1)?]));
        Some(Self {
            flags: *b.first()?,
            gso_type: *b.get(1)?,
            hdr_len: u(2)?,
            gso_size: u(4)?,
            csum_start: u(6)?,
            csum_offset: u(8)?,
        })
    }
}

/// Largest IP packet a frame may hold.
const MAX_FRAME: usize = 65535;

const TCP_PSH: u8 = 0x08;
const TCP_ACK: u8 = 0x10;

/// A TCP segment that may join others.
#[derive(Debug, Clone, Copy)]
struct Segment {
    v6: bool,
    /// IP header length (IPv4 without options: 20; IPv6 without extensions: 40).
    ip_len: usize,
    /// IP plus TCP header length.
    headers: usize,
    seq: u32,
    payload: usize,
    flags: u8,
}

/// Parses a packet as a TCP segment that GRO may join, or `None`.
fn segment(p: &[u8]) -> Option<Segment> {
    let (v6, ip_len) = match ip::version(p).ok()? {
        ip::IpVersion::V4 => {
            let h = ipv4::Packet::new_checked(p).ok()?;
            if h.header_len() != ipv4::MIN_HEADER_LEN
                || h.protocol() != ip::TCP
                || h.is_fragment()
                || h.total_len() != p.len()
            {
                return None;
            }
            (false, ipv4::MIN_HEADER_LEN)
        }
        ip::IpVersion::V6 => {
            let h = ipv6::Packet::new_checked(p).ok()?;
            if h.next_header() != ip::TCP || h.total_len() != p.len() {
                return None;
            }
            (true, ipv6::HEADER_LEN)
        }
    };
    let tcp = p.get(ip_len..ip_len + 20)?;
    let tcp_len = usize::from(tcp[12] >> 4) * 4;
    if tcp_len < 20 || p.len() < ip_len + tcp_len {
        return None;
    }
    let flags = tcp[13];
    // Only plain data segments (ACK, maybe PSH); ECE/CWR/URG/SYN/FIN/RST go alone.
    if flags & !TCP_PSH != TCP_ACK {
        return None;
    }
    Some(Segment {
        v6,
        ip_len,
        headers: ip_len + tcp_len,
        seq: u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]),
        payload: p.len() - ip_len - tcp_len,
        flags,
    })
}

/// The unfolded pseudo-header sum of a TCP segment of `tcp_len` bytes in packet `p`.
fn pseudo(p: &[u8], s: &Segment, tcp_len: usize) -> u64 {
    if s.v6 {
        let h = ipv6::Packet::new_unchecked(p);
        checksum::pseudo_v6(h.src(), h.dst(), ip::TCP, tcp_len as u32)
    } else {
        let h = ipv4::Packet::new_unchecked(p);
        checksum::pseudo_v4(h.src(), h.dst(), ip::TCP, tcp_len as u16)
    }
}

/// Whether the TCP checksum of segment `s` (packet `p`) verifies.
fn checksum_ok(p: &[u8], s: &Segment) -> bool {
    let tcp = &p[s.ip_len..];
    checksum::finish(checksum::sum(pseudo(p, s, tcp.len()), tcp)) == 0
}

/// The super packet being built.
#[derive(Debug, Clone, Copy)]
struct Open {
    first: Segment,
    next_seq: u32,
    segments: usize,
    /// Every payload so far had the first one's size (only the last may be shorter).
    all_full: bool,
    /// The first segment's checksum was verified (done when a second one joins).
    first_checked: bool,
}

/// Builds TUN frames (virtio-net header + packet) from decrypted packets.
pub struct Coalescer {
    /// Virtio-net header, then the packet or super packet being built.
    frame: Vec<u8>,
    open: Option<Open>,
}

impl Default for Coalescer {
    fn default() -> Self {
        Self::new()
    }
}

impl Coalescer {
    pub fn new() -> Self {
        Self {
            frame: Vec::with_capacity(VIRTIO_NET_HDR_LEN + MAX_FRAME),
            open: None,
        }
    }

    /// Adds a decrypted packet; `write` gets every frame that is complete.
    pub fn push(&mut self, p: &[u8], write: &mut impl FnMut(&[u8])) {
        let seg = segment(p);
        // (A bad first segment fails the last test: it leaves alone, this one starts anew.)
        if let (Some(s), Some(o)) = (seg, self.open)
            && self.joins(p, &s, &o)
            && (o.first_checked || self.first_checksum_ok(&o))
        {
            if checksum_ok(p, &s) {
                self.frame.extend_from_slice(&p[s.headers..]);
                let h = &mut self.frame[VIRTIO_NET_HDR_LEN..];
                h[o.first.ip_len + 13] |= s.flags & TCP_PSH;
                self.open = Some(Open {
                    next_seq: s.seq.wrapping_add(s.payload as u32),
                    segments: o.segments + 1,
                    all_full: o.all_full && s.payload == o.first.payload,
                    first_checked: true,
                    ..o
                });
                return;
            }
            // A bad checksum: the kernel verifies it alone (and drops it).
            self.flush(write);
            self.single(p, write);
            return;
        }
        self.flush(write);
        match seg {
            Some(s) if s.flags & TCP_PSH == 0 && s.payload > 0 => {
                self.start(p);
                self.open = Some(Open {
                    first: s,
                    next_seq: s.seq.wrapping_add(s.payload as u32),
                    segments: 1,
                    all_full: true,
                    first_checked: false,
                });
            }
            _ => self.single(p, write),
        }
    }

    /// Writes the frame being built, if any.
    pub fn flush(&mut self, write: &mut impl FnMut(&[u8])) {
        let Some(o) = self.open.take() else {
            return;
        };
        if o.segments > 1 {
            self.finish_super(&o);
        }
        write(&self.frame);
    }

    fn start(&mut self, p: &[u8]) {
        self.frame.clear();
        self.frame.extend_from_slice(&[0u8; VIRTIO_NET_HDR_LEN]);
        self.frame.extend_from_slice(p);
    }

    /// A packet on its own: empty virtio-net header (GSO_NONE, the kernel checks it).
    fn single(&mut self, p: &[u8], write: &mut impl FnMut(&[u8])) {
        self.start(p);
        write(&self.frame);
    }

    fn first_checksum_ok(&mut self, o: &Open) -> bool {
        let first = &self.frame[VIRTIO_NET_HDR_LEN..];
        checksum_ok(first, &o.first)
    }

    /// Can segment `s` (packet `p`) join the open super packet?
    fn joins(&self, p: &[u8], s: &Segment, o: &Open) -> bool {
        let f = &self.frame[VIRTIO_NET_HDR_LEN..];
        let first = &o.first;
        let (il, hl) = (first.ip_len, first.headers);
        if s.v6 != first.v6 || s.headers != hl || s.seq != o.next_seq {
            return false;
        }
        if !o.all_full || s.payload == 0 || s.payload > first.payload {
            return false;
        }
        // The open one ends at a PSH: nothing may follow.
        if f[il + 13] & TCP_PSH != 0 {
            return false;
        }
        if f.len() + s.payload > MAX_FRAME {
            return false;
        }
        let same_ip = if s.v6 {
            // Version, traffic class, flow label; next header, hop limit; addresses.
            f[..4] == p[..4] && f[6..40] == p[6..40]
        } else {
            // TOS; DF; TTL, protocol; addresses.
            f[1] == p[1]
                && f[6] & 0x40 == p[6] & 0x40
                && f[8..10] == p[8..10]
                && f[12..20] == p[12..20]
        };
        // Ports; ACK number; header length, flags (PSH aside), window; options.
        let (ft, pt) = (&f[il..hl], &p[il..hl]);
        same_ip
            && ft[..4] == pt[..4]
            && ft[8..13] == pt[8..13]
            && ft[13] & !TCP_PSH == pt[13] & !TCP_PSH
            && ft[14..16] == pt[14..16]
            && ft[20..] == pt[20..]
    }

    /// Turns the frame into a TSO super packet: IP lengths, the TCP checksum field holding
    /// the pseudo-header sum (the kernel finishes it), and the virtio-net header.
    fn finish_super(&mut self, o: &Open) {
        let first = o.first;
        let p = &mut self.frame[VIRTIO_NET_HDR_LEN..];
        let len = p.len();
        if first.v6 {
            let plen = (len - ipv6::HEADER_LEN) as u16;
            p[4..6].copy_from_slice(&plen.to_be_bytes());
        } else {
            let mut h = ipv4::Packet::new_unchecked(&mut p[..]);
            h.set_total_len(len as u16);
            h.fill_checksum();
        }
        let tcp_len = len - first.ip_len;
        let sum = checksum::fold(pseudo(p, &first, tcp_len));
        p[first.ip_len + 16..first.ip_len + 18].copy_from_slice(&sum.to_be_bytes());
        let hdr = VnetHdr {
            flags: VNET_F_NEEDS_CSUM,
            gso_type: if first.v6 {
                VNET_GSO_TCPV6
            } else {
                VNET_GSO_TCPV4
            },
            hdr_len: first.headers as u16,
            gso_size: first.payload as u16,
            csum_start: first.ip_len as u16,
            csum_offset: 16,
        };
        // The frame always starts with room for the header.
        hdr.encode(&mut self.frame[..VIRTIO_NET_HDR_LEN]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;
    const NONE: u8 = VNET_GSO_NONE;
    const TCP_FIN: u8 = 0x01;
    const TCP_SYN: u8 = 0x02;

    /// An IPv4 TCP segment with a correct checksum.
    fn tcp4(seq: u32, payload: usize, flags: u8, ack: u32) -> Vec<u8> {
        let mut p = vec![0u8; 20 + 32 + payload];
        let src = Ipv4Addr::new(10, 1, 0, 1);
        let dst = Ipv4Addr::new(10, 1, 0, 2);
        ipv4::Repr {
            src,
            dst,
            protocol: ip::TCP,
            payload_len: 32 + payload,
            ttl: 64,
            dscp_ecn: 0,
            ident: seq as u16,
            dont_frag: true,
        }
        .emit(&mut p[..20])
        .unwrap();
        let t = &mut p[20..];
        t[0..2].copy_from_slice(&5201u16.to_be_bytes());
        t[2..4].copy_from_slice(&40000u16.to_be_bytes());
        t[4..8].copy_from_slice(&seq.to_be_bytes());
        t[8..12].copy_from_slice(&ack.to_be_bytes());
        t[12] = 8 << 4; // 32-byte header: timestamps option
        t[13] = flags;
        t[14..16].copy_from_slice(&512u16.to_be_bytes());
        t[20..32].copy_from_slice(&[1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 7]);
        for (i, b) in t[32..].iter_mut().enumerate() {
            *b = (seq as usize + i) as u8;
        }
        let sum = checksum::pseudo_v4(src, dst, ip::TCP, (32 + payload) as u16);
        let c = checksum::finish(checksum::sum(sum, &p[20..]));
        p[36..38].copy_from_slice(&c.to_be_bytes());
        p
    }

    fn run(packets: &[Vec<u8>]) -> Vec<Vec<u8>> {
        let mut g = Coalescer::new();
        let mut out = Vec::new();
        for p in packets {
            g.push(p, &mut |f| out.push(f.to_vec()));
        }
        g.flush(&mut |f| out.push(f.to_vec()));
        out
    }

    fn split_frame(frame: &[u8]) -> (VnetHdr, Vec<u8>) {
        let hdr = VnetHdr::decode(frame).unwrap();
        (hdr, frame[VIRTIO_NET_HDR_LEN..].to_vec())
    }

    #[test]
    fn a_burst_becomes_one_super_packet() {
        let segs: Vec<_> = (0..5)
            .map(|i| {
                tcp4(
                    1000 + i * 1000,
                    if i == 4 { 300 } else { 1000 },
                    TCP_ACK,
                    77,
                )
            })
            .collect();
        let out = run(&segs);
        assert_eq!(out.len(), 1);
        let (hdr, p) = split_frame(&out[0]);
        assert_eq!(hdr.gso_type, VNET_GSO_TCPV4);
        assert_eq!(hdr.flags, VNET_F_NEEDS_CSUM);
        assert_eq!((hdr.gso_size, hdr.hdr_len), (1000, 52));
        assert_eq!((hdr.csum_start, hdr.csum_offset), (20, 16));
        assert_eq!(p.len(), 52 + 4300);
        let h = ipv4::Packet::new_checked(&p[..]).unwrap();
        assert_eq!(h.total_len(), p.len());
        assert!(h.verify_checksum());
        // Payloads in order; the checksum field holds the pseudo-header sum.
        let mut want = Vec::new();
        for s in &segs {
            want.extend_from_slice(&s[52..]);
        }
        assert_eq!(&p[52..], &want[..]);
        let ps = checksum::pseudo_v4(h.src(), h.dst(), ip::TCP, (p.len() - 20) as u16);
        assert_eq!(p[36..38], checksum::fold(ps).to_be_bytes());
    }

    #[test]
    fn what_must_not_join_does_not() {
        let ok = |seq| tcp4(seq, 1000, TCP_ACK, 77);
        // A gap, a different ACK, a SYN, a short one in the middle, a PSH that ends it.
        let cases: Vec<(Vec<Vec<u8>>, usize)> = vec![
            (vec![ok(1000), ok(3000)], 2),
            (vec![ok(1000), tcp4(2000, 1000, TCP_ACK, 78)], 2),
            (vec![ok(1000), tcp4(2000, 1000, TCP_ACK | TCP_SYN, 77)], 2),
            (vec![ok(1000), tcp4(2000, 500, TCP_ACK, 77), ok(2500)], 2),
            (
                vec![ok(1000), tcp4(2000, 1000, TCP_ACK | TCP_PSH, 77), ok(3000)],
                2,
            ),
            (vec![tcp4(1000, 1000, TCP_ACK | TCP_FIN, 77), ok(2000)], 2),
            (
                vec![tcp4(1000, 0, TCP_ACK, 77), tcp4(1000, 0, TCP_ACK, 77)],
                2,
            ),
        ];
        for (i, (pkts, frames)) in cases.iter().enumerate() {
            let out = run(pkts);
            assert_eq!(out.len(), *frames, "case {i}");
            // Every payload byte is kept (all test segments have 52 header bytes).
            let total: usize = out.iter().map(|f| f.len() - VIRTIO_NET_HDR_LEN - 52).sum();
            let want: usize = pkts.iter().map(|p| p.len() - 52).sum();
            assert_eq!(total, want, "case {i}: bytes kept");
        }
        // The PSH one joins as the last segment and carries its flag.
        let out = run(&[ok(1000), tcp4(2000, 1000, TCP_ACK | TCP_PSH, 77)]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0][VIRTIO_NET_HDR_LEN + 33] & TCP_PSH, TCP_PSH);
    }

    #[test]
    fn bad_checksums_and_non_tcp_pass_alone_unchanged() {
        let mut bad = tcp4(2000, 1000, TCP_ACK, 77);
        bad[100] ^= 1;
        let udp = vec![
            0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 1, 0, 1, 10, 1, 0, 2, 0, 1, 0, 2, 0,
            8, 0, 0,
        ];
        let pkts = [
            tcp4(1000, 1000, TCP_ACK, 77),
            bad.clone(),
            udp.clone(),
            b"\x60".to_vec(),
        ];
        let out = run(&pkts);
        assert_eq!(out.len(), 4);
        for (f, p) in out.iter().zip(&pkts) {
            let h = VnetHdr::decode(f).unwrap();
            assert_eq!((h.gso_type, h.flags), (NONE, 0));
            assert_eq!(&f[VIRTIO_NET_HDR_LEN..], &p[..]);
        }
        // A bad first segment: it leaves alone, the good ones after it join.
        let mut bad_first = tcp4(1000, 1000, TCP_ACK, 77);
        bad_first[90] ^= 1;
        let out = run(&[
            bad_first,
            tcp4(2000, 1000, TCP_ACK, 77),
            tcp4(3000, 1000, TCP_ACK, 77),
        ]);
        assert_eq!(out.len(), 2);
        assert_eq!(VnetHdr::decode(&out[1]).unwrap().gso_type, VNET_GSO_TCPV4);
    }

    #[test]
    fn never_more_than_64k() {
        let segs: Vec<_> = (0..100).map(|i| tcp4(i * 1400, 1400, TCP_ACK, 1)).collect();
        let out = run(&segs);
        assert!(out.len() >= 3);
        for f in &out {
            assert!(f.len() - VIRTIO_NET_HDR_LEN <= MAX_FRAME);
        }
        let payload: usize = out.iter().map(|f| f.len() - VIRTIO_NET_HDR_LEN - 52).sum();
        assert_eq!(payload, 100 * 1400);
    }
}
