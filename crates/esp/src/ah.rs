//! AH (RFC 4302): integrity over the payload and the immutable parts of the IP header, in
//! transport and tunnel mode, IPv4 and IPv6.
//!
//! The ICV input is assembled from pieces without copying the payload: the IP header with
//! its mutable fields zeroed (IPv4: DSCP/ECN, flags and fragment offset, TTL, checksum and
//! mutable options, RFC 4302 §3.3.3.1.1; IPv6: traffic class, flow label, hop limit and the
//! data of options marked mutable, §3.3.3.1.2), the AH header with a zero ICV, the rest of
//! the packet, and with ESN the high sequence bits (§3.3.3.2.1). Only the ICV itself is
//! zeroed: alignment padding after it is covered as it was sent, which is what the Linux
//! kernel does (it sends non-zero padding). IPv6 routing headers (mutable but predictable)
//! are refused rather than guessed.

use std::net::{Ipv4Addr, Ipv6Addr};

use crypto::integrity::Integrity;
use crypto::registry::IntegrityAlg;
use wire::ah::{self as wah, Carrier};
use wire::{ip, ipv4, ipv6};

use crate::error::EspError;
use crate::framing::{Outer, Received};
use crate::replay::ReplayWindow;
use crate::sa::{Accounted, Accounting};

/// Largest IP header prefix AH covers here (IPv6 with extension headers before AH).
const MAX_PREFIX: usize = 512;

fn malformed(_: wire::WireError) -> EspError {
    EspError::Truncated("ip packet")
}

/// IPv4 options that do not change in transit (RFC 4302 appendix A.1).
fn immutable_v4_option(t: u8) -> bool {
    matches!(t, 0 | 1 | 130 | 133 | 134 | 148 | 149)
}

/// Copies the IP header (and IPv6 extension headers) in `hdr` to `out` with the mutable
/// fields zeroed; `ah_next_at` is where the header names AH, set to 51 there.
fn zeroed_prefix(hdr: &[u8], out: &mut [u8; MAX_PREFIX]) -> Result<usize, EspError> {
    let n = hdr.len();
    if n > MAX_PREFIX {
        return Err(EspError::Truncated("ip header too long for ah"));
    }
    out[..n].copy_from_slice(hdr);
    match ip::version(hdr).map_err(malformed)? {
        ip::IpVersion::V4 => {
            out[1] = 0; // DSCP/ECN
            out[6] = 0; // flags
            out[7] = 0; // fragment offset
            out[8] = 0; // TTL
            out[10] = 0; // checksum
            out[11] = 0;
            let mut i = ipv4::MIN_HEADER_LEN;
            while i < n {
                let t = out[i];
                if t == 0 || t == 1 {
                    i += 1;
                    continue;
                }
                let len = usize::from(*out.get(i + 1).ok_or(EspError::Truncated("ipv4 option"))?);
                if len < 2 || i + len > n {
                    return Err(EspError::Truncated("ipv4 option"));
                }
                if !immutable_v4_option(t) {
                    out[i..i + len].fill(0);
                }
                i += len;
            }
        }
        ip::IpVersion::V6 => {
            out[0] &= 0xf0; // keep the version, zero the traffic class
            out[1] = 0;
            out[2] = 0;
            out[3] = 0;
            out[7] = 0; // hop limit
            let w = ipv6::walk(hdr[6], &hdr[ipv6::HEADER_LEN..]).map_err(malformed)?;
            if w.routing_at.is_some() {
                return Err(EspError::Refused("ipv6 routing header under ah"));
            }
            for a in &w.options[..w.options_count] {
                let (s, e) = (ipv6::HEADER_LEN + a.start, ipv6::HEADER_LEN + a.end);
                let area = &mut out[s..e.min(n)];
                // Walk the original, zero the copy: no scratch list per packet.
                ipv6::for_each_option(&hdr[s..e.min(n)], |ds, de, t| {
                    if t & 0x20 != 0 {
                        area[ds..de].fill(0);
                    }
                })
                .map_err(malformed)?;
            }
        }
    }
    Ok(n)
}

/// The keyed integrity of an AH SA and its lengths.
struct Keys {
    integrity: Box<dyn Integrity>,
    icv_len: usize,
}

impl Keys {
    fn new(alg: IntegrityAlg, key: &[u8]) -> Result<Self, EspError> {
        Ok(Self {
            integrity: alg.key(key)?,
            icv_len: alg.icv_len,
        })
    }
}

/// Sending side of an AH SA.
pub struct AhOutbound {
    spi: u32,
    next_seq: u64,
    esn: bool,
    keys: Keys,
    acct: Accounting,
}

/// Receiving side of an AH SA.
pub struct AhInbound {
    spi: u32,
    replay: ReplayWindow,
    keys: Keys,
    acct: Accounting,
}

impl core::fmt::Debug for AhOutbound {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AhOutbound")
            .field("spi", &format_args!("{:#010x}", self.spi))
            .field("next_seq", &self.next_seq)
            .finish_non_exhaustive()
    }
}

impl core::fmt::Debug for AhInbound {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AhInbound")
            .field("spi", &format_args!("{:#010x}", self.spi))
            .field("replay_top", &self.replay.top())
            .finish_non_exhaustive()
    }
}

impl Accounted for AhOutbound {
    fn accounting(&self) -> &Accounting {
        &self.acct
    }
    fn accounting_mut(&mut self) -> &mut Accounting {
        &mut self.acct
    }
}

impl Accounted for AhInbound {
    fn accounting(&self) -> &Accounting {
        &self.acct
    }
    fn accounting_mut(&mut self) -> &mut Accounting {
        &mut self.acct
    }
}

impl AhOutbound {
    pub fn new(spi: u32, esn: bool, alg: IntegrityAlg, key: &[u8]) -> Result<Self, EspError> {
        Ok(Self {
            spi,
            next_seq: 1,
            esn,
            keys: Keys::new(alg, key)?,
            acct: Accounting::new(),
        })
    }

    fn next(&mut self) -> Result<u64, EspError> {
        let seq = self.next_seq;
        let limit = if self.esn {
            u64::MAX
        } else {
            u64::from(u32::MAX)
        };
        if seq == 0 || seq > limit {
            return Err(EspError::SequenceExhausted);
        }
        self.next_seq = seq.wrapping_add(1);
        Ok(seq)
    }

    /// Writes `prefix` (an IP header naming AH), the AH header and `rest` to `out`, then
    /// computes the ICV into it.
    fn emit(
        &mut self,
        prefix: &[u8],
        next_header: u8,
        rest: &[u8],
        carrier: Carrier,
        out: &mut [u8],
    ) -> Result<(usize, usize), EspError> {
        let seq = self.next()?;
        let ah_len = wah::header_len(self.keys.icv_len, carrier);
        let total = prefix.len() + ah_len + rest.len();
        if out.len() < total {
            return Err(EspError::BufferTooSmall {
                need: total,
                have: out.len(),
            });
        }
        out[..prefix.len()].copy_from_slice(prefix);
        wah::Repr {
            next_header,
            spi: self.spi,
            seq: seq as u32,
            icv_len: self.keys.icv_len,
            carrier,
        }
        .emit(&mut out[prefix.len()..])
        .map_err(malformed)?;
        out[prefix.len() + ah_len..total].copy_from_slice(rest);
        let mut z = [0u8; MAX_PREFIX];
        let zn = zeroed_prefix(&out[..prefix.len()], &mut z)?;
        let hi = ((seq >> 32) as u32).to_be_bytes();
        let hi: &[u8] = if self.esn { &hi } else { &[] };
        let (head, tail) = out.split_at_mut(prefix.len() + wah::FIXED_LEN);
        let icv_field = &mut tail[..ah_len - wah::FIXED_LEN];
        let mut icv = [0u8; 64];
        let zero_icv = [0u8; 64];
        let icv_len = self.keys.icv_len;
        self.keys.integrity.compute(
            &[
                &z[..zn],
                &head[prefix.len()..],
                &zero_icv[..icv_len],
                &icv_field[icv_len..], // alignment padding (zeros here), covered as sent
                rest,
                hi,
            ],
            &mut icv[..self.keys.icv_len],
        )?;
        icv_field[..self.keys.icv_len].copy_from_slice(&icv[..self.keys.icv_len]);
        Ok((total, rest.len()))
    }

    pub fn spi(&self) -> u32 {
        self.spi
    }

    /// Transport mode: inserts AH after the IPv4 header or the IPv6 extension headers.
    pub fn seal_transport(&mut self, packet: &[u8], out: &mut [u8]) -> Result<usize, EspError> {
        self.acct.admit()?;
        let r = self.seal_transport_inner(packet, out);
        self.acct.settle(r, false, true)
    }

    /// The packet's length and the payload bytes AH protected.
    fn seal_transport_inner(
        &mut self,
        packet: &[u8],
        out: &mut [u8],
    ) -> Result<(usize, usize), EspError> {
        match ip::version(packet).map_err(malformed)? {
            ip::IpVersion::V4 => {
                let p = ipv4::Packet::new_checked(packet).map_err(malformed)?;
                let hl = p.header_len();
                let mut hdr = [0u8; 60];
                hdr[..hl].copy_from_slice(&packet[..hl]);
                let ah_len = wah::header_len(self.keys.icv_len, Carrier::V4);
                let total = p.total_len() + ah_len;
                {
                    let mut h = ipv4::Packet::new_unchecked(&mut hdr[..hl]);
                    h.set_protocol(ip::AH);
                    h.set_total_len(
                        u16::try_from(total).map_err(|_| EspError::Truncated("ipv4 too long"))?,
                    );
                }
                let (n, len) =
                    self.emit(&hdr[..hl], p.protocol(), p.payload(), Carrier::V4, out)?;
                let mut h = ipv4::Packet::new_unchecked(&mut out[..n]);
                h.fill_checksum();
                Ok((n, len))
            }
            ip::IpVersion::V6 => {
                let p = ipv6::Packet::new_checked(packet).map_err(malformed)?;
                let w = p.walk().map_err(malformed)?;
                let hl = ipv6::HEADER_LEN + w.offset;
                if hl > MAX_PREFIX {
                    return Err(EspError::Truncated("ipv6 headers too long for ah"));
                }
                let mut hdr = [0u8; MAX_PREFIX];
                hdr[..hl].copy_from_slice(&packet[..hl]);
                match w.next_header_at {
                    Some(at) => hdr[ipv6::HEADER_LEN + at] = ip::AH,
                    None => hdr[6] = ip::AH,
                }
                let ah_len = wah::header_len(self.keys.icv_len, Carrier::V6);
                let plen = p.total_len() - ipv6::HEADER_LEN + ah_len;
                hdr[4..6].copy_from_slice(
                    &u16::try_from(plen)
                        .map_err(|_| EspError::Truncated("ipv6 too long"))?
                        .to_be_bytes(),
                );
                self.emit(
                    &hdr[..hl],
                    w.protocol,
                    &packet[hl..p.total_len()],
                    Carrier::V6,
                    out,
                )
            }
        }
    }

    /// Tunnel mode: a new outer header, AH, then the whole inner packet.
    pub fn seal_tunnel(
        &mut self,
        inner: &[u8],
        outer: Outer,
        out: &mut [u8],
    ) -> Result<usize, EspError> {
        self.acct.admit()?;
        let r = self.seal_tunnel_inner(inner, outer, out);
        self.acct.settle(r, false, true)
    }

    fn seal_tunnel_inner(
        &mut self,
        inner: &[u8],
        outer: Outer,
        out: &mut [u8],
    ) -> Result<(usize, usize), EspError> {
        let nh = match ip::version(inner).map_err(malformed)? {
            ip::IpVersion::V4 => ip::IPV4,
            ip::IpVersion::V6 => ip::IPV6,
        };
        let mut hdr = [0u8; 40];
        let (hl, carrier) = match outer {
            Outer::V4(src, dst) => (
                outer_v4(
                    src,
                    dst,
                    wah::header_len(self.keys.icv_len, Carrier::V4) + inner.len(),
                    &mut hdr,
                )?,
                Carrier::V4,
            ),
            Outer::V6(src, dst) => (
                outer_v6(
                    src,
                    dst,
                    wah::header_len(self.keys.icv_len, Carrier::V6) + inner.len(),
                    &mut hdr,
                )?,
                Carrier::V6,
            ),
        };
        let (n, len) = self.emit(&hdr[..hl], nh, inner, carrier, out)?;
        if carrier == Carrier::V4 {
            ipv4::Packet::new_unchecked(&mut out[..n]).fill_checksum();
        }
        Ok((n, len))
    }
}

fn outer_v4(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    payload_len: usize,
    hdr: &mut [u8],
) -> Result<usize, EspError> {
    ipv4::Repr {
        src,
        dst,
        protocol: ip::AH,
        payload_len,
        ttl: 64,
        dscp_ecn: 0,
        ident: 0,
        dont_frag: false,
    }
    .emit(hdr)
    .map_err(malformed)?;
    Ok(ipv4::MIN_HEADER_LEN)
}

fn outer_v6(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    payload_len: usize,
    hdr: &mut [u8],
) -> Result<usize, EspError> {
    ipv6::Repr {
        src,
        dst,
        next_header: ip::AH,
        payload_len,
        hop_limit: 64,
        traffic_class: 0,
        flow_label: 0,
    }
    .emit(hdr)
    .map_err(malformed)?;
    Ok(ipv6::HEADER_LEN)
}

impl AhInbound {
    pub fn new(
        spi: u32,
        replay: ReplayWindow,
        alg: IntegrityAlg,
        key: &[u8],
    ) -> Result<Self, EspError> {
        Ok(Self {
            spi,
            replay,
            keys: Keys::new(alg, key)?,
            acct: Accounting::new(),
        })
    }

    pub fn spi(&self) -> u32 {
        self.spi
    }

    /// The anti-replay state (for monitoring).
    pub fn replay(&self) -> &ReplayWindow {
        &self.replay
    }

    /// Verifies an AH packet in place; in transport mode removes AH and restores the
    /// header, in tunnel mode returns the inner packet's range.
    pub fn open(&mut self, packet: &mut [u8], transport: bool) -> Result<Received, EspError> {
        self.acct.admit()?;
        let r = self.open_inner(packet, transport);
        self.acct.settle(r, false, true)
    }

    /// The opened packet and the payload bytes AH protected.
    fn open_inner(
        &mut self,
        packet: &mut [u8],
        transport: bool,
    ) -> Result<(Received, usize), EspError> {
        let (hl, total, carrier) = match ip::version(packet).map_err(malformed)? {
            ip::IpVersion::V4 => {
                let p = ipv4::Packet::new_checked(&packet[..]).map_err(malformed)?;
                if p.protocol() != ip::AH {
                    return Err(EspError::NotEsp(p.protocol()));
                }
                if p.is_fragment() {
                    return Err(EspError::Truncated("fragmented ah"));
                }
                (p.header_len(), p.total_len(), Carrier::V4)
            }
            ip::IpVersion::V6 => {
                let p = ipv6::Packet::new_checked(&packet[..]).map_err(malformed)?;
                let w = p.walk().map_err(malformed)?;
                if w.protocol != ip::AH {
                    return Err(EspError::NotEsp(w.protocol));
                }
                (ipv6::HEADER_LEN + w.offset, p.total_len(), Carrier::V6)
            }
        };
        let view = wah::Packet::new_checked(&packet[hl..total], self.keys.icv_len, carrier)
            .map_err(|_| EspError::Truncated("ah header"))?;
        if view.spi() != self.spi {
            return Err(EspError::WrongSpi(view.spi()));
        }
        let (next_header, ah_len) = (view.next_header(), view.header_len());
        let seq = self.replay.infer(view.seq())?;
        self.replay.check(seq)?;
        let mut z = [0u8; MAX_PREFIX];
        let zn = zeroed_prefix(&packet[..hl], &mut z)?;
        let hi = ((seq >> 32) as u32).to_be_bytes();
        let hi: &[u8] = if self.replay.esn() { &hi } else { &[] };
        let zero_icv = [0u8; 64];
        let icv_field = hl + wah::FIXED_LEN..hl + ah_len;
        self.keys
            .integrity
            .verify(
                &[
                    &z[..zn],
                    &packet[hl..hl + wah::FIXED_LEN],
                    &zero_icv[..self.keys.icv_len],
                    &packet[icv_field.start + self.keys.icv_len..icv_field.end],
                    &packet[hl + ah_len..total],
                    hi,
                ],
                &packet[icv_field.start..icv_field.start + self.keys.icv_len],
            )
            .map_err(|_| EspError::BadIcv)?;
        self.replay.accept(seq)?;
        let protected = total - hl - ah_len;
        if !transport {
            let p = Received::Packet {
                range: hl + ah_len..total,
                seq,
            };
            return Ok((p, protected));
        }
        // Transport: close the gap AH leaves and restore the header fields.
        packet.copy_within(0..hl, ah_len);
        let pkt = &mut packet[ah_len..total];
        let len = pkt.len();
        match carrier {
            Carrier::V4 => {
                let mut h = ipv4::Packet::new_unchecked(&mut pkt[..]);
                h.set_protocol(next_header);
                h.set_total_len(len as u16);
                h.fill_checksum();
            }
            Carrier::V6 => {
                let w = ipv6::walk(pkt[6], &pkt[ipv6::HEADER_LEN..]).map_err(malformed)?;
                match w.next_header_at {
                    Some(at) => pkt[ipv6::HEADER_LEN + at] = next_header,
                    None => pkt[6] = next_header,
                }
                pkt[4..6].copy_from_slice(&((len - ipv6::HEADER_LEN) as u16).to_be_bytes());
            }
        }
        let p = Received::Packet {
            range: ah_len..total,
            seq,
        };
        Ok((p, protected))
    }
}
