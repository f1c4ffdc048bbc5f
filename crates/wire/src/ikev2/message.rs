//! Messages and payload chains (RFC 7296 §3.1, §3.2).

use crate::cursor::{Reader, patch_len16, patch_len32};
use crate::error::{Result, WireError};

use super::header::{HEADER_LEN, Header};
use super::payload::Payload;
use super::payload_type as pt;

/// Generic payload header length (§3.2).
const GENERIC_LEN: usize = 4;
/// Most payloads accepted in one chain: a bound on work per hostile datagram. A 64 KiB
/// message of empty payloads would otherwise be 16k allocations.
const MAX_PAYLOADS: usize = 256;
const CRITICAL: u8 = 0x80;

/// An IKEv2 message: header and outer payload chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// `next_payload` and `length` are recomputed by [`Message::emit`].
    pub header: Header,
    pub payloads: Vec<Payload>,
}

impl Message {
    /// Parses a whole datagram (without the RFC 3948 non-ESP marker). The header must say
    /// major version 2 and the datagram's exact length.
    pub fn parse(datagram: &[u8]) -> Result<Self> {
        let header = Header::parse(datagram)?;
        header.validate(2, datagram.len(), "ikev2 major version")?;
        let payloads = parse_chain(header.next_payload, &datagram[HEADER_LEN..])?;
        Ok(Self { header, payloads })
    }

    /// Writes the message, filling in the header's next payload and length and every
    /// generic payload header.
    pub fn emit(&self) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(512);
        self.header.emit(&mut out);
        let first = emit_chain_into(&self.payloads, &mut out)?;
        out[16] = first;
        let len = out.len();
        patch_len32(&mut out, 24, len, "ikev2 message")?;
        Ok(out)
    }

    /// The first payload of a type, if present.
    pub fn find(&self, ty: u8) -> Option<&Payload> {
        self.payloads.iter().find(|p| p.ty() == ty)
    }

    /// Offset in `datagram` where the body of its SK or SKF payload starts (after the
    /// generic header, and for SKF after the fragment number and total), or `None`
    /// without one. For AEAD the associated data is `datagram[..offset]` (RFC 5282 §5.1;
    /// for SKF it includes the fragment fields, RFC 7383 §2.5.3); for integrity the ICV
    /// covers everything before the ICV itself (§3.14).
    pub fn encrypted_offset(datagram: &[u8]) -> Result<Option<usize>> {
        let header = Header::parse(datagram)?;
        let mut next = header.next_payload;
        let mut off = HEADER_LEN;
        let mut count = 0usize;
        while next != pt::NONE {
            count += 1;
            if count > MAX_PAYLOADS {
                return Err(too_many());
            }
            let mut r = Reader::new(datagram.get(off..).unwrap_or(&[]), "ikev2 payload header");
            let np = r.u8()?;
            r.u8()?;
            let len = usize::from(r.u16()?);
            if len < GENERIC_LEN || off + len > datagram.len() {
                return Err(WireError::BadLength {
                    what: "ikev2 payload",
                    len,
                });
            }
            match next {
                pt::SK => return Ok(Some(off + GENERIC_LEN)),
                pt::SKF if len >= GENERIC_LEN + 4 => return Ok(Some(off + GENERIC_LEN + 4)),
                pt::SKF => {
                    return Err(WireError::BadLength {
                        what: "ikev2 skf payload",
                        len,
                    });
                }
                _ => {}
            }
            off += len;
            next = np;
        }
        Ok(None)
    }
}

fn too_many() -> WireError {
    WireError::BadLength {
        what: "ikev2 payload count",
        len: MAX_PAYLOADS,
    }
}

/// Parses a payload chain starting with type `first` that fills `bytes` exactly: the
/// outer chain of a message, or the decrypted inside of an SK payload (padding and pad
/// length already removed). SK and SKF end the chain, since their next-payload field names
/// the first inner payload (§3.14); an unknown type with the critical bit set is an error
/// carrying the type (for UNSUPPORTED_CRITICAL_PAYLOAD), without it the payload is kept as
/// [`Payload::Unknown`].
pub fn parse_chain(first: u8, bytes: &[u8]) -> Result<Vec<Payload>> {
    let mut r = Reader::new(bytes, "ikev2 payload chain");
    let mut next = first;
    let mut out = Vec::new();
    while next != pt::NONE {
        if out.len() == MAX_PAYLOADS {
            return Err(too_many());
        }
        let np = r.u8()?;
        let critical = r.u8()? & CRITICAL != 0;
        let len = usize::from(r.u16()?);
        if len < GENERIC_LEN {
            return Err(WireError::BadLength {
                what: "ikev2 payload",
                len,
            });
        }
        let body = r.take(len - GENERIC_LEN)?;
        if Payload::is_known(next) {
            out.push(Payload::parse_body(next, np, body)?);
            if matches!(next, pt::SK | pt::SKF) {
                break;
            }
        } else if critical {
            return Err(WireError::UnexpectedType {
                what: "ikev2 unsupported critical payload",
                value: u64::from(next),
            });
        } else {
            out.push(Payload::Unknown {
                ty: next,
                data: body.to_vec(),
            });
        }
        next = np;
    }
    r.finish()?;
    Ok(out)
}

/// Encodes a payload chain; returns the first payload's type and the bytes. The engine
/// uses it for the plaintext of an SK payload.
pub fn emit_chain(payloads: &[Payload]) -> Result<(u8, Vec<u8>)> {
    let mut out = Vec::with_capacity(256);
    let first = emit_chain_into(payloads, &mut out)?;
    Ok((first, out))
}

fn emit_chain_into(payloads: &[Payload], out: &mut Vec<u8>) -> Result<u8> {
    for (i, p) in payloads.iter().enumerate() {
        let next = match p {
            Payload::Sk(e) => e.first_inner,
            Payload::Skf(f) => f.first_inner,
            _ => payloads.get(i + 1).map_or(pt::NONE, Payload::ty),
        };
        if matches!(p, Payload::Sk(_) | Payload::Skf(_)) && i + 1 != payloads.len() {
            return Err(WireError::UnexpectedType {
                what: "ikev2 payload after sk",
                value: u64::from(p.ty()),
            });
        }
        if matches!(p, Payload::Unknown { ty, .. } if Payload::is_known(*ty) || *ty == pt::NONE) {
            return Err(WireError::UnexpectedType {
                what: "ikev2 unknown payload type",
                value: u64::from(p.ty()),
            });
        }
        let start = out.len();
        out.extend_from_slice(&[next, 0, 0, 0]);
        p.emit_body(out)?;
        let len = out.len() - start;
        patch_len16(out, start + 2, len, "ikev2 payload")?;
    }
    Ok(payloads.first().map_or(pt::NONE, Payload::ty))
}
