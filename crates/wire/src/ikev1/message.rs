//! ISAKMP messages and payload chains (RFC 2408 §3.1-3.2).

use crate::cursor::{Reader, patch_len16, patch_len32};
use crate::error::{Result, WireError};

use super::header::{HEADER_LEN, Header};
use super::payload::Payload;
use super::payload_type as pt;

const GENERIC_LEN: usize = 4;
/// Most payloads accepted in one chain (work bound per hostile datagram).
const MAX_PAYLOADS: usize = 256;

/// What follows the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// A cleartext payload chain.
    Payloads(Vec<Payload>),
    /// Ciphertext of an E-flag message (IV handling is the engine's, RFC 2409 appendix B).
    Encrypted(Vec<u8>),
}

/// An ISAKMP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// `length` (and, for a cleartext body, `next_payload`) are recomputed by `emit`; for
    /// an encrypted body `next_payload` is kept: it names the first encrypted payload.
    pub header: Header,
    pub body: Body,
}

impl Message {
    /// Parses a datagram (without the non-ESP marker).
    pub fn parse(datagram: &[u8]) -> Result<Self> {
        let header = Header::parse(datagram)?;
        header.validate(1, datagram.len(), "isakmp major version")?;
        let rest = &datagram[HEADER_LEN..];
        let body = if header.is_encrypted() {
            Body::Encrypted(rest.to_vec())
        } else {
            let (payloads, used) = parse_plain_chain(header.next_payload, rest)?;
            if used != rest.len() {
                return Err(WireError::BadLength {
                    what: "isakmp payload chain",
                    len: used,
                });
            }
            Body::Payloads(payloads)
        };
        Ok(Self { header, body })
    }

    /// Writes the message, filling in lengths and next-payload fields.
    pub fn emit(&self) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(512);
        self.header.emit(&mut out);
        match &self.body {
            Body::Payloads(p) => {
                if self.header.is_encrypted() {
                    return Err(WireError::BadValue {
                        what: "isakmp e flag on a cleartext body",
                        value: u64::from(self.header.flags),
                    });
                }
                out[16] = emit_into(p, &mut out)?;
            }
            Body::Encrypted(c) => {
                if !self.header.is_encrypted() {
                    return Err(WireError::BadValue {
                        what: "isakmp encrypted body without e flag",
                        value: u64::from(self.header.flags),
                    });
                }
                out.extend_from_slice(c);
            }
        }
        let len = out.len();
        patch_len32(&mut out, 24, len, "isakmp message")?;
        Ok(out)
    }

    /// The cleartext payloads, if the body is not encrypted.
    pub fn payloads(&self) -> Option<&[Payload]> {
        match &self.body {
            Body::Payloads(p) => Some(p),
            Body::Encrypted(_) => None,
        }
    }
}

/// Parses a payload chain starting with type `first`; returns the payloads and the number
/// of bytes they took. The walk ends at next payload 0; anything after it is left to the
/// caller: for a decrypted body it is the padding, whose length is not encoded anywhere
/// (RFC 2409 §5.3), so it cannot be checked here.
pub fn parse_plain_chain(first: u8, bytes: &[u8]) -> Result<(Vec<Payload>, usize)> {
    let mut r = Reader::new(bytes, "isakmp payload chain");
    let mut next = first;
    let mut out = Vec::new();
    while next != pt::NONE {
        if out.len() == MAX_PAYLOADS {
            return Err(WireError::BadLength {
                what: "isakmp payload count",
                len: MAX_PAYLOADS,
            });
        }
        let np = r.u8()?;
        r.u8()?;
        let len = usize::from(r.u16()?);
        if len < GENERIC_LEN {
            return Err(WireError::BadLength {
                what: "isakmp payload",
                len,
            });
        }
        let body = r.take(len - GENERIC_LEN)?;
        out.push(Payload::parse_body(next, body)?);
        next = np;
    }
    Ok((out, r.position()))
}

/// Encodes a payload chain; returns its first type and bytes (the plaintext an engine
/// encrypts, before padding).
pub fn emit_chain(payloads: &[Payload]) -> Result<(u8, Vec<u8>)> {
    let mut out = Vec::with_capacity(256);
    let first = emit_into(payloads, &mut out)?;
    Ok((first, out))
}

fn emit_into(payloads: &[Payload], out: &mut Vec<u8>) -> Result<u8> {
    for (i, p) in payloads.iter().enumerate() {
        let next = payloads.get(i + 1).map_or(pt::NONE, Payload::ty);
        let start = out.len();
        out.extend_from_slice(&[next, 0, 0, 0]);
        p.emit_body(out)?;
        let len = out.len() - start;
        patch_len16(out, start + 2, len, "isakmp payload")?;
    }
    Ok(payloads.first().map_or(pt::NONE, Payload::ty))
}
