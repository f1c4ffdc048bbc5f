//! IKE fragmentation (RFC 7383): splitting an inner payload chain into SKF fragments and
//! putting received fragments back together.

use std::collections::BTreeMap;

/// Most fragments accepted for one message: bounds memory per hostile peer.
const MAX_FRAGMENTS: u16 = 64;
/// Most reassembled plaintext bytes.
const MAX_BYTES: usize = 64 * 1024;

/// Fragments of one message being collected (one per direction of an IKE SA is enough:
/// window size 1).
#[derive(Debug, Default)]
pub(crate) struct Reassembly {
    message_id: u32,
    total: u16,
    first_inner: u8,
    parts: BTreeMap<u16, Vec<u8>>,
    bytes: usize,
}

impl Reassembly {
    /// Adds one decrypted fragment; returns the first payload type and the whole inner
    /// chain once every fragment is in. A fragment of another message or with another
    /// total starts over (RFC 7383 §2.6.2: the sender may re-fragment smaller).
    pub(crate) fn add(
        &mut self,
        message_id: u32,
        number: u16,
        total: u16,
        first_inner: u8,
        plain: Vec<u8>,
    ) -> Option<(u8, Vec<u8>)> {
        if total == 0 || total > MAX_FRAGMENTS || number == 0 || number > total {
            return None;
        }
        if self.parts.is_empty() || self.message_id != message_id || self.total != total {
            *self = Self {
                message_id,
                total,
                ..Self::default()
            };
        }
        if self.bytes + plain.len() > MAX_BYTES || self.parts.contains_key(&number) {
            return None;
        }
        if number == 1 {
            self.first_inner = first_inner;
        }
        self.bytes += plain.len();
        self.parts.insert(number, plain);
        if self.parts.len() != usize::from(self.total) {
            return None;
        }
        let first = self.first_inner;
        let whole = core::mem::take(&mut self.parts)
            .into_values()
            .flatten()
            .collect();
        *self = Self::default();
        Some((first, whole))
    }
}

/// Splits `plain` into pieces of at most `chunk` bytes (at least one piece).
pub(crate) fn split(plain: &[u8], chunk: usize) -> Vec<&[u8]> {
    if plain.is_empty() {
        return vec![plain];
    }
    plain.chunks(chunk.max(1)).collect()
}
