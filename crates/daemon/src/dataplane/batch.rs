//! Batch variants of [`Dataplane::outbound`] and [`Dataplane::inbound`], still without I/O.
//!
//! The I/O layer hands over dozens of packets at a time (the segments of one TSO super
//! packet read from the TUN device, a `recvmmsg` batch, one UDP GRO buffer). Doing the
//! per-packet work batch by batch saves what does not depend on the packet:
//! - outbound, the route and SA are looked up once for a run of packets that take the
//!   same route, and the SA's lock is taken once for the whole run, so workers on other
//!   cores sealing for the same SA wait at most once per batch, not once per packet;
//! - inbound, the SA entry is looked up once for a run of packets with the same SPI;
//! - the shared counters are updated once per batch, not twice per packet.
//!
//! The per-packet results are the same as the single-packet calls give (a test seals the
//! same packets both ways and compares the bytes). Anything off the common path (no
//! route, no SA, a packet that does not parse) goes through the single-packet call itself,
//! so its semantics stay in one place.

use std::net::IpAddr;
use std::ops::Range;

use esp::framing::{self, Outer, Received};
use esp::sad::{InboundEntry, InboundKey, OutboundSa};
use wire::{ip, ipv4, ipv6, udp};

use super::stats::Drop;
use super::{Dataplane, InboundTag, Located, OutboundRoute, esp_err, inbound_key};
use crate::packet::{FiveTuple, five_tuple};

/// How a sealed packet may leave by a UDP socket instead of the raw socket: it is ESP in
/// UDP (RFC 3948) behind a plain outer header (IPv4 without options, IPv6 without extension
/// headers) from `local`, so the kernel can rebuild the same headers in front of
/// `packet[esp_at..]` when a socket bound to `local:src_port` sends it to `dst_port`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpSend {
    pub local: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
    /// Where the ESP header starts (after the outer IP and UDP headers).
    pub esp_at: usize,
}

/// One sealed packet of a [`SealedBatch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sealed {
    /// Length of the whole IP packet.
    pub len: usize,
    /// Where it goes (outer destination).
    pub dst: IpAddr,
    /// Set when a UDP socket can carry it (see [`UdpSend`]).
    pub udp: Option<UdpSend>,
}

/// The output of [`Dataplane::outbound_batch`]: sealed packets in fixed slots of one
/// buffer allocated once, so a batch allocates nothing.
pub struct SealedBatch {
    arena: Box<[u8]>,
    slot: usize,
    items: Vec<Sealed>,
}

impl SealedBatch {
    /// Room for `capacity` sealed packets of up to `slot` bytes each.
    pub fn new(capacity: usize, slot: usize) -> Self {
        let slot = slot.max(1);
        Self {
            arena: vec![0u8; capacity * slot].into_boxed_slice(),
            slot,
            items: Vec::with_capacity(capacity),
        }
    }

    pub fn capacity(&self) -> usize {
        self.arena.len() / self.slot
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn is_full(&self) -> bool {
        self.items.len() >= self.capacity()
    }

    pub fn clear(&mut self) {
        self.items.clear();
    }

    /// The sealed packets, in the order they were sealed (their sequence numbers ascend).
    pub fn items(&self) -> &[Sealed] {
        &self.items
    }

    /// The bytes of the `i`th sealed packet (a whole IP packet).
    pub fn packet(&self, i: usize) -> &[u8] {
        match self.items.get(i) {
            Some(s) => &self.arena[i * self.slot..i * self.slot + s.len],
            None => &[],
        }
    }

    /// The slot the next sealed packet is written into.
    fn next_slot(&mut self) -> &mut [u8] {
        let at = self.items.len() * self.slot;
        &mut self.arena[at..at + self.slot]
    }

    fn push(&mut self, len: usize, dst: IpAddr, udp: Option<UdpSend>) {
        self.items.push(Sealed { len, dst, udp });
    }
}

/// The packet `i` of a batch laid out as the TUN device's `recv_multiple` leaves it.
fn packet_at<'a, B: AsRef<[u8]>>(
    bufs: &'a [B],
    sizes: &[usize],
    offset: usize,
    i: usize,
) -> &'a [u8] {
    let (Some(b), Some(&n)) = (bufs.get(i), sizes.get(i)) else {
        return &[];
    };
    b.as_ref()
        .get(offset..offset.saturating_add(n))
        .unwrap_or_default()
}

impl Dataplane {
    /// Seals the cleartext packets `bufs[i][offset..offset + sizes[i]]` into `out`
    /// (cleared first), as [`Dataplane::outbound`] would one by one; dropped packets are
    /// counted and leave no entry. Stops early only when `out` is full.
    pub fn outbound_batch<B: AsRef<[u8]>>(
        &self,
        bufs: &[B],
        sizes: &[usize],
        offset: usize,
        out: &mut SealedBatch,
    ) {
        out.clear();
        let routes = self.routes.load();
        let n = bufs.len().min(sizes.len());
        let (mut sealed, mut bytes) = (0u64, 0u64);
        let route_of = |t: &FiveTuple| routes.iter().position(|r| r.selector.matches_outbound(t));
        let mut i = 0;
        while i < n && !out.is_full() {
            let packet = packet_at(bufs, sizes, offset, i);
            let found = five_tuple(packet).and_then(|t| route_of(&t).map(|r| (t, r)));
            let sa = found.and_then(|(_, r)| self.sad.lookup_outbound(routes[r].sa));
            let (Some((mut t, r)), Some(sa)) = (found, sa) else {
                // Off the common path: the single-packet call decides and counts.
                let slot = out.next_slot();
                if let Ok((len, dst)) = self.outbound(packet, slot) {
                    out.push(len, dst, None);
                }
                i += 1;
                continue;
            };
            let route = &routes[r];
            let mut guard = sa.lock().unwrap_or_else(|p| p.into_inner());
            // This packet and the ones after it that take the same route, under one lock.
            let mut packet = packet;
            loop {
                let slot = out.next_slot();
                match seal_one(route, &mut guard, packet, &t, slot) {
                    Ok((len, dst)) => {
                        let udp = udp_send(route, &slot[..len]);
                        out.push(len, dst, udp);
                        sealed += 1;
                        bytes += len as u64;
                    }
                    Err(d) => self.stats.outbound::<IpAddr>(&Err(d)),
                }
                i += 1;
                if i >= n || out.is_full() {
                    break;
                }
                let next = packet_at(bufs, sizes, offset, i);
                match five_tuple(next) {
                    Some(nt) if route_of(&nt) == Some(r) => {
                        packet = next;
                        t = nt;
                    }
                    _ => break,
                }
            }
        }
        self.stats.add_sealed(sealed, bytes);
    }

    /// A batch opener: [`InboundBatch::open`] does what [`Dataplane::inbound`] does, with
    /// the SA entry kept between packets of the same SA and the counters added when the
    /// batch is dropped.
    pub fn inbound_batch(&self) -> InboundBatch<'_> {
        InboundBatch {
            dp: self,
            cached: None,
            opened: 0,
            bytes: 0,
        }
    }
}

/// Seals one packet on a route with its SA already locked; mirrors the end of
/// `Dataplane::outbound`.
fn seal_one(
    route: &OutboundRoute,
    sa: &mut OutboundSa,
    packet: &[u8],
    t: &FiveTuple,
    out: &mut [u8],
) -> Result<(usize, IpAddr), Drop> {
    let outer = match (route.local, route.remote) {
        (IpAddr::V4(l), IpAddr::V4(r)) => Outer::V4(l, r),
        (IpAddr::V6(l), IpAddr::V6(r)) => Outer::V6(l, r),
        _ => return Err(Drop::Malformed),
    };
    let n = match sa {
        OutboundSa::Esp(sa) if route.transport => {
            framing::seal_transport(sa, packet, route.encap, out).map_err(esp_err)?
        }
        OutboundSa::Esp(sa) => {
            framing::seal_tunnel(sa, packet, outer, route.encap, out).map_err(esp_err)?
        }
        OutboundSa::Ah(sa) if route.transport => sa.seal_transport(packet, out).map_err(esp_err)?,
        OutboundSa::Ah(sa) => sa.seal_tunnel(packet, outer, out).map_err(esp_err)?,
    };
    let dst = if route.transport { t.dst } else { route.remote };
    Ok((n, dst))
}

/// Whether a UDP socket can send the sealed `packet` of `route` (see [`UdpSend`]).
fn udp_send(route: &OutboundRoute, packet: &[u8]) -> Option<UdpSend> {
    let (src_port, dst_port) = route.encap?;
    let (src, hl): (IpAddr, usize) = match ip::version(packet).ok()? {
        ip::IpVersion::V4 => {
            let p = ipv4::Packet::new_checked(packet).ok()?;
            if p.header_len() != ipv4::MIN_HEADER_LEN || p.protocol() != ip::UDP {
                return None;
            }
            (p.src().into(), ipv4::MIN_HEADER_LEN)
        }
        ip::IpVersion::V6 => {
            let p = ipv6::Packet::new_checked(packet).ok()?;
            if p.next_header() != ip::UDP {
                return None;
            }
            (p.src().into(), ipv6::HEADER_LEN)
        }
    };
    let u = udp::Packet::new_checked(packet.get(hl..)?).ok()?;
    (src == route.local && u.src_port() == src_port && u.dst_port() == dst_port).then_some(
        UdpSend {
            local: route.local,
            src_port,
            dst_port,
            esp_at: hl + udp::HEADER_LEN,
        },
    )
}

/// See [`Dataplane::inbound_batch`].
pub struct InboundBatch<'d> {
    dp: &'d Dataplane,
    cached: Option<(InboundKey, InboundEntry<InboundTag>)>,
    opened: u64,
    bytes: u64,
}

impl InboundBatch<'_> {
    /// Opens one ESP/AH packet in place; the same result as [`Dataplane::inbound`].
    pub fn open(&mut self, packet: &mut [u8]) -> Result<Range<usize>, Drop> {
        let r = self.open_inner(packet);
        match &r {
            Ok(range) => {
                self.opened += 1;
                self.bytes += range.len() as u64;
            }
            Err(_) => self.dp.stats.inbound(&r),
        }
        r
    }

    fn open_inner(&mut self, packet: &mut [u8]) -> Result<Range<usize>, Drop> {
        let key = match inbound_key(packet).ok_or(Drop::Malformed)? {
            Located::Sa(k) => k,
            Located::Keepalive => return Err(Drop::Keepalive),
            Located::Ike => return Err(Drop::Ike),
        };
        let entry = match &self.cached {
            Some((k, e)) if *k == key => e,
            _ => {
                let e = self
                    .dp
                    .sad
                    .lookup_inbound_tagged(&key)
                    .ok_or(Drop::BadSpi)?;
                &self.cached.insert((key, e)).1
            }
        };
        let received = {
            let mut sa = entry.sa.lock().unwrap_or_else(|p| p.into_inner());
            sa.open(packet, entry.tag.transport).map_err(esp_err)?
        };
        match received {
            Received::Packet { range, .. } => {
                let t = five_tuple(&packet[range.clone()]).ok_or(Drop::Malformed)?;
                // The peer may only send what the SA was agreed for (RFC 4301 §5.2).
                if !entry.tag.selector.matches_inbound(&t) {
                    return Err(Drop::Selector);
                }
                Ok(range)
            }
            Received::Dummy => Err(Drop::Dummy),
            Received::Keepalive => Err(Drop::Keepalive),
        }
    }
}

impl core::ops::Drop for InboundBatch<'_> {
    fn drop(&mut self) {
        self.dp.stats.add_opened(self.opened, self.bytes);
    }
}
