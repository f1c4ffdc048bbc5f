//! Key export for debugging: the line Wireshark's ESP dissector reads from its `esp_sa`
//! table (Preferences > Protocols > ESP > ESP SAs), so a capture of Oakley's traffic can be
//! decrypted and its ICVs checked by an independent tool. Writing keys out is a deliberate
//! act: nothing calls this unless key export was switched on.

use std::fmt::Write;
use std::net::IpAddr;

use crypto::registry::{Encryption, IntegrityAlg, encr, integ};

/// Wireshark's label for an encryption algorithm, if it can decrypt it.
pub fn encryption_label(e: &Encryption) -> Option<&'static str> {
    Some(match e.id {
        encr::NULL => "NULL",
        encr::DES => "DES-CBC [RFC2405]",
        encr::TRIPLE_DES => "TripleDES-CBC [RFC2451]",
        encr::AES_CBC => "AES-CBC [RFC3602]",
        encr::AES_CTR => "AES-CTR [RFC3686]",
        encr::AES_GCM_8 => "AES-GCM with 8 octet ICV [RFC4106]",
        encr::AES_GCM_12 => "AES-GCM with 12 octet ICV [RFC4106]",
        encr::AES_GCM_16 => "AES-GCM with 16 octet ICV [RFC4106]",
        encr::CHACHA20_POLY1305 => "ChaCha20 with Poly1305 [RFC7634]",
        _ => return None,
    })
}

/// Wireshark's label for an integrity algorithm (`None` = no integrity: "NULL").
pub fn integrity_label(i: Option<&IntegrityAlg>) -> Option<&'static str> {
    Some(match i.map(|i| i.id) {
        None => "NULL",
        Some(integ::HMAC_MD5_96) => "HMAC-MD5-96 [RFC2403]",
        Some(integ::HMAC_SHA1_96) => "HMAC-SHA-1-96 [RFC2404]",
        Some(integ::HMAC_SHA2_256_128) => "HMAC-SHA-256-128 [RFC4868]",
        Some(integ::HMAC_SHA2_384_192) => "HMAC-SHA-384-192 [RFC4868]",
        Some(integ::HMAC_SHA2_512_256) => "HMAC-SHA-512-256 [RFC4868]",
        Some(_) => return None,
    })
}

fn hex(out: &mut String, b: &[u8]) {
    out.push_str("0x");
    for x in b {
        let _ = write!(out, "{x:02x}");
    }
}

/// One `esp_sa` line for the SA from `src` to `dst`: encryption keying material as the KDF
/// gave it (key plus salt/nonce, which is what Wireshark expects for GCM and CTR) and the
/// integrity key. `None` when Wireshark has no name for an algorithm.
pub fn wireshark_esp_sa(
    src: IpAddr,
    dst: IpAddr,
    spi: u32,
    encryption: &Encryption,
    encr_keymat: &[u8],
    integrity: Option<(&IntegrityAlg, &[u8])>,
) -> Option<String> {
    let e = encryption_label(encryption)?;
    let i = integrity_label(integrity.map(|(a, _)| a))?;
    let family = if src.is_ipv4() { "IPv4" } else { "IPv6" };
    let mut line = format!("\"{family}\",\"{src}\",\"{dst}\",\"0x{spi:08x}\",\"{e}\",\"");
    hex(&mut line, encr_keymat);
    let _ = write!(line, "\",\"{i}\",\"");
    if let Some((_, k)) = integrity {
        hex(&mut line, k);
    }
    line.push('"');
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crypto::registry;

    #[test]
    fn line_format() {
        let e = registry::encryption(encr::AES_CBC, Some(128)).unwrap();
        let i = registry::integrity(integ::HMAC_SHA2_256_128).unwrap();
        let line = wireshark_esp_sa(
            "10.77.0.2".parse().unwrap(),
            "10.77.0.1".parse().unwrap(),
            0x2000,
            &e,
            &[0xab; 16],
            Some((&i, &[0x01; 32])),
        )
        .unwrap();
        assert_eq!(
            line,
            format!(
                "\"IPv4\",\"10.77.0.2\",\"10.77.0.1\",\"0x00002000\",\"AES-CBC [RFC3602]\",\"0x{}\",\"HMAC-SHA-256-128 [RFC4868]\",\"0x{}\"",
                "ab".repeat(16),
                "01".repeat(32)
            )
        );
    }
}
