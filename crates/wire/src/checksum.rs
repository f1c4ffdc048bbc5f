//! The Internet checksum (RFC 1071), its incremental update (RFC 1624) and the pseudo-header
//! sums UDP, TCP and ICMPv6 need over IPv4 (RFC 768) and IPv6 (RFC 8200 §8.1).
//!
//! Sums are kept unfolded in a `u32`/`u64` accumulator so several pieces (pseudo-header,
//! header, payload) can be added before the one final fold.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Adds `data` to a running one's-complement sum (not yet folded).
///
/// Reads 8 bytes at a time: the one's-complement sum is byte-order independent in the sense
/// of RFC 1071 §2(B), so wide big-endian words fold to the same 16-bit result.
pub fn sum(mut acc: u64, data: &[u8]) -> u64 {
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        let (s, carry) = acc.overflowing_add(w);
        acc = s + u64::from(carry);
    }
    let mut rest = chunks.remainder();
    while rest.len() >= 2 {
        let (s, carry) = acc.overflowing_add(u64::from(u16::from_be_bytes([rest[0], rest[1]])));
        acc = s + u64::from(carry);
        rest = &rest[2..];
    }
    if let [last] = rest {
        // An odd trailing byte is padded with a zero byte on the right (RFC 1071 §4.1).
        let (s, carry) = acc.overflowing_add(u64::from(*last) << 8);
        acc = s + u64::from(carry);
    }
    acc
}

/// Folds a running sum to 16 bits (end-around carry).
pub fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The checksum field value for `data`: the complement of the folded sum.
pub fn checksum(data: &[u8]) -> u16 {
    !fold(sum(0, data))
}

/// Finishes a checksum from an unfolded running sum.
pub fn finish(acc: u64) -> u16 {
    !fold(acc)
}

/// RFC 1624 eqn. 3: the new checksum after a 16-bit field changed from `old` to `new`,
/// without summing the whole packet again (NAT-T checksum fix-up, TTL decrement).
pub fn update16(check: u16, old: u16, new: u16) -> u16 {
    let acc = u64::from(!check) + u64::from(!old) + u64::from(new);
    !fold(acc)
}

/// [`update16`] for a 32-bit field such as an IPv4 address.
pub fn update32(check: u16, old: u32, new: u32) -> u16 {
    let c = update16(check, (old >> 16) as u16, (new >> 16) as u16);
    update16(c, old as u16, new as u16)
}

/// Unfolded sum of the IPv4 pseudo-header (RFC 768): addresses, zero, protocol, length.
pub fn pseudo_v4(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, len: u16) -> u64 {
    let acc = sum(0, &src.octets());
    let acc = sum(acc, &dst.octets());
    acc + u64::from(protocol) + u64::from(len)
}

/// Unfolded sum of the IPv6 pseudo-header (RFC 8200 §8.1): addresses, 32-bit upper-layer
/// length, next header.
pub fn pseudo_v6(src: Ipv6Addr, dst: Ipv6Addr, next_header: u8, len: u32) -> u64 {
    let acc = sum(0, &src.octets());
    let acc = sum(acc, &dst.octets());
    acc + u64::from(len >> 16) + u64::from(len & 0xffff) + u64::from(next_header)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Reference: RFC 1071 §3 defines the sum over 16-bit words, one at a time.
    fn naive(data: &[u8]) -> u16 {
        let mut acc: u32 = 0;
        for c in data.chunks(2) {
            let w = if c.len() == 2 {
                u16::from_be_bytes([c[0], c[1]])
            } else {
                u16::from(c[0]) << 8
            };
            acc += u32::from(w);
            acc = (acc & 0xffff) + (acc >> 16);
        }
        !(acc as u16)
    }

    #[test]
    fn rfc1071_worked_example() {
        // RFC 1071 §3: bytes 00 01 f2 03 f4 f5 f6 f7 sum (folded) to ddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(0, &data)), 0xddf2);
        assert_eq!(checksum(&data), !0xddf2);
    }

    #[test]
    fn known_ipv4_header() {
        // A classic IPv4 header whose checksum is b861 (the widely used textbook example).
        let mut h = hex_bytes("450000730000400040110000c0a80001c0a800c7");
        assert_eq!(checksum(&h), 0xb861);
        h[10..12].copy_from_slice(&0xb861u16.to_be_bytes());
        assert_eq!(checksum(&h), 0);
    }

    fn hex_bytes(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    proptest! {
        #[test]
        fn wide_sum_matches_word_sum(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            prop_assert_eq!(checksum(&data), naive(&data));
        }

        #[test]
        fn incremental_update_matches_full(mut data in proptest::collection::vec(any::<u8>(), 4..64),
                                           idx in 0usize..30, new in any::<u16>()) {
            let len = data.len() & !1;
            let i = ((idx * 2) % (len - 1)) & !1;
            let before = checksum(&data[..len]);
            let old = u16::from_be_bytes([data[i], data[i + 1]]);
            data[i..i + 2].copy_from_slice(&new.to_be_bytes());
            let full = checksum(&data[..len]);
            let inc = update16(before, old, new);
            // 0x0000 and 0xffff are the same value in one's complement.
            prop_assert!(inc == full || (inc ^ full) == 0xffff && (inc == 0 || full == 0));
        }
    }
}
