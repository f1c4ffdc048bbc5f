//! Algorithm names as `netsh ipsec static` writes them (DES, 3DES, MD5, SHA1, DH groups 1/2/3)
//! extended with the modern ones Oakley supports (AES-CBC, AES-GCM, SHA-2, DH 14/19/20/31).
//!
//! Names parse case-insensitively. Weak algorithms (DES, MD5, group 1) still parse, because
//! existing scripts use them, but report `is_weak()` so `show` output can flag them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A confidentiality algorithm (ESP encryption, or the main mode cipher).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Cipher {
    /// ESP with null encryption (RFC 2410): integrity only.
    None,
    /// DES-CBC (weak; compatibility only).
    Des,
    /// 3DES-CBC, the Windows Server 2003 default.
    #[serde(rename = "3DES")]
    TripleDes,
    Aes128,
    Aes192,
    Aes256,
    /// AES-GCM with a 16-byte ICV (RFC 4106): combined mode, integrity must be `None`.
    AesGcm128,
    AesGcm192,
    AesGcm256,
}

impl Cipher {
    pub const ALL: [Cipher; 9] = [
        Cipher::None,
        Cipher::Des,
        Cipher::TripleDes,
        Cipher::Aes128,
        Cipher::Aes192,
        Cipher::Aes256,
        Cipher::AesGcm128,
        Cipher::AesGcm192,
        Cipher::AesGcm256,
    ];

    /// The name used in `qmsecmethods`/`mmsecmethods` values.
    pub fn name(self) -> &'static str {
        match self {
            Cipher::None => "None",
            Cipher::Des => "DES",
            Cipher::TripleDes => "3DES",
            Cipher::Aes128 => "AES128",
            Cipher::Aes192 => "AES192",
            Cipher::Aes256 => "AES256",
            Cipher::AesGcm128 => "AESGCM128",
            Cipher::AesGcm192 => "AESGCM192",
            Cipher::AesGcm256 => "AESGCM256",
        }
    }

    pub fn parse(s: &str) -> Option<Cipher> {
        Cipher::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(s.trim()))
    }

    /// Combined-mode ciphers authenticate by themselves.
    pub fn is_aead(self) -> bool {
        matches!(
            self,
            Cipher::AesGcm128 | Cipher::AesGcm192 | Cipher::AesGcm256
        )
    }

    pub fn is_weak(self) -> bool {
        self == Cipher::Des
    }
}

impl fmt::Display for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An integrity (hash) algorithm: ESP/AH authentication or the main mode hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Integrity {
    /// No integrity algorithm (only valid inside ESP with an AEAD or a real cipher).
    None,
    /// HMAC-MD5-96 (weak; compatibility only).
    Md5,
    /// HMAC-SHA1-96.
    Sha1,
    /// HMAC-SHA2-256-128 (RFC 4868).
    Sha256,
    Sha384,
    Sha512,
}

impl Integrity {
    pub const ALL: [Integrity; 6] = [
        Integrity::None,
        Integrity::Md5,
        Integrity::Sha1,
        Integrity::Sha256,
        Integrity::Sha384,
        Integrity::Sha512,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Integrity::None => "None",
            Integrity::Md5 => "MD5",
            Integrity::Sha1 => "SHA1",
            Integrity::Sha256 => "SHA256",
            Integrity::Sha384 => "SHA384",
            Integrity::Sha512 => "SHA512",
        }
    }

    pub fn parse(s: &str) -> Option<Integrity> {
        Integrity::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(s.trim()))
    }

    pub fn is_weak(self) -> bool {
        self == Integrity::Md5
    }
}

impl fmt::Display for Integrity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A Diffie-Hellman group, stored by its IANA number.
///
/// netsh numbers the 2048-bit MODP group "3" (its "DH2048"), which is IANA group 14; IANA
/// group 3 (an EC2N group) is not supported, so "3" is read as 14 and shown as 14.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DhGroup(pub u16);

impl DhGroup {
    /// IANA groups Oakley accepts: MODP 1, 2, 5, 14, 15, 16; ECP 19, 20, 21; Curve25519 (31).
    pub const SUPPORTED: [u16; 10] = [1, 2, 5, 14, 15, 16, 19, 20, 21, 31];

    /// Parses a netsh group number ("3" = 2048-bit MODP = IANA 14) or an IANA number.
    pub fn parse(s: &str) -> Option<DhGroup> {
        let s = s.trim();
        let s = s
            .strip_prefix("DH")
            .or_else(|| s.strip_prefix("dh"))
            .unwrap_or(s);
        let n: u16 = s.parse().ok()?;
        let n = if n == 3 { 14 } else { n };
        DhGroup::SUPPORTED.contains(&n).then_some(DhGroup(n))
    }

    pub fn is_weak(self) -> bool {
        self.0 == 1
    }
}

impl fmt::Display for DhGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for c in Cipher::ALL {
            assert_eq!(Cipher::parse(c.name()), Some(c));
            assert_eq!(Cipher::parse(&c.name().to_lowercase()), Some(c));
        }
        for i in Integrity::ALL {
            assert_eq!(Integrity::parse(i.name()), Some(i));
        }
    }

    #[test]
    fn netsh_group_three_is_modp_2048() {
        assert_eq!(DhGroup::parse("3"), Some(DhGroup(14)));
        assert_eq!(DhGroup::parse("14"), Some(DhGroup(14)));
        assert_eq!(DhGroup::parse("31"), Some(DhGroup(31)));
        assert_eq!(DhGroup::parse("4"), None);
        assert_eq!(DhGroup::parse("x"), None);
    }
}
