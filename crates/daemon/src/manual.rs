//! Manually keyed SAs: a TOML file that names each SA's endpoints, traffic, proposal, SPIs
//! and keys, as `ip xfrm state` or setkey would take them. Labs, tests and benchmarks use it
//! to run the data plane without IKE; every value is checked before anything is installed,
//! and an error names the SA and the field. Keys are zeroized when dropped and never shown.
//!
//! ```toml
//! tun = "oak0"            # optional
//! [[sa]]
//! name = "a-b"
//! mode = "transport"      # or "tunnel" (then local_ts and remote_ts are required)
//! local = "10.50.0.1"
//! remote = "10.50.0.2"
//! protocol = "esp"        # or "ah" (proposal is then an integrity keyword: "sha256")
//! proposal = "aes128gcm16"
//! encap = false           # true: ESP in UDP 4500 (RFC 3948)
//! out_spi = 0x1001
//! in_spi = 0x2002
//! out_key = "hex: encryption keying material (key, then salt), then the integrity key"
//! in_key = "hex"
//! ```

use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;
use serde::Deserialize;
use thiserror::Error;
use zeroize::Zeroizing;

use crate::algorithms::{self, EspSuite};
use crate::selector::Selector;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Syntax { path: String, message: String },
    #[error("sa '{name}': {field}: {reason}")]
    Sa {
        name: String,
        field: &'static str,
        reason: String,
    },
    #[error("sa '{0}' is defined twice")]
    Duplicate(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModeName {
    Transport,
    Tunnel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ProtocolName {
    #[default]
    Esp,
    Ah,
}

/// Hex key material as written in the file; never printed.
#[derive(Deserialize)]
#[serde(transparent)]
struct HexKey(Zeroizing<String>);

impl std::fmt::Debug for HexKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSa {
    name: String,
    mode: ModeName,
    local: IpAddr,
    remote: IpAddr,
    local_ts: Option<IpNet>,
    remote_ts: Option<IpNet>,
    #[serde(default)]
    protocol: ProtocolName,
    proposal: String,
    #[serde(default)]
    encap: bool,
    out_spi: u32,
    in_spi: u32,
    out_key: HexKey,
    in_key: HexKey,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    tun: Option<String>,
    #[serde(default, rename = "sa")]
    sas: Vec<RawSa>,
}

/// The algorithms of an SA.
#[derive(Debug, Clone, Copy)]
pub enum Suite {
    Esp(EspSuite),
    Ah(crypto::registry::IntegrityAlg),
}

/// A checked, manually keyed SA pair (one outbound, one inbound).
pub struct ManualSa {
    pub name: String,
    pub transport: bool,
    pub local: IpAddr,
    pub remote: IpAddr,
    pub selector: Selector,
    pub suite: Suite,
    /// UDP encapsulation ports (source, destination).
    pub encap: Option<(u16, u16)>,
    pub out_spi: u32,
    pub in_spi: u32,
    pub out_key: Zeroizing<Vec<u8>>,
    pub in_key: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for ManualSa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManualSa")
            .field("name", &self.name)
            .field("transport", &self.transport)
            .field("local", &self.local)
            .field("remote", &self.remote)
            .field("selector", &self.selector)
            .field("suite", &self.suite)
            .field("encap", &self.encap)
            .field("out_spi", &format_args!("{:#010x}", self.out_spi))
            .field("in_spi", &format_args!("{:#010x}", self.in_spi))
            .finish_non_exhaustive()
    }
}

pub struct ManualConfig {
    pub tun: String,
    pub sas: Vec<ManualSa>,
}

pub const DEFAULT_TUN: &str = "oak0";

impl ManualConfig {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses and checks a whole file; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: origin.to_owned(),
            message: e.to_string(),
        })?;
        let mut sas: Vec<ManualSa> = Vec::new();
        for r in raw.sas {
            if sas.iter().any(|s| s.name == r.name) {
                return Err(ConfigError::Duplicate(r.name));
            }
            let sa = check(r)?;
            if let Some(other) = sas
                .iter()
                .find(|s| s.in_spi == sa.in_spi && s.local == sa.local)
            {
                return Err(ConfigError::Sa {
                    name: sa.name,
                    field: "in_spi",
                    reason: format!("{:#x} is already used by '{}'", other.in_spi, other.name),
                });
            }
            sas.push(sa);
        }
        Ok(Self {
            tun: raw.tun.unwrap_or_else(|| DEFAULT_TUN.to_owned()),
            sas,
        })
    }
}

fn check(r: RawSa) -> Result<ManualSa, ConfigError> {
    let name = r.name.clone();
    let err = |field: &'static str, reason: String| ConfigError::Sa {
        name: name.clone(),
        field,
        reason,
    };
    if r.local.is_ipv4() != r.remote.is_ipv4() {
        return Err(err(
            "remote",
            "local and remote are of different families".into(),
        ));
    }
    let transport = r.mode == ModeName::Transport;
    let host = |a: IpAddr| IpNet::from(a);
    let (local_ts, remote_ts) = match (r.mode, r.local_ts, r.remote_ts) {
        (ModeName::Transport, l, rm) => {
            let l = l.unwrap_or_else(|| host(r.local));
            let rm = rm.unwrap_or_else(|| host(r.remote));
            // Transport mode protects the endpoints' own traffic only (RFC 4301 §4.1).
            if !l.contains(&r.local) || l.prefix_len() != l.max_prefix_len() {
                return Err(err(
                    "local_ts",
                    "transport mode covers only the local address".into(),
                ));
            }
            if !rm.contains(&r.remote) || rm.prefix_len() != rm.max_prefix_len() {
                return Err(err(
                    "remote_ts",
                    "transport mode covers only the remote address".into(),
                ));
            }
            (l, rm)
        }
        (ModeName::Tunnel, Some(l), Some(rm)) => (l, rm),
        (ModeName::Tunnel, None, _) => {
            return Err(err("local_ts", "required in tunnel mode".into()));
        }
        (ModeName::Tunnel, _, None) => {
            return Err(err("remote_ts", "required in tunnel mode".into()));
        }
    };
    let suite = match r.protocol {
        ProtocolName::Esp => Suite::Esp(
            algorithms::esp_suite(&r.proposal).map_err(|e| err("proposal", e.to_string()))?,
        ),
        ProtocolName::Ah => {
            if r.encap {
                return Err(err(
                    "encap",
                    "AH cannot be UDP-encapsulated (RFC 3948 is ESP only)".into(),
                ));
            }
            Suite::Ah(
                algorithms::integrity(&r.proposal).map_err(|e| err("proposal", e.to_string()))?,
            )
        }
    };
    let key_len = match suite {
        Suite::Esp(s) => s.encryption.keymat_len + s.integrity.map_or(0, |i| i.key_len),
        Suite::Ah(a) => a.key_len,
    };
    let key = |field: &'static str, k: &HexKey| -> Result<Zeroizing<Vec<u8>>, ConfigError> {
        let text: String =
            k.0.chars()
                .filter(|c| !c.is_whitespace() && *c != ':')
                .collect();
        let text = Zeroizing::new(text);
        let bytes = Zeroizing::new(
            hex::decode(text.trim_start_matches("0x"))
                .map_err(|_| err(field, "not hexadecimal".into()))?,
        );
        if bytes.len() != key_len {
            return Err(err(
                field,
                format!("{} bytes, the proposal needs {key_len}", bytes.len()),
            ));
        }
        Ok(bytes)
    };
    for (field, spi) in [("out_spi", r.out_spi), ("in_spi", r.in_spi)] {
        if spi < 256 {
            return Err(err(field, "SPIs 0-255 are reserved (RFC 4303 §2.1)".into()));
        }
    }
    Ok(ManualSa {
        transport,
        local: r.local,
        remote: r.remote,
        selector: Selector::between(local_ts, remote_ts),
        suite,
        encap: r.encap.then_some((4500, 4500)),
        out_spi: r.out_spi,
        in_spi: r.in_spi,
        out_key: key("out_key", &r.out_key)?,
        in_key: key("in_key", &r.in_key)?,
        name: r.name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
        [[sa]]
        name = "a-b"
        mode = "transport"
        local = "10.50.0.1"
        remote = "10.50.0.2"
        proposal = "aes128gcm16"
        out_spi = 0x1001
        in_spi = 0x2002
        out_key = "000102030405060708090a0b0c0d0e0f 10111213"
        in_key = "101112131415161718191a1b1c1d1e1f 20212223"
    "#;

    #[test]
    fn a_good_file_and_what_it_means() {
        let c = ManualConfig::parse(GOOD, "t.toml").unwrap();
        assert_eq!(c.tun, DEFAULT_TUN);
        let sa = &c.sas[0];
        assert!(sa.transport);
        assert_eq!(sa.selector.local, "10.50.0.1/32".parse::<IpNet>().unwrap());
        assert_eq!(sa.out_key.len(), 20);
        // Keys stay out of Debug output.
        let shown = format!("{sa:?}");
        assert!(!shown.contains("0001020304"), "{shown}");
    }

    #[test]
    fn errors_name_the_sa_and_field() {
        let cases = [
            (GOOD.replace("aes128gcm16", "aes128"), "proposal"),
            (GOOD.replace("0x1001", "7"), "out_spi"),
            (GOOD.replace("10111213\"", "101112\""), "out_key"),
            (GOOD.replace("\"transport\"", "\"tunnel\""), "local_ts"),
            (GOOD.replace("10.50.0.2", "fd00::2"), "remote"),
            (GOOD.replace("0e0f 1011", "0e0f zz11"), "out_key"),
        ];
        for (text, field) in cases {
            let e = ManualConfig::parse(&text, "t.toml").err().expect(field);
            let msg = e.to_string();
            assert!(msg.contains("'a-b'") && msg.contains(field), "{msg}");
        }
        let e = ManualConfig::parse(&GOOD.replace("mode", "mood"), "t.toml")
            .err()
            .unwrap();
        assert!(e.to_string().starts_with("t.toml:"), "{e}");
        let twice = format!("{GOOD}\n{GOOD}");
        assert!(matches!(
            ManualConfig::parse(&twice, "t.toml"),
            Err(ConfigError::Duplicate(_))
        ));
    }
}
