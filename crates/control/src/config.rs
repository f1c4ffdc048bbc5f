//! The daemon's run-time configuration: the properties of `netsh ipsec dynamic set config`
//! (Windows Server 2003), their value grammars, ranges and defaults.
//!
//! | property | values | default |
//! |---|---|---|
//! | `ipsecdiagnostics` | 0-7 | 0 |
//! | `ikelogging` | 0 (off), 1 (on) | 0 |
//! | `strongcrlcheck` | 0 (no CRL check), 1 (fail if revoked), 2 (fail on any CRL error) | 1 |
//! | `ipsecloginterval` | 60-86400 seconds | 3600 |
//! | `ipsecexempt` | 0-3 (which traffic is exempt from IPsec, below) | 3 |
//! | `bootmode` | `stateful`, `block`, `permit` | `stateful` |
//! | `bootexemptions` | `none`, or `protocol:srcport:dstport:direction` ... | `none` |
//!
//! `ipsecexempt`: 0 exempts multicast, broadcast, RSVP, Kerberos and IKE; 1 stops exempting
//! Kerberos and RSVP; 2 stops exempting multicast and broadcast; 3 (the Windows Server 2003
//! default) exempts only IKE. Unlike the rest of the dynamic context, Windows keeps these
//! settings across restarts (they live in the registry); so does oakleyd, in
//! `<state-dir>/config.json`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What the host does before IPsec policy is applied (computer startup security, MISSION
/// Q9): Windows' IPsec driver modes at computer startup.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BootMode {
    /// Outbound traffic the host initiates and the inbound replies to it pass; DHCP and
    /// the boot exemptions pass; all other inbound traffic is dropped.
    #[default]
    Stateful,
    /// Everything is dropped except DHCP and the boot exemptions.
    Block,
    /// No filtering.
    Permit,
}

impl BootMode {
    pub fn parse(s: &str) -> Option<BootMode> {
        match s.trim().to_ascii_lowercase().as_str() {
            "stateful" => Some(BootMode::Stateful),
            "block" => Some(BootMode::Block),
            "permit" => Some(BootMode::Permit),
            _ => None,
        }
    }

    pub fn keyword(self) -> &'static str {
        match self {
            BootMode::Stateful => "stateful",
            BootMode::Block => "block",
            BootMode::Permit => "permit",
        }
    }
}

impl fmt::Display for BootMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BootMode::Stateful => "STATEFUL",
            BootMode::Block => "BLOCK",
            BootMode::Permit => "PERMIT",
        })
    }
}

/// Direction of a boot exemption, seen from this host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExemptDirection {
    Inbound,
    Outbound,
}

/// One computer startup exemption, written `protocol:srcport:dstport:direction` as netsh
/// takes it (`TCP:0:22:inbound`). Protocol is ICMP, TCP, UDP, RAW or a number (ANY for
/// every protocol); port 0 means any port. An exemption is mirrored: replies to an inbound
/// exemption pass outbound, and the other way round.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BootExemption {
    /// IP protocol number; `None` = any protocol.
    pub protocol: Option<u8>,
    pub src_port: u16,
    pub dst_port: u16,
    pub direction: ExemptDirection,
}

fn protocol_name(p: Option<u8>) -> String {
    match p {
        None => "ANY".into(),
        Some(1) => "ICMP".into(),
        Some(6) => "TCP".into(),
        Some(17) => "UDP".into(),
        Some(255) => "RAW".into(),
        Some(n) => n.to_string(),
    }
}

impl BootExemption {
    /// Parses one `protocol:srcport:dstport:direction` item.
    pub fn parse(s: &str) -> Result<BootExemption, String> {
        let parts: Vec<&str> = s.trim().split(':').collect();
        let [proto, sp, dp, dir] = parts[..] else {
            return Err(format!(
                "'{s}' is not protocol:srcport:dstport:direction (for example TCP:0:22:inbound)"
            ));
        };
        let protocol = match proto.to_ascii_uppercase().as_str() {
            "ANY" => None,
            "ICMP" => Some(1),
            "TCP" => Some(6),
            "UDP" => Some(17),
            "RAW" => Some(255),
            n => Some(n.parse::<u8>().map_err(|_| {
                format!("'{proto}' is not a protocol (ANY, ICMP, TCP, UDP, RAW or 0-255)")
            })?),
        };
        let port = |p: &str| {
            p.parse::<u16>()
                .map_err(|_| format!("'{p}' is not a port (0-65535, 0 = any)"))
        };
        let (src_port, dst_port) = (port(sp)?, port(dp)?);
        if (src_port != 0 || dst_port != 0) && !matches!(protocol, Some(6 | 17)) {
            return Err(format!(
                "'{s}': ports are only meaningful with TCP or UDP (use 0)"
            ));
        }
        let direction = match dir.to_ascii_lowercase().as_str() {
            "inbound" | "in" => ExemptDirection::Inbound,
            "outbound" | "out" => ExemptDirection::Outbound,
            _ => return Err(format!("'{dir}' is not inbound or outbound")),
        };
        Ok(BootExemption {
            protocol,
            src_port,
            dst_port,
            direction,
        })
    }

    /// Parses the `bootexemptions` value: `none`, or items separated by blanks or commas.
    pub fn parse_list(s: &str) -> Result<Vec<BootExemption>, String> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("none") || t.is_empty() {
            return Ok(Vec::new());
        }
        let mut v = Vec::new();
        for item in t.split(|c: char| c.is_whitespace() || c == ',') {
            if item.is_empty() {
                continue;
            }
            let e = BootExemption::parse(item)?;
            if !v.contains(&e) {
                v.push(e);
            }
        }
        if v.len() > MAX_BOOT_EXEMPTIONS {
            return Err(format!("at most {MAX_BOOT_EXEMPTIONS} boot exemptions"));
        }
        Ok(v)
    }
}

/// Bound on the number of boot exemptions (each becomes firewall rules).
pub const MAX_BOOT_EXEMPTIONS: usize = 256;

impl fmt::Display for BootExemption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}:{}",
            protocol_name(self.protocol),
            self.src_port,
            self.dst_port,
            match self.direction {
                ExemptDirection::Inbound => "inbound",
                ExemptDirection::Outbound => "outbound",
            }
        )
    }
}

/// Which traffic bypasses IPsec filtering (`ipsecexempt`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exemptions {
    pub multicast_broadcast: bool,
    pub kerberos: bool,
    pub rsvp: bool,
}

impl Exemptions {
    /// The meaning of an `ipsecexempt` level (IKE is always exempt).
    pub fn from_level(level: u8) -> Exemptions {
        Exemptions {
            multicast_broadcast: matches!(level, 0 | 1),
            kerberos: matches!(level, 0 | 2),
            rsvp: matches!(level, 0 | 2),
        }
    }
}

/// The persisted dynamic configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DynamicConfig {
    pub ipsec_diagnostics: u8,
    pub ike_logging: u8,
    pub strong_crl_check: u8,
    pub ipsec_log_interval: u32,
    pub ipsec_exempt: u8,
    pub boot_mode: BootMode,
    pub boot_exemptions: Vec<BootExemption>,
}

impl Default for DynamicConfig {
    fn default() -> Self {
        DynamicConfig {
            ipsec_diagnostics: 0,
            ike_logging: 0,
            strong_crl_check: 1,
            ipsec_log_interval: 3600,
            ipsec_exempt: 3,
            boot_mode: BootMode::Stateful,
            boot_exemptions: Vec::new(),
        }
    }
}

/// The `set config property=` names, in netsh's order.
pub const PROPERTIES: &[&str] = &[
    "ipsecdiagnostics",
    "ikelogging",
    "strongcrlcheck",
    "ipsecloginterval",
    "ipsecexempt",
    "bootmode",
    "bootexemptions",
];

/// Why a `set config` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("unknown property '{0}' (one of: {list})", list = PROPERTIES.join(", "))]
    UnknownProperty(String),
    #[error("{property}: {reason}")]
    Value { property: String, reason: String },
}

fn number<T>(property: &str, v: &str, lo: T, hi: T) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + fmt::Display + Copy,
{
    let bad = || ConfigError::Value {
        property: property.into(),
        reason: format!("'{}' is not a number from {lo} to {hi}", v.trim()),
    };
    let n: T = v.trim().parse().map_err(|_| bad())?;
    if n < lo || n > hi {
        return Err(bad());
    }
    Ok(n)
}

impl DynamicConfig {
    /// Applies one `set config property=... value=...`; the configuration is unchanged on
    /// error. Returns the canonical property name.
    pub fn set(&mut self, property: &str, value: &str) -> Result<&'static str, ConfigError> {
        let p = PROPERTIES
            .iter()
            .copied()
            .find(|p| p.eq_ignore_ascii_case(property.trim()))
            .ok_or_else(|| ConfigError::UnknownProperty(property.to_string()))?;
        match p {
            "ipsecdiagnostics" => self.ipsec_diagnostics = number(p, value, 0, 7)?,
            "ikelogging" => self.ike_logging = number(p, value, 0, 1)?,
            "strongcrlcheck" => self.strong_crl_check = number(p, value, 0, 2)?,
            "ipsecloginterval" => self.ipsec_log_interval = number(p, value, 60, 86400)?,
            "ipsecexempt" => self.ipsec_exempt = number(p, value, 0, 3)?,
            "bootmode" => {
                self.boot_mode = BootMode::parse(value).ok_or_else(|| ConfigError::Value {
                    property: p.into(),
                    reason: format!("'{value}' is not stateful, block or permit"),
                })?;
            }
            _ => {
                self.boot_exemptions =
                    BootExemption::parse_list(value).map_err(|reason| ConfigError::Value {
                        property: p.into(),
                        reason,
                    })?;
            }
        }
        Ok(p)
    }

    /// Checks a configuration read from a file (every value in range).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut c = DynamicConfig::default();
        for (p, v) in self.as_properties() {
            c.set(p, &v)?;
        }
        Ok(())
    }

    /// Property name and value, as `set config` would take them.
    pub fn as_properties(&self) -> Vec<(&'static str, String)> {
        let ex = if self.boot_exemptions.is_empty() {
            "none".to_string()
        } else {
            self.boot_exemptions
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        };
        vec![
            ("ipsecdiagnostics", self.ipsec_diagnostics.to_string()),
            ("ikelogging", self.ike_logging.to_string()),
            ("strongcrlcheck", self.strong_crl_check.to_string()),
            ("ipsecloginterval", self.ipsec_log_interval.to_string()),
            ("ipsecexempt", self.ipsec_exempt.to_string()),
            ("bootmode", self.boot_mode.keyword().to_string()),
            ("bootexemptions", ex),
        ]
    }

    pub fn exemptions(&self) -> Exemptions {
        Exemptions::from_level(self.ipsec_exempt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_checks_ranges_and_keeps_old_values_on_error() {
        let mut c = DynamicConfig::default();
        assert_eq!(c.set("IKELogging", "1").unwrap(), "ikelogging");
        assert_eq!(c.ike_logging, 1);
        assert!(c.set("ikelogging", "2").is_err());
        assert!(c.set("ipsecloginterval", "59").is_err());
        c.set("ipsecloginterval", "86400").unwrap();
        assert!(c.set("ipsecdiagnostics", "-1").is_err());
        assert!(c.set("bootmode", "open").is_err());
        c.set("bootmode", "BLOCK").unwrap();
        assert_eq!(c.boot_mode, BootMode::Block);
        let e = c.set("color", "red").unwrap_err();
        assert!(e.to_string().contains("unknown property 'color'"), "{e}");
        assert_eq!(c.ike_logging, 1);
        c.validate().unwrap();
    }

    #[test]
    fn boot_exemptions_grammar() {
        let v = BootExemption::parse_list("TCP:0:22:inbound udp:0:53:outbound 50:0:0:in").unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(v[0].to_string(), "TCP:0:22:inbound");
        assert_eq!(v[1].to_string(), "UDP:0:53:outbound");
        assert_eq!(v[2].protocol, Some(50));
        assert!(BootExemption::parse_list("none").unwrap().is_empty());
        for bad in [
            "TCP:0:22",
            "TCP:0:99999:inbound",
            "XYZ:0:1:inbound",
            "TCP:0:22:sideways",
            "ICMP:1:0:inbound",
        ] {
            assert!(BootExemption::parse_list(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn exempt_levels() {
        let l3 = Exemptions::from_level(3);
        assert!(!l3.kerberos && !l3.rsvp && !l3.multicast_broadcast);
        let l0 = Exemptions::from_level(0);
        assert!(l0.kerberos && l0.rsvp && l0.multicast_broadcast);
        let l1 = Exemptions::from_level(1);
        assert!(!l1.kerberos && l1.multicast_broadcast);
        let l2 = Exemptions::from_level(2);
        assert!(l2.kerberos && !l2.multicast_broadcast);
    }
}
