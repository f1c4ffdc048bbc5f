//! Inbound enforcement and computer startup security with nftables (MISSION Q8, Q9).
//!
//! The daemon owns one table (`inet oakley`). Every change replaces the whole table in one
//! `nft -j -f -` transaction (add table, delete table, add table and its contents), which
//! the kernel applies atomically: there is never a moment with half a ruleset, and a
//! refused ruleset leaves the previous one in force. The table is in one of two shapes:
//!
//! - **startup security** ([`Ruleset::Startup`]): Windows' computer startup modes.
//!   `stateful` lets out what the host initiates and in only the replies (conntrack),
//!   DHCP and the boot exemptions; `block` drops everything but DHCP and the boot
//!   exemptions (mirrored); `permit` filters nothing. It is installed before anything else
//!   when the daemon starts (and by `oakley-startup` at boot, before the network is up),
//!   and stays until policy replaces it.
//! - **policy** ([`Ruleset::Policy`]): the compiled specific filters as a first-match list
//!   of [`FwRule`]s. Cleartext that policy requires to be secured is dropped; packets the
//!   data plane decrypted come out of the TUN device and are accepted; ESP/AH and IKE
//!   (UDP 500/4500) are always accepted, other exemptions follow `ipsecexempt`.
//!
//! The table is left in place when the daemon is killed (`kill -9` cannot run cleanup), so
//! whatever was enforced keeps being enforced until a restarted daemon replaces it; a
//! graceful stop switches to the startup mode or removes the table.
//!
//! See [`rules`] for how each [`Enforcement`] becomes rules.

pub mod from_policy;
pub mod rules;

use std::net::IpAddr;

use control::{BootExemption, BootMode, Exemptions};
use ipnet::IpNet;
use serde::Serialize;
use thiserror::Error;

/// Name of the daemon's table (family `inet`).
pub const DEFAULT_TABLE: &str = "oakley";

/// How long a peer stays in the fallback-to-clear sets (Windows' soft SAs: 5 minutes).
pub const FALLBACK_SECS: u32 = 300;

#[derive(Debug, Error)]
pub enum FirewallError {
    #[error(
        "cannot run nft ({program}): {source}; install nftables or start oakleyd with --no-firewall"
    )]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("nft refused the ruleset (the previous one stays in force): {0}")]
    Refused(String),
}

/// Which packets a rule concerns (`None` = any). Addresses are prefixes of one family;
/// a rule with both addresses absent applies to IPv4 and IPv6.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Selector {
    pub src: Option<IpNet>,
    pub dst: Option<IpNet>,
    pub protocol: Option<u8>,
    pub src_port: Option<u16>,
    pub dst_port: Option<u16>,
}

/// Direction relative to this host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Inbound,
    Outbound,
}

/// What a filter action means for packets that travel in the clear (that is, not through
/// the data plane).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Enforcement {
    /// Permit: cleartext passes both ways.
    Permit,
    /// Block: dropped both ways.
    Block,
    /// Negotiate security without "accept unsecured communication": inbound cleartext is
    /// dropped, outbound cleartext may only leave through the data plane (TUN device, or
    /// sealed/re-sent with the daemon's mark).
    Require,
    /// Negotiate security with "accept unsecured communication, but always respond using
    /// IPsec" (inpass): inbound cleartext is accepted; the response goes out through the
    /// data plane, which secures it, and cleartext leaving any other way is dropped.
    Request,
}

/// One rule: a selector, a direction, what to do, whether "allow unsecured communication
/// with non-IPsec-aware computers" (fallback, soft) applies, and whether it comes from a
/// tunnel rule (tunnel rules also govern forwarded traffic).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FwRule {
    pub selector: Selector,
    pub direction: Direction,
    pub enforcement: Enforcement,
    /// With fallback, cleartext to and from peers in the fallback sets passes (the IKE
    /// side adds a peer with [`Firewall::allow_fallback`] when it did not answer IKE).
    pub fallback: bool,
    pub tunnel: bool,
    /// Shown beside the rule in `nft list` (policy and rule name).
    pub comment: String,
}

/// Policy enforcement: rules in first-match order plus the exemptions in force.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PolicyRules {
    pub rules: Vec<FwRule>,
    pub exemptions: Exemptions,
}

/// What the table enforces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ruleset {
    Startup {
        mode: BootMode,
        exemptions: Vec<BootExemption>,
    },
    Policy(PolicyRules),
}

/// Where the daemon's packets and decrypted traffic are recognised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setup {
    pub table: String,
    /// The data plane's TUN device: what comes out of it was decrypted and checked.
    pub tun: Option<String>,
    /// Firewall mark of packets the daemon sends itself (sealed ESP/AH, re-sent clear).
    pub mark: Option<u32>,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            table: DEFAULT_TABLE.into(),
            tun: None,
            mark: None,
        }
    }
}

/// Runs `nft` for the daemon's table.
#[derive(Clone, Debug)]
pub struct Firewall {
    pub setup: Setup,
    program: String,
}

impl Firewall {
    pub fn new(setup: Setup) -> Firewall {
        Firewall {
            setup,
            program: std::env::var("OAKLEY_NFT").unwrap_or_else(|_| "nft".into()),
        }
    }

    /// Replaces the table with `ruleset` in one transaction.
    pub fn apply(&self, ruleset: &Ruleset) -> Result<(), FirewallError> {
        let json = rules::to_json(&rules::build(&self.setup, ruleset));
        self.run(&json)
    }

    /// Removes the table (nothing happens if it is not there).
    pub fn remove(&self) -> Result<(), FirewallError> {
        let json = rules::to_json(&rules::remove(&self.setup));
        self.run(&json)
    }

    /// Lets cleartext to and from `peer` pass under rules with fallback, for
    /// [`FALLBACK_SECS`] (a "soft association"). Only valid while a policy ruleset is in
    /// force.
    pub fn allow_fallback(&self, peer: IpAddr) -> Result<(), FirewallError> {
        let json = rules::to_json(&rules::add_fallback(&self.setup, peer));
        self.run(&json)
    }

    /// Feeds `json` to `nft -j -f -`. (The crate's `apply_ruleset_raw` leaves nft's
    /// stderr on ours, so a refusal could not be reported to the control API's caller.)
    fn run(&self, json: &str) -> Result<(), FirewallError> {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let spawn_err = |source| FirewallError::Spawn {
            program: self.program.clone(),
            source,
        };
        let mut child = Command::new(&self.program)
            .args(["-j", "-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(spawn_err)?;
        if let Some(mut stdin) = child.stdin.take() {
            // A short write shows up as nft's own failure below.
            let _ = stdin.write_all(json.as_bytes());
        }
        let out = child.wait_with_output().map_err(spawn_err)?;
        if out.status.success() {
            Ok(())
        } else {
            Err(FirewallError::Refused(
                String::from_utf8_lossy(&out.stderr).trim().to_string(),
            ))
        }
    }
}
