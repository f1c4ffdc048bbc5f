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
use std::sync::Arc;

use arc_swap::ArcSwap;
use esp::ah::{AhInbound, AhOutbound};
use esp::framing::{self, Outer, Received};
use esp::replay::{DEFAULT_SIZE, ReplayWindow};
use esp::sad::{InboundKey, OutboundId, OutboundSa, Sad};
use esp::{EspError, Inbound, Outbound, Transform};
use wire::{ip, ipv4, ipv6, udp};

use crate::manual::{ManualSa, Suite};
use crate::packet::five_tuple;
use crate::selector::Selector;
use stats::{Drop, Stats};

/// What the data plane keeps beside each inbound SA.
#[derive(Debug, Clone)]
pub struct InboundTag {
    pub name: Arc<str>,
    pub transport: bool,
    pub selector: Arc<Selector>,
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
}

impl Default for Dataplane {
    fn default() -> Self {
        Self {
            sad: Sad::tagged(),
            routes: ArcSwap::default(),
            stats: Stats::default(),
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
            selector: Arc::new(m.selector.clone()),
        };
        let window = || ReplayWindow::new(DEFAULT_SIZE, false);
        match m.suite {
            Suite::Esp(s) => {
                let split = s.encryption.keymat_len;
                let keyed = |k: &[u8]| {
                    let (e, i) = k.split_at(split);
                    Transform::new(s.encryption, e, s.integrity.map(|a| (a, i)))
                };
                let tx = Outbound::new(m.out_spi, false, keyed(&m.out_key)?);
                let rx = Inbound::new(m.in_spi, window()?, keyed(&m.in_key)?);
                self.sad.install_inbound_tagged(m.local, rx, tag);
                self.sad.install_outbound(id, tx);
            }
            Suite::Ah(a) => {
                let tx = AhOutbound::new(m.out_spi, false, a, &m.out_key)?;
                let rx = AhInbound::new(m.in_spi, window()?, a, &m.in_key)?;
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
        let mut next = Vec::clone(&self.routes.load());
        next.retain(|r| r.name != route.name);
        next.push(route);
        // Most specific first: longer remote, then longer local prefixes.
        next.sort_by_key(|r| {
            std::cmp::Reverse((
                r.selector.remote.prefix_len(),
                r.selector.local.prefix_len(),
            ))
        });
        self.routes.store(Arc::new(next));
        Ok(())
    }

    /// Seals one cleartext packet read from the TUN device into `out`. Returns the length
    /// of the packet to send and where to send it.
    pub fn outbound(&self, packet: &[u8], out: &mut [u8]) -> Result<(usize, IpAddr), Drop> {
        let r = self.outbound_inner(packet, out);
        self.stats.outbound(&r);
        r
    }

    fn outbound_inner(&self, packet: &[u8], out: &mut [u8]) -> Result<(usize, IpAddr), Drop> {
        let t = five_tuple(packet).ok_or(Drop::Malformed)?;
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
            Located::Ike => return Err(Drop::Ike),
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
