//! ESP (RFC 4303) seal and open for one security association, in caller buffers.
//!
//! The packet is `SPI | sequence | IV | payload | padding | pad length | next header | ICV`.
//! AEAD suites (RFC 4106 AES-GCM, RFC 7634 ChaCha20-Poly1305) use salt | IV as the nonce and
//! SPI | [sequence high] | sequence low as associated data; other suites encrypt then MAC
//! over header, IV and ciphertext, with the high sequence bits appended for the ICV only
//! (RFC 4303 §2.2.1, §3.3.2.1). No randomness is drawn here: the AEAD/CTR IV is the 64-bit
//! sequence number (unique per key, as RFC 4106 §3.1 and RFC 3686 §3 allow) and the CBC IV
//! is the cipher applied to a block holding the sequence number and SPI, which is
//! unpredictable without the key (NIST SP 800-38A appendix C, RFC 3602 §3).

use core::ops::Range;

use crypto::aead::Aead;
use crypto::cipher::Cipher;
use crypto::integrity::Integrity;
use crypto::registry::{Encryption, IntegrityAlg, Keyed};
use wire::esp as wesp;

use crate::counters::Counters;
use crate::error::EspError;
use crate::lifetime::{Lifetime, LifetimeEvent};
use crate::replay::ReplayWindow;

/// What the ESP payload carries, for the tunnel/transport byte counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Transport,
    Tunnel,
}

/// Lifetime, counters and the pending lifetime event of one SA direction.
#[derive(Debug, Clone)]
pub struct Accounting {
    mode: Mode,
    lifetime: Lifetime,
    counters: Counters,
    pending: Option<LifetimeEvent>,
}

impl Accounting {
    pub(crate) fn new() -> Self {
        Self {
            mode: Mode::Tunnel,
            lifetime: Lifetime::unlimited(),
            counters: Counters::default(),
            pending: None,
        }
    }

    pub(crate) fn admit(&mut self) -> Result<(), EspError> {
        if self.lifetime.admits() {
            Ok(())
        } else {
            Err(self.fail(EspError::Expired))
        }
    }

    /// Counts the outcome of one packet: its payload bytes when it passed, the drop reason
    /// when it failed.
    pub(crate) fn settle<T>(
        &mut self,
        r: Result<(T, usize), EspError>,
        confidential: bool,
        authenticated: bool,
    ) -> Result<T, EspError> {
        match r {
            Ok((v, len)) => {
                self.passed(confidential, authenticated, len);
                Ok(v)
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    pub(crate) fn fail(&mut self, e: EspError) -> EspError {
        self.counters.drop(&e);
        e
    }

    pub(crate) fn passed(&mut self, confidential: bool, authenticated: bool, payload_len: usize) {
        let n = payload_len as u64;
        let c = &mut self.counters;
        c.packets += 1;
        if confidential {
            c.confidential_bytes += n;
        }
        if authenticated {
            c.authenticated_bytes += n;
        }
        match self.mode {
            Mode::Transport => c.transport_bytes += n,
            Mode::Tunnel => c.tunnel_bytes += n,
        }
        if let Some(ev) = self.lifetime.account(payload_len) {
            if self.pending != Some(LifetimeEvent::Expired) {
                self.pending = Some(ev);
            }
        }
    }
}

const HEADER: usize = wesp::HEADER_LEN;

enum Engine {
    Aead(Box<dyn Aead>),
    Cipher {
        cipher: Box<dyn Cipher>,
        integrity: Option<Box<dyn Integrity>>,
    },
}

/// The keyed algorithms of one direction of an SA.
pub struct Transform {
    encryption: Encryption,
    integrity: Option<IntegrityAlg>,
    engine: Engine,
    salt: [u8; 4],
}

impl core::fmt::Debug for Transform {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Algorithms only: keys never reach a log.
        f.debug_struct("Transform")
            .field("encryption", &self.encryption.name)
            .field("key_bits", &self.encryption.key_bits)
            .field("integrity", &self.integrity.map(|i| i.name))
            .finish_non_exhaustive()
    }
}

impl Transform {
    fn account(&self, acct: &mut Accounting, payload_len: usize) {
        let confidential =
            self.encryption.id != crypto::registry::encr::NULL && !self.encryption.is_auth_only();
        let authenticated = self.encryption.is_aead() || self.integrity.is_some();
        acct.passed(confidential, authenticated, payload_len);
    }

    /// Keys a transform. `encr_keymat` is the encryption keying material as the KDF gives
    /// it (key, then salt or nonce); `integ` the integrity algorithm and key, required for
    /// non-AEAD suites except NULL-with-integrity combinations being explicit.
    pub fn new(
        encryption: Encryption,
        encr_keymat: &[u8],
        integ: Option<(IntegrityAlg, &[u8])>,
    ) -> Result<Self, EspError> {
        let keyed = encryption.key(encr_keymat)?;
        let mut salt = [0u8; 4];
        if encryption.is_aead() {
            salt.copy_from_slice(&encr_keymat[encr_keymat.len() - 4..]);
        }
        let (engine, integrity) = match keyed {
            Keyed::Aead(a) => {
                if integ.is_some() {
                    // RFC 7296 §3.3.3 / RFC 4303 §3.2: combined modes take no integrity.
                    return Err(EspError::Crypto(crypto::CryptoError::Unsupported {
                        kind: "integrity with an aead",
                        id: integ.map_or(0, |(i, _)| i.id),
                    }));
                }
                (Engine::Aead(a), None)
            }
            Keyed::Cipher(c) => {
                let (alg, key) = match integ {
                    Some((alg, key)) => (Some(alg), Some(alg.key(key)?)),
                    None => (None, None),
                };
                // ESP without integrity is allowed only with a real cipher (RFC 4303 §3.2
                // forbids NULL encryption without integrity).
                if alg.is_none() && encryption.id == crypto::registry::encr::NULL {
                    return Err(EspError::Crypto(crypto::CryptoError::Unsupported {
                        kind: "null encryption without integrity",
                        id: 0,
                    }));
                }
                (
                    Engine::Cipher {
                        cipher: c,
                        integrity: key,
                    },
                    alg,
                )
            }
        };
        Ok(Self {
            encryption,
            integrity,
            engine,
            salt,
        })
    }

    fn iv_len(&self) -> usize {
        self.encryption.iv_len
    }

    fn icv_len(&self) -> usize {
        match &self.engine {
            Engine::Aead(a) => a.icv_len(),
            Engine::Cipher { integrity, .. } => integrity.as_ref().map_or(0, |i| i.icv_len()),
        }
    }

    fn align(&self) -> usize {
        self.encryption.block_size.max(4)
    }

    /// Bytes ESP adds around a payload of `len` bytes (header, IV, padding, trailer, ICV).
    pub fn overhead(&self, len: usize) -> usize {
        let pad = wesp::pad_len(len, self.align(), 0).map_or(255, usize::from);
        HEADER + self.iv_len() + pad + wesp::TRAILER_LEN + self.icv_len()
    }

    fn nonce(&self, iv: &[u8]) -> [u8; 12] {
        let mut n = [0u8; 12];
        n[..4].copy_from_slice(&self.salt);
        n[4..].copy_from_slice(iv);
        n
    }

    /// Fills the IV for sequence `seq` (see the module comment).
    fn make_iv(&self, spi: u32, seq: u64, iv: &mut [u8]) -> Result<(), EspError> {
        if iv.is_empty() {
            return Ok(());
        }
        match &self.engine {
            // AEAD and CTR: the IV only has to be unique per key.
            _ if self.encryption.block_size <= 4 && iv.len() == 8 => {
                iv.copy_from_slice(&seq.to_be_bytes());
                Ok(())
            }
            // CBC: the IV must be unpredictable; encrypting a unique block under the key
            // gives that without a random source.
            Engine::Cipher { cipher, .. } if iv.len() <= 16 => {
                let mut block = [0u8; 16];
                block[..8].copy_from_slice(&seq.to_be_bytes());
                block[8..12].copy_from_slice(&spi.to_be_bytes());
                let n = iv.len();
                cipher.encrypt(&[0u8; 16][..n], &mut block[..n])?;
                iv.copy_from_slice(&block[..n]);
                Ok(())
            }
            _ => Err(EspError::BadPadding),
        }
    }
}

/// Lifetime and counter access, the same for both directions of an SA.
pub trait Accounted: Sized {
    /// The SA's accounting state.
    fn accounting(&self) -> &Accounting;
    /// The SA's accounting state, mutable.
    fn accounting_mut(&mut self) -> &mut Accounting;

    /// Sets the mode (for the byte counters) and the lifetime limits.
    fn with(mut self, mode: Mode, lifetime: Lifetime) -> Self {
        let a = self.accounting_mut();
        a.mode = mode;
        a.lifetime = lifetime;
        self
    }

    /// This SA's counters.
    fn counters(&self) -> &Counters {
        &self.accounting().counters
    }

    /// The lifetime event raised since the last call, if any (soft limit once, then expiry).
    fn poll_event(&mut self) -> Option<LifetimeEvent> {
        self.accounting_mut().pending.take()
    }

    /// Checks the time limits at `now` (caller's clock, seconds).
    fn tick(&mut self, now: u64) -> Option<LifetimeEvent> {
        self.accounting_mut().lifetime.tick(now)
    }
}

impl Accounted for Outbound {
    fn accounting(&self) -> &Accounting {
        &self.acct
    }
    fn accounting_mut(&mut self) -> &mut Accounting {
        &mut self.acct
    }
}

impl Accounted for Inbound {
    fn accounting(&self) -> &Accounting {
        &self.acct
    }
    fn accounting_mut(&mut self) -> &mut Accounting {
        &mut self.acct
    }
}

/// The sending side of an SA.
#[derive(Debug)]
pub struct Outbound {
    spi: u32,
    /// Next sequence number to send (starts at 1).
    next_seq: u64,
    esn: bool,
    transform: Transform,
    acct: Accounting,
    /// Tunnel payloads shorter than this are padded up to it (0: no TFC padding).
    tfc_pad_to: usize,
}

impl Outbound {
    pub fn new(spi: u32, esn: bool, transform: Transform) -> Self {
        Self {
            spi,
            next_seq: 1,
            esn,
            transform,
            acct: Accounting::new(),
            tfc_pad_to: 0,
        }
    }

    /// Traffic flow confidentiality padding (RFC 4303 §2.4, §2.7): every tunnel-mode payload
    /// (an inner IPv4/IPv6 packet, whose header gives the receiver its true length) is padded
    /// with zeros to at least `len` bytes, hiding packet sizes from an observer. Transport
    /// payloads are never padded this way: their length is not always recoverable. 0 turns
    /// it off.
    pub fn set_tfc_padding(&mut self, len: usize) {
        self.tfc_pad_to = len;
    }

    /// Payload bytes after TFC padding.
    fn padded_len(&self, next_header: u8, len: usize) -> usize {
        if matches!(next_header, wire::ip::IPV4 | wire::ip::IPV6) {
            len.max(self.tfc_pad_to)
        } else {
            len
        }
    }

    pub fn spi(&self) -> u32 {
        self.spi
    }

    /// The sequence number the next packet will carry.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Moves the sequence counter forward (never back: a sequence number, and with it an
    /// AEAD IV, must never repeat under one key). Used when an SA's state is restored.
    pub fn advance_to(&mut self, seq: u64) {
        self.next_seq = self.next_seq.max(seq);
    }

    /// Bytes `seal` adds to a payload of `len` bytes (at most: TFC padding applies to
    /// tunnel payloads only).
    pub fn overhead(&self, len: usize) -> usize {
        self.transform.overhead(len.max(self.tfc_pad_to)) + self.tfc_pad_to.saturating_sub(len)
    }

    /// Writes the ESP packet carrying `payload` (with `next_header`, e.g. 4/41 for a tunnel
    /// or the transport protocol) into `out`; returns its length. The sequence number never
    /// wraps: when it would, the SA refuses to send (RFC 4303 §3.3.3).
    pub fn seal(
        &mut self,
        next_header: u8,
        payload: &[u8],
        out: &mut [u8],
    ) -> Result<usize, EspError> {
        self.acct.admit()?;
        match self.seal_inner(next_header, payload, out) {
            Ok(n) => {
                self.transform.account(&mut self.acct, payload.len());
                Ok(n)
            }
            Err(e) => Err(self.acct.fail(e)),
        }
    }

    fn seal_inner(
        &mut self,
        next_header: u8,
        payload: &[u8],
        out: &mut [u8],
    ) -> Result<usize, EspError> {
        let seq = self.next_seq;
        let limit = if self.esn {
            u64::MAX
        } else {
            u64::from(u32::MAX)
        };
        if seq > limit || seq == 0 {
            return Err(EspError::SequenceExhausted);
        }
        let t = &self.transform;
        let iv_len = t.iv_len();
        let icv_len = t.icv_len();
        let body_len = self.padded_len(next_header, payload.len());
        let pad = wesp::pad_len(body_len, t.align(), 0).map_err(|_| EspError::BadPadding)?;
        let ct_start = HEADER + iv_len;
        let ct_end = ct_start + body_len + usize::from(pad) + wesp::TRAILER_LEN;
        let total = ct_end + icv_len;
        if out.len() < total {
            return Err(EspError::BufferTooSmall {
                need: total,
                have: out.len(),
            });
        }
        out[..4].copy_from_slice(&self.spi.to_be_bytes());
        out[4..8].copy_from_slice(&(seq as u32).to_be_bytes());
        out[ct_start..ct_start + payload.len()].copy_from_slice(payload);
        out[ct_start + payload.len()..ct_start + body_len].fill(0);
        wesp::Trailer {
            pad_len: pad,
            next_header,
        }
        .emit(&mut out[ct_start..ct_end], body_len)
        .map_err(|_| EspError::BadPadding)?;
        let seq_hi = ((seq >> 32) as u32).to_be_bytes();
        if let Engine::Aead(a) = &t.engine
            && t.encryption.is_auth_only()
        {
            t.make_iv(self.spi, seq, &mut out[HEADER..ct_start])?;
            let nonce = t.nonce(&out[HEADER..ct_start]);
            let mut tag = [0u8; GMAC_ICV];
            gmac(
                &mut out[..total],
                ct_end,
                self.esn.then_some(seq_hi),
                |aad| a.seal(&nonce, aad, &mut [], &mut tag),
            )?;
            out[ct_end..total].copy_from_slice(&tag);
            self.next_seq = seq.wrapping_add(1);
            return Ok(total);
        }
        let (head, rest) = out.split_at_mut(ct_start);
        t.make_iv(self.spi, seq, &mut head[HEADER..])?;
        let (ct, tail) = rest.split_at_mut(ct_end - ct_start);
        let icv = &mut tail[..icv_len];
        match &t.engine {
            Engine::Aead(a) => {
                let nonce = t.nonce(&head[HEADER..]);
                let mut aad = [0u8; 12];
                let aad = esp_aad(&head[..HEADER], self.esn.then_some(seq_hi), &mut aad);
                a.seal(&nonce, aad, ct, icv)?;
            }
            Engine::Cipher { cipher, integrity } => {
                cipher.encrypt(&head[HEADER..], ct)?;
                if let Some(i) = integrity {
                    let hi: &[u8] = if self.esn { &seq_hi } else { &[] };
                    i.compute(&[head, ct, hi], icv)?;
                }
            }
        }
        self.next_seq = seq.wrapping_add(1);
        Ok(total)
    }
}

/// AES-GMAC's ICV length (RFC 4543 §3.3).
const GMAC_ICV: usize = 16;

/// Runs `f` over AES-GMAC's associated data (RFC 4543 §3.2, §5): SPI | [seq high] |
/// seq low | IV | payload and trailer, i.e. `packet[..ct_end]` with the high sequence bits
/// spliced in after the SPI. Without ESN that is contiguous already; with ESN the bytes
/// are shifted four places into the ICV field for the call and shifted back after, so no
/// copy of the payload is made. The ICV field's bytes are the caller's to restore.
fn gmac<R>(
    packet: &mut [u8],
    ct_end: usize,
    seq_hi: Option<[u8; 4]>,
    f: impl FnOnce(&[u8]) -> R,
) -> R {
    match seq_hi {
        None => f(&packet[..ct_end]),
        Some(hi) => {
            packet.copy_within(4..ct_end, 8);
            packet[4..8].copy_from_slice(&hi);
            let r = f(&packet[..ct_end + 4]);
            packet.copy_within(8..ct_end + 4, 4);
            r
        }
    }
}

/// Associated data for the AEAD suites (RFC 4106 §5): SPI | [seq high] | seq low.
fn esp_aad<'a>(header: &[u8], seq_hi: Option<[u8; 4]>, buf: &'a mut [u8; 12]) -> &'a [u8] {
    match seq_hi {
        Some(hi) => {
            buf[..4].copy_from_slice(&header[..4]);
            buf[4..8].copy_from_slice(&hi);
            buf[8..].copy_from_slice(&header[4..8]);
            &buf[..]
        }
        None => {
            buf[..8].copy_from_slice(&header[..8]);
            &buf[..8]
        }
    }
}

/// The receiving side of an SA.
#[derive(Debug)]
pub struct Inbound {
    spi: u32,
    replay: ReplayWindow,
    transform: Transform,
    acct: Accounting,
}

/// A packet that opened: where its payload lies in the buffer and what it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub seq: u64,
    pub next_header: u8,
    /// Byte range of the decrypted payload inside the buffer given to `open`.
    pub payload: Range<usize>,
}

impl Opened {
    /// A dummy packet (next header 59, RFC 4303 §2.6) to be dropped silently.
    pub fn is_dummy(&self) -> bool {
        self.next_header == wire::ip::NO_NEXT
    }
}

impl Inbound {
    pub fn new(spi: u32, replay: ReplayWindow, transform: Transform) -> Self {
        Self {
            spi,
            replay,
            transform,
            acct: Accounting::new(),
        }
    }

    pub fn spi(&self) -> u32 {
        self.spi
    }

    /// The anti-replay state (for monitoring).
    pub fn replay(&self) -> &ReplayWindow {
        &self.replay
    }

    /// Verifies and decrypts an ESP packet in place. The ICV is checked before anything
    /// touches the payload, and the replay window moves only after it verified.
    pub fn open(&mut self, packet: &mut [u8]) -> Result<Opened, EspError> {
        self.acct.admit()?;
        match self.open_inner(packet) {
            Ok(o) => {
                self.transform.account(&mut self.acct, o.payload.len());
                Ok(o)
            }
            Err(e) => Err(self.acct.fail(e)),
        }
    }

    fn open_inner(&mut self, packet: &mut [u8]) -> Result<Opened, EspError> {
        let view = wesp::Packet::new_checked(&packet[..]).map_err(|e| match e {
            wire::WireError::Truncated { .. } => EspError::Truncated("esp header"),
            // SPI 0..=255 are reserved (RFC 4303 §2.1) and name no SA.
            _ => EspError::WrongSpi(u32::from_be_bytes([
                packet[0], packet[1], packet[2], packet[3],
            ])),
        })?;
        if view.spi() != self.spi {
            return Err(EspError::WrongSpi(view.spi()));
        }
        let seq = self.replay.infer(view.seq())?;
        self.replay.check(seq)?;
        let t = &self.transform;
        let iv_len = t.iv_len();
        let icv_len = t.icv_len();
        let ct_start = HEADER + iv_len;
        if packet.len() < ct_start + wesp::TRAILER_LEN + icv_len {
            return Err(EspError::Truncated("esp body"));
        }
        let ct_end = packet.len() - icv_len;
        if (ct_end - ct_start) % t.align() != 0 {
            return Err(EspError::BadPadding);
        }
        let seq_hi = ((seq >> 32) as u32).to_be_bytes();
        if let Engine::Aead(a) = &t.engine
            && t.encryption.is_auth_only()
        {
            let nonce = t.nonce(&packet[HEADER..ct_start]);
            let mut tag = [0u8; GMAC_ICV];
            tag.copy_from_slice(&packet[ct_end..]);
            let hi = self.replay_esn().then_some(seq_hi);
            gmac(packet, ct_end, hi, |aad| a.open(&nonce, aad, &mut [], &tag))
                .map_err(|_| EspError::BadIcv)?;
            packet[ct_end..].copy_from_slice(&tag);
        }
        let (head, rest) = packet.split_at_mut(ct_start);
        let (ct, icv) = rest.split_at_mut(ct_end - ct_start);
        match &t.engine {
            Engine::Aead(_) if t.encryption.is_auth_only() => {} // verified above
            Engine::Aead(a) => {
                let nonce = t.nonce(&head[HEADER..]);
                let mut aad = [0u8; 12];
                let hi = self.replay_esn().then_some(seq_hi);
                let aad = esp_aad(&head[..HEADER], hi, &mut aad);
                a.open(&nonce, aad, ct, icv).map_err(|_| EspError::BadIcv)?;
            }
            Engine::Cipher { cipher, integrity } => {
                if let Some(i) = integrity {
                    let hi: &[u8] = if self.replay_esn() { &seq_hi } else { &[] };
                    i.verify(&[head, ct, hi], icv)
                        .map_err(|_| EspError::BadIcv)?;
                }
                cipher
                    .decrypt(&head[HEADER..], ct)
                    .map_err(|_| EspError::BadPadding)?;
            }
        }
        let (trailer, payload_len) = wesp::Trailer::parse(ct).map_err(|_| EspError::BadPadding)?;
        wesp::check_padding(ct, payload_len, trailer.pad_len).map_err(|_| EspError::BadPadding)?;
        self.replay.accept(seq)?;
        Ok(Opened {
            seq,
            next_header: trailer.next_header,
            payload: ct_start..ct_start + payload_len,
        })
    }

    fn replay_esn(&self) -> bool {
        self.replay.esn()
    }
}
