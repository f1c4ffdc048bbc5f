//! The data plane ("IPsec driver"): cleartext from the TUN device is matched to an outbound
//! SA and sealed; ESP/AH from the network is opened, checked against its SA's traffic
//! selector and written to the TUN device. [`Dataplane::outbound`] and
//! [`Dataplane::inbound`] do the per-packet work on caller buffers without any I/O, so
//! tests drive them directly; [`io`] runs them on a device and sockets.

pub mod batch;
pub mod gro;
pub mod io;
pub mod stats;

use std::net::IpAddr;
use std::ops::Range;
use std::sync::{Arc, OnceLock};

use arc_swap::ArcSwap;
use esp::ah::{AhInbound, AhOutbound};
use esp::framing::{self, Outer, Received};
use esp::lifetime::Lifetime;
use esp::replay::{DEFAULT_SIZE, ReplayWindow};
use esp::sad::{InboundKey, OutboundId, OutboundSa, Sad};
use esp::{Accounted, EspError, Inbound, Mode, Outbound, Transform};
use wire::{ip, ipv4, ipv6, udp};

use crate::manual::{ManualSa, Suite};
use crate::packet::{FiveTuple, five_tuple};
use crate::selector::Selector;
use stats::{Drop, Stats};

/// What the data plane keeps beside each inbound SA.
#[derive(Debug, Clone)]
pub struct InboundTag {
    pub name: Arc<str>,
    pub transport: bool,
    /// The traffic the SA may carry (a negotiated child SA can have several selectors).
    pub selectors: Arc<[Selector]>,
}

/// What policy says about a cleartext packet read from the TUN device, before any SA is
/// looked up (see [`PolicyHook`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Negotiate: seal with the SA that covers the packet; with none,
    /// [`PolicyHook::no_sa`] decides (queue and acquire, or drop). Never clear.
    Protect,
    /// No filter matched: an SA covering the packet still protects it (one a peer
    /// negotiated with the default response rule); without one it leaves in the clear.
    ProtectIfSa,
    /// Permit (or fallback to clear): re-sent unchanged with the bypass mark.
    Clear,
    /// Block.
    Drop(Drop),
}

/// Policy beside the SAs, installed when the daemon negotiates with IKE (manual keying
/// runs without one: packets without an SA are dropped). Called on the data plane's
/// threads, so implementations must not block.
pub trait PolicyHook: Send + Sync {
    /// Classifies a cleartext packet from the TUN device.
    fn outbound(&self, packet: &[u8], t: &FiveTuple) -> Verdict;
    /// A packet policy wants protected has no SA yet: queue it and ask IKE (an acquire),
    /// or drop it. Returns the reason it is not sent now.
    fn no_sa(&self, packet: &[u8], t: &FiveTuple) -> Drop;
    /// An IKE message arrived on the ESP-in-UDP port (the whole IP packet, UDP header
    /// included, non-ESP marker in front of the IKE header).
    fn ike(&self, packet: &[u8]);
}

/// How outbound traffic under a selector is protected.
#[derive(Debug, Clone)]
pub struct OutboundRoute {
    pub name: Arc<str>,
    pub selector: Selector,
    pub sa: OutboundId,
    pub transport: bool,
    /// Tunnel endpoints (transport mode keeps the packet's own addresses).
    pub local: IpAddr,
    pub remote: IpAddr,
    pub encap: Option<(u16, u16)>,
}

/// Largest packet handled (a full IPv4 datagram).
pub const MAX_PACKET: usize = 65535;

pub struct Dataplane {
    pub sad: Sad<InboundTag>,
    routes: ArcSwap<Vec<OutboundRoute>>,
    pub stats: Stats,
    policy: OnceLock<Arc<dyn PolicyHook>>,
}

impl Default for Dataplane {
    fn default() -> Self {
        Self {
            sad: Sad::tagged(),
            routes: ArcSwap::default(),
            stats: Stats::default(),
            policy: OnceLock::new(),
        }
    }
}

fn esp_err(e: EspError) -> Drop {
    Drop::Esp(e)
}

impl Dataplane {
    pub fn new() -> Self {
        Self::default()
    }

    /// The outbound routes, most specific first as installed.
    pub fn routes(&self) -> Arc<Vec<OutboundRoute>> {
        self.routes.load_full()
    }

    /// Installs both directions of a manually keyed SA and its outbound route.
    pub fn install_manual(&self, m: &ManualSa, id: OutboundId) -> Result<(), EspError> {
        let tag = InboundTag {
            name: m.name.as_str().into(),
            transport: m.transport,
            selectors: Arc::from([m.selector.clone()]),
        };
        let window = || ReplayWindow::new(DEFAULT_SIZE, false);
        // The mode decides which byte counters (transport/tunnel) the SA feeds.
        let mode = if m.transport {
            Mode::Transport
        } else {
            Mode::Tunnel
        };
        let life = Lifetime::unlimited;
        match m.suite {
            Suite::Esp(s) => {
                let split = s.encryption.keymat_len;
                let keyed = |k: &[u8]| {
                    let (e, i) = k.split_at(split);
                    Transform::new(s.encryption, e, s.integrity.map(|a| (a, i)))
                };
                let tx = Outbound::new(m.out_spi, false, keyed(&m.out_key)?).with(mode, life());
                let rx = Inbound::new(m.in_spi, window()?, keyed(&m.in_key)?).with(mode, life());
                self.sad.install_inbound_tagged(m.local, rx, tag);
                self.sad.install_outbound(id, tx);
            }
            Suite::Ah(a) => {
                let tx = AhOutbound::new(m.out_spi, false, a, &m.out_key)?.with(mode, life());
                let rx = AhInbound::new(m.in_spi, window()?, a, &m.in_key)?.with(mode, life());
                self.sad.install_inbound_tagged(m.local, rx, tag);
                self.sad.install_outbound(id, tx);
            }
        }
        let route = OutboundRoute {
            name: m.name.as_str().into(),
            selector: m.selector.clone(),
            sa: id,
            transport: m.transport,
            local: m.local,
            remote: m.remote,
            encap: m.encap,
        };
        self.update_routes(|next| {
            next.retain(|r| r.name != route.name);
            next.push(route);
        });
        Ok(())
    }

    /// Installs the policy hook (once; IKE mode). Returns false if one was already set.
    pub fn set_policy(&self, policy: Arc<dyn PolicyHook>) -> bool {
        self.policy.set(policy).is_ok()
    }

    /// Changes the outbound routes in one step (readers see the old list or the new one,
    /// never a mix), then orders them most specific first: longer remote, then longer
    /// local prefixes, then exact protocols; equal ones keep their order.
    pub fn update_routes(&self, f: impl FnOnce(&mut Vec<OutboundRoute>)) {
        let mut next = Vec::clone(&self.routes.load());
        f(&mut next);
        next.sort_by_key(|r| {
            std::cmp::Reverse((
                r.selector.remote.prefix_len(),
                r.selector.local.prefix_len(),
                r.selector.protocol.is_some(),
            ))
        });
        self.routes.store(Arc::new(next));
    }

    /// Seals one cleartext packet read from the TUN device into `out`. Returns the length
    /// of the packet to send and where to send it.
    /// With a [`PolicyHook`], policy decides first: permitted packets are copied to `out`
    /// unchanged (sent in the clear with the bypass mark), blocked ones dropped, and
    /// packets to protect without an SA handed to [`PolicyHook::no_sa`].
    pub fn outbound(&self, packet: &[u8], out: &mut [u8]) -> Result<(usize, IpAddr), Drop> {
        let r = self.outbound_inner(packet, out);
        self.stats.outbound(&r);
        r.map(|(n, dst, _)| (n, dst))
    }

    /// Seals a packet with the SA that covers it, without consulting policy (packets IKE
    /// queued while it negotiated that SA).
    pub fn outbound_protect(&self, packet: &[u8], out: &mut [u8]) -> Result<(usize, IpAddr), Drop> {
        let r = five_tuple(packet)
            .ok_or(Drop::Malformed)
            .and_then(|t| self.seal(packet, &t, out))
            .map(|(n, dst)| (n, dst, false));
        self.stats.outbound(&r);
        r.map(|(n, dst, _)| (n, dst))
    }

    /// Returns the length, the destination and whether the packet goes out in the clear.
    fn outbound_inner(&self, packet: &[u8], out: &mut [u8]) -> Result<(usize, IpAddr, bool), Drop> {
        let t = five_tuple(packet).ok_or(Drop::Malformed)?;
        if is_neighbour_discovery(&t) {
            return self.bypass_nd(packet, &t, out);
        }
        let verdict = self.policy.get().map(|p| p.outbound(packet, &t));
        self.outbound_decided(packet, &t, verdict, out)
    }

    /// IPv6 neighbour discovery stays outside IPsec (RFC 4301 §4.4.1's ND bypass): without
    /// it no peer address resolves, so no ESP could be sent at all.
    fn bypass_nd(
        &self,
        packet: &[u8],
        t: &FiveTuple,
        out: &mut [u8],
    ) -> Result<(usize, IpAddr, bool), Drop> {
        let n = packet.len();
        out.get_mut(..n)
            .ok_or(Drop::Malformed)?
            .copy_from_slice(packet);
        Ok((n, t.dst, true))
    }

    /// The rest of [`Dataplane::outbound`] once the packet parsed, is not neighbour
    /// discovery and policy gave its verdict (`None`: no policy hook). Not counted.
    fn outbound_decided(
        &self,
        packet: &[u8],
        t: &FiveTuple,
        verdict: Option<Verdict>,
        out: &mut [u8],
    ) -> Result<(usize, IpAddr, bool), Drop> {
        let sealed = |(n, dst)| (n, dst, false);
        let (Some(policy), Some(verdict)) = (self.policy.get(), verdict) else {
            return self.seal(packet, t, out).map(sealed);
        };
        let clear = |out: &mut [u8]| {
            let dst = out.get_mut(..packet.len()).ok_or(Drop::Malformed)?;
            dst.copy_from_slice(packet);
            Ok((packet.len(), t.dst, true))
        };
        match verdict {
            Verdict::Protect => match self.seal(packet, t, out) {
                Err(Drop::NoPolicy | Drop::NoSa) => Err(policy.no_sa(packet, t)),
                r => r.map(sealed),
            },
            Verdict::ProtectIfSa => match self.seal(packet, t, out) {
                Err(Drop::NoPolicy | Drop::NoSa) => clear(out),
                r => r.map(sealed),
            },
            Verdict::Clear => clear(out),
            Verdict::Drop(d) => Err(d),
        }
    }

    /// Seals with the first outbound route whose selector covers the packet.
    fn seal(&self, packet: &[u8], t: &FiveTuple, out: &mut [u8]) -> Result<(usize, IpAddr), Drop> {
        let t = *t;
        let routes = self.routes.load();
        // Fail closed: traffic routed to us with no SA for it is dropped, never sent clear.
        let route = routes
            .iter()
            .find(|r| r.selector.matches_outbound(&t))
            .ok_or(Drop::NoPolicy)?;
        let sa = self.sad.lookup_outbound(route.sa).ok_or(Drop::NoSa)?;
        let mut sa = sa.lock().unwrap_or_else(|p| p.into_inner());
        let outer = match (route.local, route.remote) {
            (IpAddr::V4(l), IpAddr::V4(r)) => Outer::V4(l, r),
            (IpAddr::V6(l), IpAddr::V6(r)) => Outer::V6(l, r),
            _ => return Err(Drop::Malformed),
        };
        let n = match &mut *sa {
            OutboundSa::Esp(sa) if route.transport => {
                framing::seal_transport(sa, packet, route.encap, out).map_err(esp_err)?
            }
            OutboundSa::Esp(sa) => {
                framing::seal_tunnel(sa, packet, outer, route.encap, out).map_err(esp_err)?
            }
            OutboundSa::Ah(sa) if route.transport => {
                sa.seal_transport(packet, out).map_err(esp_err)?
            }
            OutboundSa::Ah(sa) => sa.seal_tunnel(packet, outer, out).map_err(esp_err)?,
        };
        let dst = if route.transport { t.dst } else { route.remote };
        Ok((n, dst))
    }

    /// Opens one ESP/AH packet (a whole IP packet, UDP-encapsulated or not) in place and
    /// returns the range of the packet to deliver through the TUN device.
    pub fn inbound(&self, packet: &mut [u8]) -> Result<Range<usize>, Drop> {
        let r = self.inbound_inner(packet);
        self.stats.inbound(&r);
        r
    }

    fn inbound_inner(&self, packet: &mut [u8]) -> Result<Range<usize>, Drop> {
        let key = inbound_key(packet).ok_or(Drop::Malformed)?;
        let key = match key {
            Located::Sa(k) => k,
            Located::Keepalive => return Err(Drop::Keepalive),
            Located::Ike => {
                if let Some(p) = self.policy.get() {
                    p.ike(packet);
                }
                return Err(Drop::Ike);
            }
        };
        let entry = self.sad.lookup_inbound_tagged(&key).ok_or(Drop::BadSpi)?;
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

/// ICMPv6 router/neighbour solicitation and advertisement, redirect (types 133-137).
fn is_neighbour_discovery(t: &crate::packet::FiveTuple) -> bool {
    t.protocol == ip::ICMPV6 && (133..=137).contains(&t.src_port) && !t.opaque_ports
}

enum Located {
    Sa(InboundKey),
    Keepalive,
    Ike,
}

/// The SA a received packet names: (SPI, protocol, destination).
fn inbound_key(packet: &[u8]) -> Option<Located> {
    let (dst, proto, body): (IpAddr, u8, &[u8]) = match ip::version(packet).ok()? {
        ip::IpVersion::V4 => {
            let p = ipv4::Packet::new_checked(packet).ok()?;
            let body = packet.get(p.header_len()..p.total_len())?;
            (p.dst().into(), p.protocol(), body)
        }
        ip::IpVersion::V6 => {
            let p = ipv6::Packet::new_checked(packet).ok()?;
            let w = p.walk().ok()?;
            let body = packet.get(ipv6::HEADER_LEN + w.offset..p.total_len())?;
            (p.dst().into(), w.protocol, body)
        }
    };
    let spi_at = |b: &[u8], at: usize| -> Option<u32> {
        let s = b.get(at..at + 4)?;
        Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    };
    let (spi, protocol) = match proto {
        ip::ESP => (spi_at(body, 0)?, ip::ESP),
        ip::AH => (spi_at(body, 4)?, ip::AH),
        ip::UDP => {
            let u = udp::Packet::new_checked(body).ok()?;
            match wire::natt::classify(u.payload()).ok()? {
                wire::natt::Encapsulated::Keepalive => return Some(Located::Keepalive),
                wire::natt::Encapsulated::Ike(_) => return Some(Located::Ike),
                wire::natt::Encapsulated::Esp(_) => (spi_at(u.payload(), 0)?, ip::ESP),
            }
        }
        _ => return None,
    };
    Some(Located::Sa(InboundKey { spi, protocol, dst }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manual::ManualConfig;

    fn config(mode: &str, ts: &str) -> ManualConfig {
        let text = format!(
            "[[sa]]\nname = \"t\"\nmode = \"{mode}\"\nlocal = \"10.9.0.1\"\nremote = \"10.9.0.2\"\n{ts}\
             proposal = \"aes128gcm16\"\nout_spi = 0x1001\nin_spi = 0x2002\n\
             out_key = \"{k}\"\nin_key = \"{k}\"\n",
            k = "11".repeat(20)
        );
        ManualConfig::parse(&text, "t").unwrap()
    }

    fn udp(src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
        let mut p = vec![0u8; 28 + 10];
        ipv4::Repr {
            src: src.into(),
            dst: dst.into(),
            protocol: ip::UDP,
            payload_len: 18,
            ttl: 64,
            dscp_ecn: 0,
            ident: 1,
            dont_frag: false,
        }
        .emit(&mut p)
        .unwrap();
        udp::Repr {
            src_port: 1000,
            dst_port: 2000,
            payload_len: 10,
        }
        .emit(&mut p[20..])
        .unwrap();
        p
    }

    #[test]
    fn manual_sas_feed_the_byte_counters_of_their_mode() {
        for (mode, ts, pkt, tunnel) in [
            ("transport", "", udp([10, 9, 0, 1], [10, 9, 0, 2]), false),
            (
                "tunnel",
                "local_ts = \"10.8.1.0/24\"\nremote_ts = \"10.8.2.0/24\"\n",
                udp([10, 8, 1, 5], [10, 8, 2, 5]),
                true,
            ),
        ] {
            let dp = Dataplane::new();
            dp.install_manual(&config(mode, ts).sas[0], 1).unwrap();
            let mut out = vec![0u8; 512];
            let (_, dst) = dp.outbound(&pkt, &mut out).unwrap();
            assert_eq!(dst, IpAddr::from([10, 9, 0, 2]));
            let t = dp.sad.totals();
            assert_eq!(
                (t.tunnel_bytes > 0, t.transport_bytes > 0),
                (tunnel, !tunnel),
                "{mode}"
            );
            // Traffic outside the selectors never leaves in the clear.
            assert_eq!(
                dp.outbound(&udp([10, 7, 0, 1], [10, 7, 0, 2]), &mut out),
                Err(Drop::NoPolicy)
            );
        }
    }
}
