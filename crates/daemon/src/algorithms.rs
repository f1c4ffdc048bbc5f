//! Algorithm keywords as administrators write them in proposals (the strongSwan-style
//! `aes128gcm16`, `aes256-sha256`, `3des-sha1`), resolved through the crypto registry.

use crypto::registry::{self, Encryption, IntegrityAlg, encr, integ};
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum AlgorithmError {
    #[error("unknown encryption algorithm '{0}'")]
    UnknownEncryption(String),
    #[error("unknown integrity algorithm '{0}'")]
    UnknownIntegrity(String),
    #[error("'{0}' needs an integrity algorithm (e.g. '{0}-sha256')")]
    NeedsIntegrity(String),
    #[error("'{0}' is a combined mode and takes no integrity algorithm")]
    CombinedTakesNoIntegrity(String),
    #[error("'{0}': too many parts")]
    TooManyParts(String),
}

/// An ESP suite: encryption and, unless it is a combined mode, integrity.
#[derive(Debug, Clone, Copy)]
pub struct EspSuite {
    pub encryption: Encryption,
    pub integrity: Option<IntegrityAlg>,
}

fn encryption(word: &str) -> Option<Encryption> {
    let (id, bits) = match word {
        "aes128" | "aes128cbc" => (encr::AES_CBC, Some(128)),
        "aes192" | "aes192cbc" => (encr::AES_CBC, Some(192)),
        "aes256" | "aes256cbc" => (encr::AES_CBC, Some(256)),
        "aes128ctr" => (encr::AES_CTR, Some(128)),
        "aes192ctr" => (encr::AES_CTR, Some(192)),
        "aes256ctr" => (encr::AES_CTR, Some(256)),
        "aes128gcm8" => (encr::AES_GCM_8, Some(128)),
        "aes128gcm12" => (encr::AES_GCM_12, Some(128)),
        "aes128gcm16" | "aes128gcm" => (encr::AES_GCM_16, Some(128)),
        "aes192gcm16" | "aes192gcm" => (encr::AES_GCM_16, Some(192)),
        "aes256gcm8" => (encr::AES_GCM_8, Some(256)),
        "aes256gcm12" => (encr::AES_GCM_12, Some(256)),
        "aes256gcm16" | "aes256gcm" => (encr::AES_GCM_16, Some(256)),
        "aes128gmac" => (encr::NULL_AUTH_AES_GMAC, Some(128)),
        "aes192gmac" => (encr::NULL_AUTH_AES_GMAC, Some(192)),
        "aes256gmac" => (encr::NULL_AUTH_AES_GMAC, Some(256)),
        "chacha20poly1305" => (encr::CHACHA20_POLY1305, None),
        "3des" => (encr::TRIPLE_DES, None),
        "des" => (encr::DES, None),
        "null" => (encr::NULL, None),
        _ => return None,
    };
    registry::encryption(id, bits).ok()
}

/// An integrity keyword (`sha1`, `sha256`, `sha384`, `sha512`, `md5`).
pub fn integrity(word: &str) -> Result<IntegrityAlg, AlgorithmError> {
    let id = match word {
        "md5" => integ::HMAC_MD5_96,
        "sha1" | "sha" => integ::HMAC_SHA1_96,
        "sha256" | "sha2_256" => integ::HMAC_SHA2_256_128,
        "sha384" | "sha2_384" => integ::HMAC_SHA2_384_192,
        "sha512" | "sha2_512" => integ::HMAC_SHA2_512_256,
        _ => return Err(AlgorithmError::UnknownIntegrity(word.to_owned())),
    };
    registry::integrity(id).map_err(|_| AlgorithmError::UnknownIntegrity(word.to_owned()))
}

/// Parses an ESP proposal such as `aes128gcm16` or `aes256-sha256`.
pub fn esp_suite(proposal: &str) -> Result<EspSuite, AlgorithmError> {
    let lower = proposal.trim().to_ascii_lowercase();
    let mut parts = lower.split('-');
    let e_word = parts.next().unwrap_or_default();
    let e = encryption(e_word).ok_or_else(|| AlgorithmError::UnknownEncryption(e_word.into()))?;
    let i = parts.next().map(integrity).transpose()?;
    if parts.next().is_some() {
        return Err(AlgorithmError::TooManyParts(proposal.to_owned()));
    }
    match (e.is_aead(), i) {
        (true, Some(_)) => Err(AlgorithmError::CombinedTakesNoIntegrity(e_word.into())),
        (false, None) => Err(AlgorithmError::NeedsIntegrity(e_word.into())),
        (_, i) => Ok(EspSuite {
            encryption: e,
            integrity: i,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proposals() {
        let s = esp_suite("aes128gcm16").unwrap();
        assert_eq!(
            (s.encryption.id, s.encryption.key_bits),
            (encr::AES_GCM_16, 128)
        );
        assert!(s.integrity.is_none());
        let s = esp_suite("AES256-SHA256").unwrap();
        assert_eq!(s.integrity.unwrap().id, integ::HMAC_SHA2_256_128);
        assert_eq!(
            esp_suite("aes128").unwrap_err(),
            AlgorithmError::NeedsIntegrity("aes128".into())
        );
        assert!(matches!(
            esp_suite("aes128gcm16-sha1"),
            Err(AlgorithmError::CombinedTakesNoIntegrity(_))
        ));
        assert!(matches!(
            esp_suite("rot13"),
            Err(AlgorithmError::UnknownEncryption(_))
        ));
        assert!(matches!(
            esp_suite("aes128-sha3"),
            Err(AlgorithmError::UnknownIntegrity(_))
        ));
        assert!(matches!(
            esp_suite("3des-sha1-x"),
            Err(AlgorithmError::TooManyParts(_))
        ));
    }
}
