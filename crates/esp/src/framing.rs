//! Whole IP packets in and out of ESP (RFC 4303 §3.1): tunnel mode wraps the inner packet
//! in a new outer header, transport mode inserts ESP after the IP header (IPv4) or its
//! extension headers (IPv6) and restores it on the way in. Either may ride in UDP (RFC 3948):
//! the outer protocol is then UDP with a zero checksum over IPv4 (§2.1) and, in transport
//! mode, the inner TCP/UDP checksum is recomputed for the addresses the packet now carries
//! (§3.1.2, the "recompute" option, so no NAT-OA is needed).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use wire::{checksum, ip, ipv4, ipv6, natt, udp};

use crate::error::EspError;
use crate::sa::{Accounted, Inbound, Opened, Outbound};

/// Outer addresses of a tunnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outer {
    V4(Ipv4Addr, Ipv4Addr),
    V6(Ipv6Addr, Ipv6Addr),
}

/// UDP encapsulation ports (source, destination), usually 4500/4500 or a NAT's mapping.
pub type Encap = Option<(u16, u16)>;

const TTL: u8 = 64;

fn small(need: usize, have: usize) -> EspError {
    EspError::BufferTooSmall { need, have }
}

fn malformed(_: wire::WireError) -> EspError {
    EspError::Truncated("ip packet")
}

/// Writes an outer header (and UDP header) for an ESP packet of `esp_len` bytes at the
/// start of `out`; returns the header length.
fn outer_header(
    outer: Outer,
    encap: Encap,
    esp_len: usize,
    out: &mut [u8],
) -> Result<usize, EspError> {
    let udp_len = if encap.is_some() { udp::HEADER_LEN } else { 0 };
    let proto = if encap.is_some() { ip::UDP } else { ip::ESP };
    let ip_len = match outer {
        Outer::V4(src, dst) => {
            ipv4::Repr {
                src,
                dst,
                protocol: proto,
                payload_len: udp_len + esp_len,
                ttl: TTL,
                dscp_ecn: 0,
                ident: 0,
                dont_frag: false,
            }
            .emit(out)
            .map_err(|_| small(20 + udp_len + esp_len, out.len()))?;
            ipv4::MIN_HEADER_LEN
        }
        Outer::V6(src, dst) => {
            ipv6::Repr {
                src,
                dst,
                next_header: proto,
                payload_len: udp_len + esp_len,
                hop_limit: TTL,
                traffic_class: 0,
                flow_label: 0,
            }
            .emit(out)
            .map_err(|_| small(40 + udp_len + esp_len, out.len()))?;
            ipv6::HEADER_LEN
        }
    };
    if let Some((sport, dport)) = encap {
        udp::Repr {
            src_port: sport,
            dst_port: dport,
            payload_len: esp_len,
        }
        .emit(&mut out[ip_len..])
        .map_err(|_| small(ip_len + 8, out.len()))?;
        // Over IPv6 a zero UDP checksum is forbidden (RFC 8200 §8.1): the caller fills it
        // once the ESP bytes are in place (`fill_v6_udp_checksum`).
    }
    Ok(ip_len + udp_len)
}

fn fill_v6_udp_checksum(
    outer: Outer,
    encap: Encap,
    out: &mut [u8],
    total: usize,
) -> Result<(), EspError> {
    if let (Outer::V6(src, dst), Some(_)) = (outer, encap) {
        let mut u =
            udp::Packet::new_checked(&mut out[ipv6::HEADER_LEN..total]).map_err(malformed)?;
        u.fill_checksum(src.into(), dst.into()).map_err(malformed)?;
    }
    Ok(())
}

/// Tunnel mode: seals the whole `inner` IP packet and writes outer header, optional UDP
/// header and ESP into `out`; returns the packet length.
pub fn seal_tunnel(
    sa: &mut Outbound,
    inner: &[u8],
    outer: Outer,
    encap: Encap,
    out: &mut [u8],
) -> Result<usize, EspError> {
    let nh = match ip::version(inner).map_err(malformed)? {
        ip::IpVersion::V4 => ip::IPV4,
        ip::IpVersion::V6 => ip::IPV6,
    };
    let esp_len = inner.len() + sa.overhead(inner.len());
    let hdr = outer_header(outer, encap, esp_len, out)?;
    let have = out.len();
    let n = sa.seal(nh, inner, out.get_mut(hdr..).ok_or(small(hdr, have))?)?;
    fill_v6_udp_checksum(outer, encap, out, hdr + n)?;
    Ok(hdr + n)
}

/// Transport mode: protects the payload of `packet`, keeping its IP header (and IPv6
/// extension headers) and addresses; returns the packet length written to `out`.
pub fn seal_transport(
    sa: &mut Outbound,
    packet: &[u8],
    encap: Encap,
    out: &mut [u8],
) -> Result<usize, EspError> {
    let outer_proto = if encap.is_some() { ip::UDP } else { ip::ESP };
    let udp_len = if encap.is_some() { udp::HEADER_LEN } else { 0 };
    match ip::version(packet).map_err(malformed)? {
        ip::IpVersion::V4 => {
            let p = ipv4::Packet::new_checked(packet).map_err(malformed)?;
            let (hl, proto) = (p.header_len(), p.protocol());
            let payload = p.payload();
            let esp_len = payload.len() + sa.overhead(payload.len());
            let total = hl + udp_len + esp_len;
            if out.len() < total {
                return Err(small(total, out.len()));
            }
            out[..hl].copy_from_slice(&packet[..hl]);
            if let Some((sport, dport)) = encap {
                udp::Repr {
                    src_port: sport,
                    dst_port: dport,
                    payload_len: esp_len,
                }
                .emit(&mut out[hl..])
                .map_err(malformed)?;
            }
            let n = sa.seal(proto, payload, &mut out[hl + udp_len..])?;
            let mut h = ipv4::Packet::new_unchecked(&mut out[..total]);
            h.set_protocol(outer_proto);
            h.set_total_len(
                u16::try_from(total).map_err(|_| EspError::Truncated("ipv4 too long"))?,
            );
            h.fill_checksum();
            Ok(hl + udp_len + n)
        }
        ip::IpVersion::V6 => {
            let p = ipv6::Packet::new_checked(packet).map_err(malformed)?;
            let w = p.walk().map_err(malformed)?;
            let hl = ipv6::HEADER_LEN + w.offset;
            let payload = &packet[hl..p.total_len()];
            let esp_len = payload.len() + sa.overhead(payload.len());
            let total = hl + udp_len + esp_len;
            if out.len() < total {
                return Err(small(total, out.len()));
            }
            out[..hl].copy_from_slice(&packet[..hl]);
            match w.next_header_at {
                Some(at) => out[ipv6::HEADER_LEN + at] = outer_proto,
                None => out[6] = outer_proto,
            }
            let plen = u16::try_from(total - ipv6::HEADER_LEN)
                .map_err(|_| EspError::Truncated("ipv6 too long"))?;
            out[4..6].copy_from_slice(&plen.to_be_bytes());
            if let Some((sport, dport)) = encap {
                udp::Repr {
                    src_port: sport,
                    dst_port: dport,
                    payload_len: esp_len,
                }
                .emit(&mut out[hl..])
                .map_err(malformed)?;
            }
            let n = sa.seal(w.protocol, payload, &mut out[hl + udp_len..])?;
            if encap.is_some() {
                let mut u = udp::Packet::new_checked(&mut out[hl..total]).map_err(malformed)?;
                u.fill_checksum(p.src().into(), p.dst().into())
                    .map_err(malformed)?;
            }
            Ok(hl + udp_len + n)
        }
    }
}

/// What an inbound packet turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// A decrypted IP packet at this range of the buffer (tunnel: the inner packet;
    /// transport: the original packet rebuilt in place).
    Packet {
        range: core::ops::Range<usize>,
        seq: u64,
    },
    /// A dummy packet (next header 59): drop silently.
    Dummy,
    /// A NAT-keepalive on the UDP port: nothing to do.
    Keepalive,
}

/// Where the ESP bytes of a received IP packet start, and whether UDP carried them.
fn locate_esp(packet: &[u8]) -> Result<(usize, usize, bool), EspError> {
    let (hl, proto, total) = match ip::version(packet).map_err(malformed)? {
        ip::IpVersion::V4 => {
            let p = ipv4::Packet::new_checked(packet).map_err(malformed)?;
            if p.is_fragment() {
                return Err(EspError::Truncated("fragmented esp"));
            }
            (p.header_len(), p.protocol(), p.total_len())
        }
        ip::IpVersion::V6 => {
            let p = ipv6::Packet::new_checked(packet).map_err(malformed)?;
            let w = p.walk().map_err(malformed)?;
            (ipv6::HEADER_LEN + w.offset, w.protocol, p.total_len())
        }
    };
    match proto {
        ip::ESP => Ok((hl, total, false)),
        ip::UDP => {
            // The UDP length, checked against the IP payload, bounds the ESP packet.
            let u = udp::Packet::new_checked(packet.get(hl..total).unwrap_or_default())
                .map_err(|_| EspError::Truncated("udp header"))?;
            Ok((hl + udp::HEADER_LEN, hl + u.len(), true))
        }
        other => Err(EspError::NotEsp(other)),
    }
}

/// Opens a received IP packet carrying ESP (raw or in UDP) with `sa`, in place.
pub fn open(sa: &mut Inbound, packet: &mut [u8], transport: bool) -> Result<Received, EspError> {
    let (esp_at, total, udp_encap) = locate_esp(packet)?;
    if udp_encap {
        let body = &packet[esp_at..total];
        match natt::classify(body).map_err(|_| EspError::Truncated("udp-encapsulated payload"))? {
            natt::Encapsulated::Keepalive => return Ok(Received::Keepalive),
            natt::Encapsulated::Ike(_) => return Err(EspError::Truncated("ike on the esp path")),
            natt::Encapsulated::Esp(_) => {}
        }
    }
    let hdr_len = if udp_encap {
        esp_at - udp::HEADER_LEN
    } else {
        esp_at
    };
    let opened: Opened = sa.open(&mut packet[esp_at..total])?;
    if opened.is_dummy() {
        return Ok(Received::Dummy);
    }
    let start = esp_at + opened.payload.start;
    let end = esp_at + opened.payload.end;
    if !transport {
        // Authenticated and decrypted, yet not deliverable: still a counted drop.
        let len = inner_len(&packet[start..end], opened.next_header)
            .map_err(|e| sa.accounting_mut().fail(e))?;
        return Ok(Received::Packet {
            range: start..start + len,
            seq: opened.seq,
        });
    }
    // Transport: move the IP header up against the payload and restore its fields.
    let new_start = start - hdr_len;
    packet.copy_within(0..hdr_len, new_start);
    let pkt = &mut packet[new_start..end];
    let len = pkt.len();
    match ip::version(pkt).map_err(malformed)? {
        ip::IpVersion::V4 => {
            let mut h = ipv4::Packet::new_unchecked(&mut pkt[..]);
            h.set_protocol(opened.next_header);
            h.set_total_len(len as u16);
            h.fill_checksum();
        }
        ip::IpVersion::V6 => {
            let w = ipv6::walk(pkt[6], &pkt[ipv6::HEADER_LEN..]).map_err(malformed)?;
            match w.next_header_at {
                Some(at) => pkt[ipv6::HEADER_LEN + at] = opened.next_header,
                None => pkt[6] = opened.next_header,
            }
            pkt[4..6].copy_from_slice(&((len - ipv6::HEADER_LEN) as u16).to_be_bytes());
        }
    }
    if udp_encap {
        fix_transport_checksum(pkt, hdr_len, opened.next_header)?;
    }
    Ok(Received::Packet {
        range: new_start..end,
        seq: opened.seq,
    })
}

/// The length of a tunnel's inner packet as its own header gives it: anything after it is
/// TFC padding (RFC 4303 §2.7). A next header that is not IP, or an inner header that
/// claims more bytes than were carried, is malformed.
fn inner_len(inner: &[u8], next_header: u8) -> Result<usize, EspError> {
    let len = match next_header {
        ip::IPV4 => ipv4::Packet::new_checked(inner)
            .map_err(|_| EspError::BadInner("inner ipv4 header"))?
            .total_len(),
        ip::IPV6 => ipv6::Packet::new_checked(inner)
            .map_err(|_| EspError::BadInner("inner ipv6 header"))?
            .total_len(),
        _ => return Err(EspError::BadInner("tunnel payload is not ip")),
    };
    if len > inner.len() {
        return Err(EspError::BadInner("inner length beyond the payload"));
    }
    Ok(len)
}

/// RFC 3948 §3.1.2: after NAT the inner TCP/UDP checksum was computed over addresses that
/// no longer match; recompute it over the addresses the packet carries.
fn fix_transport_checksum(pkt: &mut [u8], hdr_len: usize, proto: u8) -> Result<(), EspError> {
    let (src, dst): (IpAddr, IpAddr) = match ip::version(pkt).map_err(malformed)? {
        ip::IpVersion::V4 => {
            let p = ipv4::Packet::new_checked(&pkt[..]).map_err(malformed)?;
            (p.src().into(), p.dst().into())
        }
        ip::IpVersion::V6 => {
            let p = ipv6::Packet::new_checked(&pkt[..]).map_err(malformed)?;
            (p.src().into(), p.dst().into())
        }
    };
    let l4 = &mut pkt[hdr_len..];
    let csum_at = match proto {
        ip::UDP => 6,
        ip::TCP => 16,
        _ => return Ok(()),
    };
    if l4.len() < csum_at + 2 {
        return Err(EspError::Truncated("transport header"));
    }
    if proto == ip::UDP && src.is_ipv4() && l4[6..8] == [0, 0] {
        return Ok(()); // no checksum in use
    }
    l4[csum_at..csum_at + 2].copy_from_slice(&[0, 0]);
    let acc = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => checksum::pseudo_v4(s, d, proto, l4.len() as u16),
        (IpAddr::V6(s), IpAddr::V6(d)) => checksum::pseudo_v6(s, d, proto, l4.len() as u32),
        _ => return Err(EspError::Truncated("address family")),
    };
    let mut c = checksum::finish(checksum::sum(acc, l4));
    if proto == ip::UDP && c == 0 {
        c = 0xffff;
    }
    l4[csum_at..csum_at + 2].copy_from_slice(&c.to_be_bytes());
    Ok(())
}
