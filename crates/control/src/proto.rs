//! Messages of the control API: one JSON object per line each way, a request and then its
//! response, as many pairs as the client wants on one connection.
//!
//! ```text
//! > {"command":"show_stats"}
//! < {"status":"ok","result":{"kind":"stats","quick_mode":{...},"main_mode":null,...}}
//! > {"command":"set_config","property":"bootmode","value":"block"}
//! < {"status":"error","code":"invalid_value","message":"bootmode: 'x' is not stateful, block or permit"}
//! ```
//! Names follow `netsh ipsec dynamic` (show mmsas, qmsas, stats, mmfilter, qmfilter, all;
//! set config; delete mmsas, qmsas) and the IP Security Monitor's labels. Nothing in a
//! reply ever carries key material: SA views hold algorithm names and SPIs only, and
//! authentication methods show pre-shared keys as `********`.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::config::DynamicConfig;

/// A request from a client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Is the daemon there? Answers [`Reply::Pong`].
    Ping,
    /// Re-reads the policy stores and applies the result (persistent policy first).
    Reload,
    ShowConfig,
    SetConfig {
        property: String,
        value: String,
    },
    ShowStats {
        #[serde(default)]
        kind: StatsKind,
    },
    ShowMmSas {
        #[serde(default)]
        filter: SaFilter,
    },
    ShowQmSas {
        #[serde(default)]
        filter: SaFilter,
    },
    DeleteMmSas {
        #[serde(default)]
        filter: SaFilter,
    },
    DeleteQmSas {
        #[serde(default)]
        filter: SaFilter,
    },
    ShowMmFilter {
        #[serde(default)]
        query: FilterQuery,
    },
    ShowQmFilter {
        #[serde(default)]
        query: FilterQuery,
    },
    ShowAll,
}

/// `show stats type=all|ike|ipsec`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatsKind {
    #[default]
    All,
    Ike,
    Ipsec,
}

/// Which SAs a show or delete concerns: all, or those between given addresses (either
/// end may be given; `src` and `dst` match the SA's two ends in either order) and, for
/// quick mode, of one protocol.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaFilter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dst: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<u8>,
}

impl SaFilter {
    /// Does an SA between `me` and `peer` carrying `protocol` (None = any) match?
    pub fn matches(&self, me: IpAddr, peer: IpAddr, protocol: Option<u8>) -> bool {
        let ends = |a: Option<IpAddr>, b: Option<IpAddr>| {
            a.is_none_or(|a| a == me) && b.is_none_or(|b| b == peer)
        };
        let addr_ok = ends(self.src, self.dst) || ends(self.dst, self.src);
        let proto_ok = self
            .protocol
            .is_none_or(|p| protocol.is_none_or(|q| q == p));
        addr_ok && proto_ok
    }
}

/// `show mmfilter|qmfilter type=generic|specific srcaddr= dstaddr=`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterQuery {
    /// `None`: both generic and specific filters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<FilterKind>,
    /// Only filters whose source covers this address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src: Option<IpAddr>,
    /// Only filters whose destination covers this address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dst: Option<IpAddr>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FilterKind {
    Generic,
    Specific,
}

/// The daemon's answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Response {
    Ok { result: Reply },
    Error { code: ErrorCode, message: String },
}

/// Machine-readable error classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The line was not a request (not JSON, unknown command, missing field, too long).
    BadRequest,
    /// A value was refused (out of range, unknown property).
    InvalidValue,
    /// This daemon cannot do that yet (for example main mode SAs before IKE runs).
    Unsupported,
    /// The request was valid but carrying it out failed (a store did not load, nft
    /// refused the ruleset).
    Failed,
    /// The peer may not use the socket.
    Denied,
}

/// Successful results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reply {
    Pong(Status),
    Reloaded(Status),
    Config(DynamicConfig),
    Stats(Box<Stats>),
    MmSas { sas: Vec<MmSa> },
    QmSas { sas: Vec<QmSa> },
    Deleted { count: usize },
    MmFilters(FilterReport<MmFilterView>),
    QmFilters(FilterReport<QmFilterView>),
    All(Box<AllReport>),
}

/// What the daemon is doing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub version: String,
    pub pid: u32,
    /// `startup (stateful)`, `policy`, `policy (no policy assigned)` or `off`.
    pub firewall: String,
    /// Applied policies, highest precedence first, as `store: name`.
    pub policies: Vec<String>,
    /// Problems met while applying policy (unloadable stores, unresolvable names).
    pub warnings: Vec<String>,
}

macro_rules! stats_struct {
    ($(#[$meta:meta])* $name:ident { $($field:ident => $label:literal,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
        pub struct $name {
            $(pub $field: u64,)*
        }

        impl $name {
            /// (IP Security Monitor label, value) in the monitor's order.
            pub fn rows(&self) -> Vec<(&'static str, u64)> {
                vec![$(($label, self.$field),)*]
            }
        }
    };
}

stats_struct! {
    /// IKE (main mode) statistics, as the IP Security Monitor lists them.
    MainModeStats {
        active_acquire => "Active Acquire",
        active_receive => "Active Receive",
        acquire_failures => "Acquire Failures",
        receive_failures => "Receive Failures",
        send_failures => "Send Failures",
        acquire_heap_size => "Acquire Heap Size",
        receive_heap_size => "Receive Heap Size",
        authentication_failures => "Authentication Failures",
        negotiation_failures => "Negotiation Failures",
        invalid_cookies_received => "Invalid Cookies Received",
        total_acquire => "Total Acquire",
        total_get_spi => "Total Get SPI",
        key_additions => "Key Additions",
        key_updates => "Key Updates",
        get_spi_failures => "Get SPI Failures",
        key_addition_failures => "Key Addition Failures",
        key_update_failures => "Key Update Failures",
        isadb_list_size => "ISADB List Size",
        connection_list_size => "Connection List Size",
        ike_main_mode => "IKE Main Mode",
        ike_quick_mode => "IKE Quick Mode",
        soft_associations => "Soft Associations",
        invalid_packets_received => "Invalid Packets Received",
    }
}

stats_struct! {
    /// IPsec (quick mode) statistics, as the IP Security Monitor lists them.
    QuickModeStats {
        active_security_associations => "Active Security Associations",
        offloaded_security_associations => "Offloaded Security Associations",
        pending_key_operations => "Pending Key Operations",
        key_additions => "Key Additions",
        key_deletions => "Key Deletions",
        rekeys => "Rekeys",
        active_tunnels => "Active Tunnels",
        bad_spi_packets => "Bad SPI Packets",
        packets_not_decrypted => "Packets Not Decrypted",
        packets_not_authenticated => "Packets Not Authenticated",
        packets_with_replay_detection => "Packets With Replay Detection",
        confidential_bytes_sent => "Confidential Bytes Sent",
        confidential_bytes_received => "Confidential Bytes Received",
        authenticated_bytes_sent => "Authenticated Bytes Sent",
        authenticated_bytes_received => "Authenticated Bytes Received",
        transport_bytes_sent => "Transport Bytes Sent",
        transport_bytes_received => "Transport Bytes Received",
        bytes_sent_in_tunnels => "Bytes Sent In Tunnels",
        bytes_received_in_tunnels => "Bytes Received In Tunnels",
        offloaded_bytes_sent => "Offloaded Bytes Sent",
        offloaded_bytes_received => "Offloaded Bytes Received",
    }
}

/// `show stats`: main mode (absent until IKE runs), quick mode, and Oakley's own data
/// plane counters (packets sealed/opened, drops by reason) under their snake_case names.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub main_mode: Option<MainModeStats>,
    pub quick_mode: QuickModeStats,
    pub data_plane: BTreeMap<String, u64>,
}

/// Packet counters of one direction of a quick mode SA.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaCounters {
    pub packets: u64,
    pub bytes: u64,
    pub not_authenticated: u64,
    pub not_decrypted: u64,
    pub replayed: u64,
}

/// A quick mode (IPsec) SA pair as `show qmsas` and the monitor show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QmSa {
    /// The rule (or manual SA) it serves.
    pub name: String,
    /// `manual` or `ike`.
    pub origin: String,
    pub me: IpAddr,
    pub peer: IpAddr,
    /// `transport` or `tunnel`.
    pub mode: String,
    /// Traffic selectors, as prefixes.
    pub me_selector: String,
    pub peer_selector: String,
    /// IP protocol the SA carries (`None` = any).
    pub protocol: Option<u8>,
    pub me_port: u16,
    pub peer_port: u16,
    pub me_tunnel_endpoint: Option<IpAddr>,
    pub peer_tunnel_endpoint: Option<IpAddr>,
    pub ah_integrity: Option<String>,
    pub esp_confidentiality: Option<String>,
    pub esp_integrity: Option<String>,
    pub inbound_spi: u32,
    pub outbound_spi: u32,
    /// UDP encapsulation ports (RFC 3948), if any.
    pub udp_encapsulation: Option<(u16, u16)>,
    pub inbound: SaCounters,
    pub outbound: SaCounters,
}

/// A main mode (IKE) SA as `show mmsas` shows it; filled in by the IKE side.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MmSa {
    pub me: IpAddr,
    pub peer: IpAddr,
    pub me_port: u16,
    pub peer_port: u16,
    /// `IKEv1` or `IKEv2`.
    pub version: String,
    pub authentication: String,
    pub encryption: String,
    pub integrity: String,
    pub dh_group: String,
    /// Initiator and responder SPIs ("cookies"), hexadecimal.
    pub cookies: String,
    /// Seconds since the Unix epoch.
    pub created: u64,
    pub lifetime_secs: u64,
    pub me_id: String,
    pub peer_id: String,
}

/// Generic and specific filters (either may be absent when a kind was asked for).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilterReport<T> {
    pub generic: Option<Vec<T>>,
    pub specific: Option<Vec<T>>,
}

/// One quick mode filter (generic: as written; specific: expanded, with a direction).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QmFilterView {
    /// `<policy>/<rule>` (the built-in exemption is `(built in)/...`).
    pub name: String,
    pub negotiation_policy: String,
    pub source: String,
    pub destination: String,
    pub protocol: String,
    pub src_port: u16,
    pub dst_port: u16,
    /// Generic filters only.
    pub mirrored: Option<bool>,
    /// Specific filters only: `Inbound` or `Outbound`.
    pub direction: Option<String>,
    /// `PERMIT`, `BLOCK` or `NEGOTIATE SECURITY`.
    pub inbound_action: String,
    pub outbound_action: String,
    pub inpass: bool,
    pub soft: bool,
    pub tunnel_endpoint: Option<String>,
    pub connection_type: String,
    /// Specific filters only.
    pub weight: Option<u32>,
}

/// One main mode filter: the addresses IKE negotiates between and how peers authenticate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MmFilterView {
    pub name: String,
    pub source: String,
    pub destination: String,
    /// Authentication methods in preference order; pre-shared keys as `********`.
    pub authentication_methods: Vec<String>,
    pub connection_type: String,
    pub direction: Option<String>,
    pub weight: Option<u32>,
}

/// `show all`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AllReport {
    pub status: Status,
    pub config: DynamicConfig,
    pub stats: Stats,
    pub mm_sas: Vec<MmSa>,
    pub qm_sas: Vec<QmSa>,
    pub mm_filters: FilterReport<MmFilterView>,
    pub qm_filters: FilterReport<QmFilterView>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_and_unknown_fields_are_refused() {
        let r: Request = serde_json::from_str(r#"{"command":"show_stats"}"#).unwrap();
        assert_eq!(
            r,
            Request::ShowStats {
                kind: StatsKind::All
            }
        );
        let r = Request::SetConfig {
            property: "bootmode".into(),
            value: "block".into(),
        };
        let s = serde_json::to_string(&r).unwrap();
        assert_eq!(
            s,
            r#"{"command":"set_config","property":"bootmode","value":"block"}"#
        );
        assert_eq!(serde_json::from_str::<Request>(&s).unwrap(), r);
        assert!(serde_json::from_str::<Request>(r#"{"command":"format_disk"}"#).is_err());
        assert!(
            serde_json::from_str::<Request>(
                r#"{"command":"set_config","property":"a","value":"b","x":1}"#
            )
            .is_err()
        );
        let q: Request =
            serde_json::from_str(r#"{"command":"show_qm_sas","filter":{"src":"10.0.0.1"}}"#)
                .unwrap();
        assert!(matches!(q, Request::ShowQmSas { filter } if filter.src.is_some()));
    }

    #[test]
    fn sa_filter_matches_either_orientation() {
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let f = SaFilter {
            src: Some(b),
            dst: None,
            protocol: None,
        };
        assert!(f.matches(a, b, None));
        assert!(SaFilter::default().matches(a, b, Some(6)));
        let f = SaFilter {
            src: Some(a),
            dst: Some(a),
            protocol: None,
        };
        assert!(!f.matches(a, b, None));
        let f = SaFilter {
            protocol: Some(6),
            ..SaFilter::default()
        };
        assert!(f.matches(a, b, None) && f.matches(a, b, Some(6)) && !f.matches(a, b, Some(17)));
    }

    #[test]
    fn stats_rows_carry_monitor_labels() {
        let q = QuickModeStats {
            bad_spi_packets: 3,
            ..QuickModeStats::default()
        };
        let rows = q.rows();
        assert_eq!(rows.len(), 21);
        assert_eq!(rows[0].0, "Active Security Associations");
        assert!(rows.contains(&("Bad SPI Packets", 3)));
        assert_eq!(MainModeStats::default().rows().len(), 23);
    }
}
