//! The Encrypted and Authenticated payload (RFC 7296 §3.14; AEAD per RFC 5282) and its
//! fragments (RFC 7383 §2.5): one keyed direction seals an inner payload chain into a
//! datagram, the other opens one.

use crypto::Secret;
use crypto::integrity::Integrity;
use crypto::registry::{Encryption, IntegrityAlg, Keyed};
use wire::ikev2::{Encrypted, Fragment, Header, Message, Payload};

use crate::error::{IkeError, Result};
use crate::rng::Rng;

/// One direction of an IKE SA's message protection (SK_ei/SK_ai or SK_er/SK_ar).
pub(crate) struct Direction {
    encr: Encryption,
    keyed: Keyed,
    /// AEAD salt (RFC 5282 §4: the last bytes of the keying material).
    salt: Secret,
    integ: Option<Box<dyn Integrity>>,
    /// Explicit IVs of AEAD and CTR are a counter: unique per key, which is all those
    /// modes need (RFC 5282 §3.1). CBC IVs come from the RNG (they must be unpredictable).
    counter: u64,
}

/// A decrypted SK or SKF payload.
pub(crate) struct Opened {
    pub first_inner: u8,
    pub plain: Vec<u8>,
    /// (number, total) for an SKF fragment.
    pub fragment: Option<(u16, u16)>,
}

impl Direction {
    pub(crate) fn new(
        encr: Encryption,
        integ: Option<IntegrityAlg>,
        encr_key: &Secret,
        integ_key: &Secret,
    ) -> Result<Self> {
        let keyed = encr.key(encr_key.expose())?;
        let salt = if encr.is_aead() {
            Secret::from_slice(&encr_key.expose()[encr.keymat_len - encr.salt_len..])
        } else {
            Secret::default()
        };
        let integ = match (encr.is_aead(), integ) {
            (true, _) => None,
            (false, Some(alg)) => Some(alg.key(integ_key.expose())?),
            (false, None) => return Err(IkeError::Protocol("cipher without integrity")),
        };
        Ok(Self {
            encr,
            keyed,
            salt,
            integ,
            counter: 0,
        })
    }

    fn icv_len(&self) -> usize {
        match &self.integ {
            Some(i) => i.icv_len(),
            None => self.encr.icv_len,
        }
    }

    fn block(&self) -> usize {
        match &self.keyed {
            Keyed::Aead(_) => 1,
            Keyed::Cipher(c) => c.block_size().max(1),
        }
    }

    /// Bytes an SK payload adds around its plaintext at most (IV, padding, pad length, ICV).
    pub(crate) fn overhead(&self) -> usize {
        self.encr.iv_len + self.block() + self.icv_len()
    }

    /// Builds a datagram whose only payload is an SK payload (or an SKF fragment) holding
    /// `plain`, the encoded inner chain starting with `first_inner`.
    pub(crate) fn seal(
        &mut self,
        header: Header,
        first_inner: u8,
        plain: &[u8],
        fragment: Option<(u16, u16)>,
        rng: &mut dyn Rng,
    ) -> Result<Vec<u8>> {
        let iv_len = self.encr.iv_len;
        let icv_len = self.icv_len();
        let block = self.block();
        let pad = (block - (plain.len() + 1) % block) % block;
        let body_len = iv_len + plain.len() + pad + 1 + icv_len;
        let payload = match fragment {
            None => Payload::Sk(Encrypted {
                first_inner,
                data: vec![0; body_len],
            }),
            Some((number, total)) => Payload::Skf(Fragment {
                first_inner,
                number,
                total,
                data: vec![0; body_len],
            }),
        };
        let mut out = Message {
            header,
            payloads: vec![payload],
        }
        .emit()?;
        let off = Message::encrypted_offset(&out)?.ok_or(IkeError::Protocol("no sk payload"))?;
        let mut iv = vec![0u8; iv_len];
        match &self.keyed {
            // CBC (block size above 1) needs unpredictable IVs.
            Keyed::Cipher(c) if c.block_size() > 1 => rng.fill(&mut iv),
            _ => {
                self.counter += 1;
                let c = self.counter.to_be_bytes();
                let n = iv_len.min(8);
                iv[iv_len - n..].copy_from_slice(&c[8 - n..]);
            }
        }
        let end = out.len();
        out[off..off + iv_len].copy_from_slice(&iv);
        let ct_start = off + iv_len;
        let ct_end = end - icv_len;
        out[ct_start..ct_start + plain.len()].copy_from_slice(plain);
        // Padding bytes are zero; the pad length byte ends the plaintext (§3.14).
        out[ct_end - 1] = pad as u8;
        match &self.keyed {
            Keyed::Aead(a) => {
                let nonce = nonce(&self.salt, &iv)?;
                let (head, tail) = out.split_at_mut(ct_start);
                let (ct, icv) = tail.split_at_mut(ct_end - ct_start);
                a.seal(&nonce, &head[..off], ct, icv)?;
            }
            Keyed::Cipher(c) => {
                c.encrypt(&iv, &mut out[ct_start..ct_end])?;
                let integ = self.integ.as_ref().ok_or(IkeError::Integrity)?;
                let (covered, icv) = out.split_at_mut(ct_end);
                integ.compute(&[covered], icv)?;
            }
        }
        Ok(out)
    }

    /// Checks and decrypts the SK or SKF payload of `datagram` (no non-ESP marker).
    pub(crate) fn open(&self, datagram: &[u8]) -> Result<Opened> {
        let msg = Message::parse(datagram)?;
        let (first_inner, fragment) = match msg.payloads.last() {
            Some(Payload::Sk(e)) => (e.first_inner, None),
            Some(Payload::Skf(f)) => (f.first_inner, Some((f.number, f.total))),
            _ => return Err(IkeError::Protocol("no encrypted payload")),
        };
        let off =
            Message::encrypted_offset(datagram)?.ok_or(IkeError::Protocol("no sk payload"))?;
        let iv_len = self.encr.iv_len;
        let icv_len = self.icv_len();
        if datagram.len() < off + iv_len + icv_len + 1 {
            return Err(IkeError::Protocol("encrypted payload too short"));
        }
        let iv = &datagram[off..off + iv_len];
        let ct_end = datagram.len() - icv_len;
        let mut buf = datagram[off + iv_len..ct_end].to_vec();
        let icv = &datagram[ct_end..];
        match &self.keyed {
            Keyed::Aead(a) => {
                let nonce = nonce(&self.salt, iv)?;
                a.open(&nonce, &datagram[..off], &mut buf, icv)
                    .map_err(|_| IkeError::Integrity)?;
            }
            Keyed::Cipher(c) => {
                let integ = self.integ.as_ref().ok_or(IkeError::Integrity)?;
                integ
                    .verify(&[&datagram[..ct_end]], icv)
                    .map_err(|_| IkeError::Integrity)?;
                if buf.len() % c.block_size().max(1) != 0 {
                    return Err(IkeError::Protocol("ciphertext not a block multiple"));
                }
                c.decrypt(iv, &mut buf)?;
            }
        }
        let pad = usize::from(*buf.last().ok_or(IkeError::Protocol("empty plaintext"))?);
        if pad + 1 > buf.len() {
            return Err(IkeError::Protocol("pad length beyond plaintext"));
        }
        buf.truncate(buf.len() - pad - 1);
        Ok(Opened {
            first_inner,
            plain: buf,
            fragment,
        })
    }
}

fn nonce(salt: &Secret, iv: &[u8]) -> Result<[u8; 12]> {
    let mut n = [0u8; 12];
    let s = salt.expose();
    if s.len() + iv.len() != 12 {
        return Err(IkeError::Protocol("aead nonce length"));
    }
    n[..s.len()].copy_from_slice(s);
    n[s.len()..].copy_from_slice(iv);
    Ok(n)
}
