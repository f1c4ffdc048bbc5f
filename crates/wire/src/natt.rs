//! UDP encapsulation of ESP and IKE on one port (RFC 3948 §2, RFC 7296 §2.23).
//!
//! On port 4500 three things share the UDP payload: a NAT-keepalive (the single byte 0xFF,
//! RFC 3948 §2.3), an IKE message behind a four-byte zero "non-ESP marker" (§2.2), or an
//! ESP packet whose first four bytes are its non-zero SPI (§2.1).

use crate::error::{Result, WireError};

/// IKE's port (RFC 7296 §2).
pub const IKE_PORT: u16 = 500;
/// The NAT-T port for IKE and UDP-encapsulated ESP (RFC 3948).
pub const NATT_PORT: u16 = 4500;
/// The non-ESP marker that precedes IKE messages on port 4500.
pub const NON_ESP_MARKER: [u8; 4] = [0; 4];
/// The NAT-keepalive payload.
pub const KEEPALIVE: u8 = 0xff;

/// What a UDP payload on port 4500 carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encapsulated<'a> {
    /// A NAT-keepalive: nothing to process.
    Keepalive,
    /// An IKE message (the marker removed).
    Ike(&'a [u8]),
    /// An ESP packet, starting at its SPI.
    Esp(&'a [u8]),
}

/// Classifies a UDP payload received on the NAT-T port.
///
/// Anything shorter than an ESP header that is not the keepalive byte is an error: RFC 3948
/// §2.1 requires at least an SPI and sequence number, and an IKE header is 28 bytes.
pub fn classify(payload: &[u8]) -> Result<Encapsulated<'_>> {
    if payload == [KEEPALIVE] {
        return Ok(Encapsulated::Keepalive);
    }
    let first = payload.get(..4).ok_or(WireError::Truncated {
        what: "udp-encapsulated payload",
        need: 4,
        have: payload.len(),
    })?;
    if first == NON_ESP_MARKER {
        Ok(Encapsulated::Ike(&payload[4..]))
    } else if payload.len() < 8 {
        Err(WireError::Truncated {
            what: "udp-encapsulated esp",
            need: 8,
            have: payload.len(),
        })
    } else {
        Ok(Encapsulated::Esp(payload))
    }
}

/// Writes the non-ESP marker followed by an IKE message; returns the length written.
pub fn emit_ike(ike: &[u8], out: &mut [u8]) -> Result<usize> {
    let n = 4 + ike.len();
    if out.len() < n {
        return Err(WireError::BufferTooSmall {
            what: "non-esp marker",
            need: n,
            have: out.len(),
        });
    }
    out[..4].copy_from_slice(&NON_ESP_MARKER);
    out[4..n].copy_from_slice(ike);
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn classifies_each_kind() {
        assert_eq!(classify(&[0xff]).unwrap(), Encapsulated::Keepalive);
        let ike = [0, 0, 0, 0, 1, 2, 3];
        assert_eq!(classify(&ike).unwrap(), Encapsulated::Ike(&[1, 2, 3]));
        let esp = [0, 0, 1, 0, 0, 0, 0, 1, 9];
        assert_eq!(classify(&esp).unwrap(), Encapsulated::Esp(&esp));
        assert!(classify(&[]).is_err());
        assert!(classify(&[0xfe]).is_err());
        assert!(classify(&[0, 0, 1, 0, 0]).is_err());
        let mut out = [0u8; 8];
        assert_eq!(emit_ike(&[7, 8], &mut out).unwrap(), 6);
        assert_eq!(&out[..6], &[0, 0, 0, 0, 7, 8]);
        assert!(emit_ike(&[0; 8], &mut out).is_err());
    }

    proptest! {
        #[test]
        fn ike_round_trip(m in proptest::collection::vec(any::<u8>(), 0..100)) {
            let mut out = vec![0u8; m.len() + 4];
            emit_ike(&m, &mut out).unwrap();
            prop_assert_eq!(classify(&out).unwrap(), Encapsulated::Ike(&m[..]));
        }

        #[test]
        fn never_panics(b in proptest::collection::vec(any::<u8>(), 0..20)) {
            let _ = classify(&b);
        }
    }
}
