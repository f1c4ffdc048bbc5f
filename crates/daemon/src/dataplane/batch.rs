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
use super::{
    Dataplane, InboundTag, Located, OutboundRoute, Verdict, esp_err, inbound_key,
    is_neighbour_discovery,
};
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
        let policy = self.policy.get();
        let n = bufs.len().min(sizes.len());
        let (mut sealed, mut bytes) = (0u64, 0u64);
        let route_of = |t: &FiveTuple| routes.iter().position(|r| r.selector.matches_outbound(t));
        // Policy is asked once per packet (its verdicts have side effects: counters, the
        // fallback to clear), before the packet joins a run or leaves the fast path.
        let classify = |packet: &[u8]| -> Step {
            match five_tuple(packet) {
                Some(t) if !is_neighbour_discovery(&t) => {
                    Step::Decided(t, policy.map(|p| p.outbound(packet, &t)))
                }
                // Unparsable or neighbour discovery: the single-packet call decides.
                _ => Step::Single,
            }
        };
        let mut pending: Option<Step> = None;
        let mut i = 0;
        while i < n && !out.is_full() {
            let packet = packet_at(bufs, sizes, offset, i);
            let (mut t, verdict) = match pending.take().unwrap_or_else(|| classify(packet)) {
                Step::Decided(t, v) => (t, v),
                Step::Single => {
                    let slot = out.next_slot();
                    if let Ok((len, dst)) = self.outbound(packet, slot) {
                        out.push(len, dst, None);
                    }
                    i += 1;
                    continue;
                }
            };
            // The fast path seals only what policy wants protected and an installed SA
            // covers; everything else (clear, drop, no SA: queue and acquire) goes through
            // the single-packet code with the verdict already given.
            let found = if sealable(&verdict) {
                route_of(&t).and_then(|r| self.sad.lookup_outbound(routes[r].sa).map(|sa| (r, sa)))
            } else {
                None
            };
            let Some((r, sa)) = found else {
                let slot = out.next_slot();
                let res = self.outbound_decided(packet, &t, verdict, slot);
                self.stats.outbound(&res);
                if let Ok((len, dst, _)) = res {
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
                match classify(next) {
                    Step::Decided(nt, v) if sealable(&v) && route_of(&nt) == Some(r) => {
                        packet = next;
                        t = nt;
                    }
                    other => {
                        pending = Some(other);
                        break;
                    }
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

/// A packet of a batch once classified.
enum Step {
    /// Unparsable or neighbour discovery: [`Dataplane::outbound`] does it all.
    Single,
    /// Its five-tuple and policy's verdict (`None`: no policy hook).
    Decided(FiveTuple, Option<Verdict>),
}

/// Whether a verdict lets an installed SA seal the packet (no policy hook: always).
fn sealable(v: &Option<Verdict>) -> bool {
    matches!(v, None | Some(Verdict::Protect | Verdict::ProtectIfSa))
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
            Located::Ike => {
                if let Some(p) = self.dp.policy.get() {
                    p.ike(packet);
                }
                return Err(Drop::Ike);
            }
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
                if !entry.tag.selectors.iter().any(|s| s.matches_inbound(&t)) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manual::ManualConfig;
    use std::net::Ipv4Addr;
    use std::sync::Arc;

    const A: Ipv4Addr = Ipv4Addr::new(10, 90, 0, 1);
    const B: Ipv4Addr = Ipv4Addr::new(10, 90, 0, 2);

    /// One side of an AES-128-GCM SA pair between A and B (keys fixed, so two data planes
    /// built from the same text seal the same bytes).
    fn side(local: Ipv4Addr, remote: Ipv4Addr, mode: &str, encap: bool) -> Dataplane {
        let (out_spi, in_spi, out_key, in_key) = if local == A {
            (0x1001, 0x2002, "11", "22")
        } else {
            (0x2002, 0x1001, "22", "11")
        };
        let ts = if mode == "tunnel" {
            "local_ts = \"10.91.0.0/16\"\nremote_ts = \"10.92.0.0/16\"\n"
        } else {
            ""
        };
        let ts = if local == B {
            ts.replace("10.91", "10.9X")
                .replace("10.92", "10.91")
                .replace("10.9X", "10.92")
        } else {
            ts.to_owned()
        };
        let text = format!(
            "[[sa]]\nname = \"t\"\nmode = \"{mode}\"\nlocal = \"{local}\"\nremote = \"{remote}\"\n{ts}\
             proposal = \"aes128gcm16\"\nencap = {encap}\nout_spi = {out_spi}\nin_spi = {in_spi}\n\
             out_key = \"{}\"\nin_key = \"{}\"\n",
            out_key.repeat(20),
            in_key.repeat(20)
        );
        let cfg = ManualConfig::parse(&text, "test").unwrap();
        let dp = Dataplane::new();
        dp.install_manual(&cfg.sas[0], 1).unwrap();
        dp
    }

    /// An IPv4/UDP packet with `len` bytes of payload.
    fn udp_packet(src: Ipv4Addr, dst: Ipv4Addr, port: u16, len: usize) -> Vec<u8> {
        let mut p = vec![0u8; 28 + len];
        ipv4::Repr {
            src,
            dst,
            protocol: ip::UDP,
            payload_len: 8 + len,
            ttl: 64,
            dscp_ecn: 0,
            ident: 7,
            dont_frag: true,
        }
        .emit(&mut p[..20])
        .unwrap();
        udp::Repr {
            src_port: 1000,
            dst_port: port,
            payload_len: len,
        }
        .emit(&mut p[20..])
        .unwrap();
        for (i, b) in p[28..].iter_mut().enumerate() {
            *b = i as u8;
        }
        p
    }

    /// Packets laid out as recv_multiple leaves them (offset 4), with a few that must be
    /// dropped in between: no policy covers them, or they do not parse.
    fn batch(src: Ipv4Addr, dst: Ipv4Addr) -> (Vec<Vec<u8>>, Vec<usize>) {
        let mut pkts = Vec::new();
        for i in 0..40 {
            pkts.push(udp_packet(src, dst, 5000 + (i % 3), 1300 + i as usize));
        }
        pkts.insert(5, udp_packet(src, Ipv4Addr::new(10, 99, 9, 9), 1, 100));
        pkts.insert(9, vec![0x45, 0, 0]);
        pkts.push(udp_packet(src, Ipv4Addr::new(10, 99, 9, 9), 1, 10));
        let sizes = pkts.iter().map(Vec::len).collect();
        let bufs = pkts
            .into_iter()
            .map(|p| {
                let mut b = vec![0xee; 4];
                b.extend_from_slice(&p);
                b.extend_from_slice(&[0xee; 9]);
                b
            })
            .collect();
        (bufs, sizes)
    }

    fn same_as_single(mode: &str, encap: bool, src: Ipv4Addr, dst: Ipv4Addr) {
        let (single, batched) = (side(A, B, mode, encap), side(A, B, mode, encap));
        let (bufs, sizes) = batch(src, dst);
        let mut want = Vec::new();
        let mut out = vec![0u8; 4096];
        for (b, &n) in bufs.iter().zip(&sizes) {
            if let Ok((len, to)) = single.outbound(&b[4..4 + n], &mut out) {
                want.push((out[..len].to_vec(), to));
            }
        }
        let mut sealed = SealedBatch::new(64, 2048);
        batched.outbound_batch(&bufs, &sizes, 4, &mut sealed);
        let got: Vec<_> = (0..sealed.len())
            .map(|i| (sealed.packet(i).to_vec(), sealed.items()[i].dst))
            .collect();
        assert_eq!(got.len(), 40);
        assert!(
            got == want,
            "batch and single seal differ ({mode}, encap {encap})"
        );
        assert_eq!(single.stats.snapshot(), batched.stats.snapshot());
        let snap = batched.stats.snapshot();
        assert_eq!((snap.sealed, snap.no_policy, snap.malformed), (40, 2, 1));
        for (i, s) in sealed.items().iter().enumerate() {
            match s.udp {
                Some(u) => {
                    assert!(encap);
                    assert_eq!((u.local, u.src_port, u.dst_port), (A.into(), 4500, 4500));
                    assert_eq!(u.esp_at, 28);
                    let spi = &sealed.packet(i)[u.esp_at..u.esp_at + 4];
                    assert_eq!(spi, 0x1001u32.to_be_bytes());
                }
                None => assert!(!encap),
            }
        }

        // The peer opens them the same way one by one and in a batch; a replay fails in both.
        let (single, batched) = (side(B, A, mode, encap), side(B, A, mode, encap));
        let mut opener = batched.inbound_batch();
        for (packet, _) in want.iter().chain(want.iter().take(1)) {
            let (mut p1, mut p2) = (packet.clone(), packet.clone());
            let r1 = single.inbound(&mut p1);
            let r2 = opener.open(&mut p2);
            assert_eq!(r1, r2);
            if let Ok(r) = r1 {
                assert_eq!(p1[r.clone()], p2[r]);
            }
        }
        let mut junk = vec![0x45, 0, 0, 20];
        assert_eq!(opener.open(&mut junk), single.inbound(&mut junk.clone()));
        drop(opener);
        assert_eq!(single.stats.snapshot(), batched.stats.snapshot());
        let snap = batched.stats.snapshot();
        assert_eq!((snap.opened, snap.esp_errors, snap.malformed), (40, 1, 1));
    }

    #[test]
    fn batch_seals_and_opens_what_single_calls_do() {
        same_as_single("transport", false, A, B);
        same_as_single("transport", true, A, B);
        let (inner_a, inner_b) = (Ipv4Addr::new(10, 91, 0, 5), Ipv4Addr::new(10, 92, 0, 7));
        same_as_single("tunnel", false, inner_a, inner_b);
        same_as_single("tunnel", true, inner_a, inner_b);
    }

    #[test]
    fn a_full_batch_stops_and_bad_layouts_are_dropped() {
        let dp = side(A, B, "transport", false);
        let (bufs, sizes) = batch(A, B);
        let mut sealed = SealedBatch::new(3, 2048);
        dp.outbound_batch(&bufs, &sizes, 4, &mut sealed);
        assert_eq!(sealed.len(), 3);
        assert!(sealed.is_full());
        assert_eq!(sealed.packet(3), &[] as &[u8]);
        // Sizes beyond the buffer, an offset beyond it: malformed, never a panic.
        let mut sealed = SealedBatch::new(8, 2048);
        dp.outbound_batch(&bufs[..2], &[usize::MAX, 99_999], 4, &mut sealed);
        dp.outbound_batch(&bufs[..2], &sizes[..2], 1 << 20, &mut sealed);
        assert!(sealed.is_empty());
        assert_eq!(dp.stats.snapshot().malformed, 4);
    }

    /// A policy hook that decides by destination port and counts its calls.
    #[derive(Default)]
    struct PortPolicy {
        outbound: std::sync::atomic::AtomicUsize,
        no_sa: std::sync::atomic::AtomicUsize,
        ike: std::sync::atomic::AtomicUsize,
    }

    impl super::super::PolicyHook for PortPolicy {
        fn outbound(&self, _packet: &[u8], t: &FiveTuple) -> Verdict {
            use std::sync::atomic::Ordering::Relaxed;
            self.outbound.fetch_add(1, Relaxed);
            match t.dst_port % 5 {
                0 | 4 => Verdict::Protect,
                1 => Verdict::ProtectIfSa,
                2 => Verdict::Clear,
                _ => Verdict::Drop(Drop::Blocked),
            }
        }
        fn no_sa(&self, _packet: &[u8], _t: &FiveTuple) -> Drop {
            self.no_sa
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Drop::Queued
        }
        fn ike(&self, _packet: &[u8]) {
            self.ike.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// An IPv6 neighbour solicitation (ICMPv6 type 135).
    fn neighbour_solicitation() -> Vec<u8> {
        let mut p = vec![0u8; 40 + 24];
        ipv6::Repr {
            src: "fe80::1".parse().unwrap(),
            dst: "ff02::1:ff00:2".parse().unwrap(),
            next_header: ip::ICMPV6,
            payload_len: 24,
            hop_limit: 255,
            traffic_class: 0,
            flow_label: 0,
        }
        .emit(&mut p[..40])
        .unwrap();
        p[40] = 135;
        p
    }

    #[test]
    fn batch_keeps_the_policy_verdicts_and_neighbour_discovery() {
        let c = Ipv4Addr::new(10, 99, 9, 9);
        let mut pkts = Vec::new();
        for i in 0..30u16 {
            // Runs of equal verdicts and single ones, to B (an SA) and to C (none).
            let port = 5000 + if i < 10 { 0 } else { i % 5 };
            let dst = if i % 7 == 3 { c } else { B };
            pkts.push(udp_packet(A, dst, port, 200 + usize::from(i)));
        }
        pkts.insert(4, neighbour_solicitation());
        pkts.insert(12, vec![0x45, 0, 0]);
        let sizes: Vec<usize> = pkts.iter().map(Vec::len).collect();
        let run = |batched: bool| {
            let dp = side(A, B, "transport", true);
            let hook = Arc::new(PortPolicy::default());
            assert!(dp.set_policy(hook.clone()));
            let mut got = Vec::new();
            if batched {
                let mut sealed = SealedBatch::new(64, 2048);
                dp.outbound_batch(&pkts, &sizes, 0, &mut sealed);
                for i in 0..sealed.len() {
                    got.push((sealed.packet(i).to_vec(), sealed.items()[i].dst));
                }
            } else {
                let mut out = vec![0u8; 2048];
                for p in &pkts {
                    if let Ok((n, dst)) = dp.outbound(p, &mut out) {
                        got.push((out[..n].to_vec(), dst));
                    }
                }
            }
            use std::sync::atomic::Ordering::Relaxed;
            let calls = (
                hook.outbound.load(Relaxed),
                hook.no_sa.load(Relaxed),
                hook.ike.load(Relaxed),
            );
            (got, dp.stats.snapshot(), calls)
        };
        let (want, want_stats, want_calls) = run(false);
        let (got, got_stats, got_calls) = run(true);
        assert!(got == want, "batch and single outbound differ under policy");
        assert_eq!(got_stats, want_stats);
        assert_eq!(got_calls, want_calls);
        // Every verdict and the ND bypass happened.
        assert!(want_stats.sealed > 0 && want_stats.bypassed > 1);
        assert!(want_stats.blocked > 0 && want_stats.queued > 0);
        assert_eq!(
            want_calls.0, 30,
            "policy asked once per parsed, non-ND packet"
        );
        // Nothing policy protects left in the clear: every clear packet is the ND one or
        // one policy permitted (Clear, or ProtectIfSa without an SA).
        for (p, _) in &want {
            if let Some(t) = five_tuple(p).filter(|t| t.protocol == ip::UDP && t.dst_port != 4500) {
                assert!(
                    matches!(t.dst_port % 5, 1 | 2),
                    "port {} in the clear",
                    t.dst_port
                );
            }
        }
    }

    #[test]
    fn batch_opener_hands_ike_on_4500_to_policy() {
        let mut ike = udp_packet(B, A, 4500, 36);
        ike[28..32].copy_from_slice(&[0, 0, 0, 0]);
        ike[20..22].copy_from_slice(&4500u16.to_be_bytes());
        for batched in [false, true] {
            let dp = side(A, B, "transport", true);
            let hook = Arc::new(PortPolicy::default());
            assert!(dp.set_policy(hook.clone()));
            let mut p = ike.clone();
            let r = if batched {
                dp.inbound_batch().open(&mut p)
            } else {
                dp.inbound(&mut p)
            };
            assert_eq!(r, Err(Drop::Ike));
            assert_eq!(hook.ike.load(std::sync::atomic::Ordering::Relaxed), 1);
            assert_eq!(dp.stats.snapshot().ike, 1);
        }
    }
}
