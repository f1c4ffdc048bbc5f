//! Security methods and their netsh value grammars.
//!
//! Quick mode (`qmsecmethods`), one method per space-separated item, in preference order:
//! `ESP[ConfAlg,AuthAlg]:k/s`, `AH[HashAlg]:k/s` or `AH[HashAlg]+ESP[ConfAlg,AuthAlg]:k/s`,
//! where `k` is the key lifetime in kilobytes and `s` in seconds (either or both may be
//! left out, and then the Windows defaults of 100,000 KB and 3,600 s apply).
//!
//! Main mode (`mmsecmethods`): `ConfAlg-HashAlg-GroupNum` items such as `3DES-SHA1-2`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::algorithms::{Cipher, DhGroup, Integrity};

/// Windows' default quick mode key lifetime in kilobytes ("generate a new key every
/// 100000 KB").
pub const DEFAULT_QM_LIFETIME_KB: u64 = 100_000;
/// Windows' default quick mode key lifetime in seconds (one hour).
pub const DEFAULT_QM_LIFETIME_SECS: u64 = 3_600;

/// The ESP half of a quick mode method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EspTransform {
    pub cipher: Cipher,
    pub integrity: Integrity,
}

/// One quick mode security method: which of AH and ESP, their algorithms and the SA
/// lifetimes (RFC 4301 section 4.4.2.1 "SA lifetime", in the units Windows uses).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QmSecMethod {
    pub ah: Option<Integrity>,
    pub esp: Option<EspTransform>,
    pub lifetime_kb: u64,
    pub lifetime_secs: u64,
}

/// Why a method string did not parse; the CLI adds the parameter and line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{text}': {reason}")]
pub struct MethodSyntaxError {
    pub text: String,
    pub reason: String,
}

fn syntax(text: &str, reason: impl Into<String>) -> MethodSyntaxError {
    MethodSyntaxError {
        text: text.to_string(),
        reason: reason.into(),
    }
}

impl QmSecMethod {
    /// ESP with the given algorithms and the default lifetimes.
    pub fn esp(cipher: Cipher, integrity: Integrity) -> QmSecMethod {
        QmSecMethod {
            ah: None,
            esp: Some(EspTransform { cipher, integrity }),
            lifetime_kb: DEFAULT_QM_LIFETIME_KB,
            lifetime_secs: DEFAULT_QM_LIFETIME_SECS,
        }
    }

    /// AH alone with the default lifetimes.
    pub fn ah(integrity: Integrity) -> QmSecMethod {
        QmSecMethod {
            ah: Some(integrity),
            esp: None,
            lifetime_kb: DEFAULT_QM_LIFETIME_KB,
            lifetime_secs: DEFAULT_QM_LIFETIME_SECS,
        }
    }

    /// Parses one item such as `AH[MD5]+ESP[DES,MD5]:100000k/3600s`.
    pub fn parse(text: &str) -> Result<QmSecMethod, MethodSyntaxError> {
        let t = text.trim();
        let (protos, lifetime) = match t.split_once(':') {
            Some((p, l)) => (p, Some(l)),
            None => (t, None),
        };
        let mut ah = None;
        let mut esp = None;
        for part in protos.split('+') {
            let part = part.trim();
            let open = part
                .find('[')
                .ok_or_else(|| syntax(text, "expected ESP[...] or AH[...]"))?;
            if !part.ends_with(']') {
                return Err(syntax(text, "missing ']'"));
            }
            let proto = &part[..open];
            let args: Vec<&str> = part[open + 1..part.len() - 1].split(',').collect();
            if proto.eq_ignore_ascii_case("AH") {
                if ah.is_some() {
                    return Err(syntax(text, "AH appears twice"));
                }
                if args.len() != 1 {
                    return Err(syntax(text, "AH takes one hash algorithm: AH[SHA1]"));
                }
                let h = Integrity::parse(args[0])
                    .ok_or_else(|| syntax(text, format!("unknown hash '{}'", args[0])))?;
                ah = Some(h);
            } else if proto.eq_ignore_ascii_case("ESP") {
                if esp.is_some() {
                    return Err(syntax(text, "ESP appears twice"));
                }
                if args.len() != 2 {
                    return Err(syntax(
                        text,
                        "ESP takes a cipher and an integrity algorithm: ESP[3DES,SHA1]",
                    ));
                }
                let cipher = Cipher::parse(args[0])
                    .ok_or_else(|| syntax(text, format!("unknown cipher '{}'", args[0])))?;
                let integrity = Integrity::parse(args[1])
                    .ok_or_else(|| syntax(text, format!("unknown hash '{}'", args[1])))?;
                esp = Some(EspTransform { cipher, integrity });
            } else {
                return Err(syntax(
                    text,
                    format!("unknown protocol '{proto}' (ESP or AH)"),
                ));
            }
        }
        let (lifetime_kb, lifetime_secs) = match lifetime {
            None => (DEFAULT_QM_LIFETIME_KB, DEFAULT_QM_LIFETIME_SECS),
            Some(l) => parse_lifetime(text, l)?,
        };
        Ok(QmSecMethod {
            ah,
            esp,
            lifetime_kb,
            lifetime_secs,
        })
    }

    /// Parses a space-separated list, keeping the order (the preference order).
    pub fn parse_list(text: &str) -> Result<Vec<QmSecMethod>, MethodSyntaxError> {
        text.split_whitespace().map(QmSecMethod::parse).collect()
    }

    /// True when any algorithm in the method is kept for compatibility only.
    pub fn is_weak(&self) -> bool {
        self.ah.is_some_and(Integrity::is_weak)
            || self
                .esp
                .is_some_and(|e| e.cipher.is_weak() || e.integrity.is_weak())
    }
}

/// `100000k/3600s`, `100000k`, `3600s` or `3600s/100000k`.
fn parse_lifetime(text: &str, l: &str) -> Result<(u64, u64), MethodSyntaxError> {
    let mut kb = None;
    let mut secs = None;
    for piece in l.split('/') {
        let piece = piece.trim();
        let (num, unit) = piece.split_at(piece.len().saturating_sub(1));
        let value: u64 = num.parse().map_err(|_| {
            syntax(
                text,
                format!("lifetime '{piece}' is not <number>k or <number>s"),
            )
        })?;
        let slot = match unit {
            "k" | "K" => &mut kb,
            "s" | "S" => &mut secs,
            _ => {
                return Err(syntax(
                    text,
                    format!("lifetime '{piece}' needs a unit: k (kilobytes) or s (seconds)"),
                ));
            }
        };
        if slot.replace(value).is_some() {
            return Err(syntax(
                text,
                format!("lifetime unit of '{piece}' given twice"),
            ));
        }
    }
    Ok((
        kb.unwrap_or(DEFAULT_QM_LIFETIME_KB),
        secs.unwrap_or(DEFAULT_QM_LIFETIME_SECS),
    ))
}

impl fmt::Display for QmSecMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(h) = self.ah {
            write!(f, "AH[{h}]")?;
            if self.esp.is_some() {
                f.write_str("+")?;
            }
        }
        if let Some(e) = self.esp {
            write!(f, "ESP[{},{}]", e.cipher, e.integrity)?;
        }
        write!(f, ":{}k/{}s", self.lifetime_kb, self.lifetime_secs)
    }
}

/// One main mode security method: cipher, hash and Diffie-Hellman group of the IKE SA.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MmSecMethod {
    pub cipher: Cipher,
    pub hash: Integrity,
    pub group: DhGroup,
}

impl MmSecMethod {
    /// Parses `3DES-SHA1-2` (cipher, hash, netsh or IANA group number).
    pub fn parse(text: &str) -> Result<MmSecMethod, MethodSyntaxError> {
        let parts: Vec<&str> = text.trim().split('-').collect();
        if parts.len() != 3 {
            return Err(syntax(
                text,
                "expected Cipher-Hash-Group such as 3DES-SHA1-2",
            ));
        }
        let cipher = Cipher::parse(parts[0])
            .ok_or_else(|| syntax(text, format!("unknown cipher '{}'", parts[0])))?;
        let hash = Integrity::parse(parts[1])
            .ok_or_else(|| syntax(text, format!("unknown hash '{}'", parts[1])))?;
        let group = DhGroup::parse(parts[2]).ok_or_else(|| {
            syntax(
                text,
                format!(
                    "unknown Diffie-Hellman group '{}' (1, 2, 3 = 2048-bit, 5, 14, 15, 16, 19, 20, 21, 31)",
                    parts[2]
                ),
            )
        })?;
        Ok(MmSecMethod {
            cipher,
            hash,
            group,
        })
    }

    pub fn parse_list(text: &str) -> Result<Vec<MmSecMethod>, MethodSyntaxError> {
        text.split_whitespace().map(MmSecMethod::parse).collect()
    }

    pub fn is_weak(&self) -> bool {
        self.cipher.is_weak() || self.hash.is_weak() || self.group.is_weak()
    }
}

impl fmt::Display for MmSecMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.cipher, self.hash, self.group)
    }
}

/// Formats a list the way netsh writes it: space-separated, weak items marked.
pub fn describe_list<T: fmt::Display>(items: &[T], weak: impl Fn(&T) -> bool) -> String {
    items
        .iter()
        .map(|m| {
            if weak(m) {
                format!("{m} (weak)")
            } else {
                m.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_example_parses_in_order() {
        let l =
            QmSecMethod::parse_list("ESP[3DES,SHA1]:100000k/3600s AH[MD5]+ESP[DES,MD5]").unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(
            l[0].esp,
            Some(EspTransform {
                cipher: Cipher::TripleDes,
                integrity: Integrity::Sha1
            })
        );
        assert_eq!(l[1].ah, Some(Integrity::Md5));
        assert_eq!(l[1].esp.unwrap().cipher, Cipher::Des);
        assert_eq!(l[1].lifetime_kb, DEFAULT_QM_LIFETIME_KB);
        assert_eq!(l[1].to_string(), "AH[MD5]+ESP[DES,MD5]:100000k/3600s");
        assert!(l[1].is_weak());
    }

    #[test]
    fn netsh_reference_example() {
        let l = QmSecMethod::parse_list("AH[MD5]:204800k/300s ESP[DES,SHA1]:30000k/480s").unwrap();
        assert_eq!((l[0].lifetime_kb, l[0].lifetime_secs), (204_800, 300));
        assert_eq!((l[1].lifetime_kb, l[1].lifetime_secs), (30_000, 480));
        let one = QmSecMethod::parse("esp[aesgcm128,none]:3600s").unwrap();
        assert_eq!(one.lifetime_secs, 3600);
        assert_eq!(one.esp.unwrap().cipher, Cipher::AesGcm128);
    }

    #[test]
    fn bad_methods_say_why() {
        let e = QmSecMethod::parse("ESP[3DES]").unwrap_err();
        assert!(e.reason.contains("cipher and an integrity"), "{e}");
        let e = QmSecMethod::parse("ESP[3DES,SHA1]:100x").unwrap_err();
        assert!(e.reason.contains("unit"), "{e}");
        let e = QmSecMethod::parse("GRE[3DES,SHA1]").unwrap_err();
        assert!(e.reason.contains("GRE"), "{e}");
        assert!(QmSecMethod::parse("ESP[3DES,SHA1").is_err());
        assert!(QmSecMethod::parse("ESP[3DES,SHA1]:k").is_err());
    }

    #[test]
    fn main_mode_methods() {
        let l = MmSecMethod::parse_list("3DES-SHA1-2 3DES-SHA1-3 AES256-SHA256-20").unwrap();
        assert_eq!(l[1].group, DhGroup(14));
        assert_eq!(l[2].to_string(), "AES256-SHA256-20");
        assert!(MmSecMethod::parse("3DES-SHA1").is_err());
        assert!(MmSecMethod::parse("DES-MD5-1").unwrap().is_weak());
    }
}
