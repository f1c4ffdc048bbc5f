//! `dynamic` context: the `netsh ipsec dynamic` commands, answered by the running oakleyd
//! through its control socket (`<state-dir>/oakleyd.sock`).
//!
//! ```text
//! show all | config | stats [type=all|ike|ipsec]
//! show mmsas [all] [srcaddr=] [dstaddr=] [format=list|table] [resolvedns=]
//! show qmsas [all] [srcaddr=] [dstaddr=] [protocol=] [format=list|table] [resolvedns=]
//! show mmfilter [name=<n>|all] [type=generic|specific] [srcaddr=] [dstaddr=] [format=]
//! show qmfilter [name=<n>|all] [type=generic|specific] [srcaddr=] [dstaddr=] [protocol=]
//!               [srcport=] [dstport=] [actioninbound=] [actionoutbound=] [format=]
//! set config property=<p> value=<v>
//! delete mmsas | qmsas [all] [srcaddr=] [dstaddr=] [protocol=]
//! reload                       (Oakley: re-read the policy stores now)
//! ```
//! Dynamic policies (`add/set/delete mmpolicy|qmpolicy|rule`) are not available yet and
//! say so. Everything printed comes from the daemon, which never sends key material.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::Path;

use control::{
    Client, ClientError, FilterKind, FilterQuery, FilterReport, MmFilterView, MmSa, QmFilterView,
    QmSa, Reply, Request, SaFilter, Stats, StatsKind,
};
use policy::Protocol;
use serde_json::json;

use crate::commands::Output;
use crate::error::CliError;
use crate::params::{Params, match_prefix};
use crate::show::{kv, table};

const VERBS: &[&str] = &["show", "set", "delete", "add", "reload"];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    List,
    Table,
}

/// Runs one `dynamic` command (the words after `dynamic`).
pub fn run(dir: &Path, words: &[String]) -> Result<Output, CliError> {
    let Some(verb_word) = words.first() else {
        return Err(CliError::new(format!(
            "missing command (one of: {})",
            VERBS.join(", ")
        )));
    };
    let verb = match_prefix(verb_word, VERBS).map_err(|_| {
        CliError::new(format!(
            "unknown command '{verb_word}' (one of: {})",
            VERBS.join(", ")
        ))
    })?;
    let objects: &[&str] = match verb {
        "show" => &[
            "all", "config", "stats", "mmsas", "qmsas", "mmfilter", "qmfilter", "mmpolicy",
            "qmpolicy", "rule",
        ],
        "set" => &["config", "mmpolicy", "qmpolicy", "rule"],
        "delete" => &["mmsas", "qmsas", "all", "mmpolicy", "qmpolicy", "rule"],
        "add" => &["mmpolicy", "qmpolicy", "rule"],
        _ => &[],
    };
    let (object, rest) = if objects.is_empty() {
        ("", &words[1..])
    } else {
        let Some(w) = words.get(1) else {
            return Err(CliError::new(format!(
                "{verb}: missing object (one of: {})",
                objects.join(", ")
            )));
        };
        let o = match_prefix(w, objects).map_err(|_| {
            CliError::new(format!(
                "{verb}: unknown object '{w}' (one of: {})",
                objects.join(", ")
            ))
        })?;
        (o, &words[2..])
    };
    let name = if object.is_empty() {
        verb.to_string()
    } else {
        format!("{verb} {object}")
    };
    dispatch(dir, verb, object, rest).map_err(|e| e.in_command(&name))
}

fn connect(dir: &Path) -> Result<Client, CliError> {
    Client::connect(dir).map_err(client_err)
}

fn client_err(e: ClientError) -> CliError {
    CliError::new(e.to_string())
}

fn call(dir: &Path, req: Request) -> Result<Reply, CliError> {
    connect(dir)?.call(&req).map_err(client_err)
}

fn unexpected(r: &Reply) -> CliError {
    CliError::new(format!("unexpected answer from oakleyd: {r:?}"))
}

fn format_of(p: &Params) -> Result<Format, CliError> {
    // resolvedns= is accepted for netsh compatibility; names are not resolved yet.
    p.yes_no("resolvedns")?;
    Ok(match p.choice("format", &["list", "table"])? {
        Some("table") => Format::Table,
        _ => Format::List,
    })
}

fn addr(p: &Params, tag: &'static str) -> Result<Option<IpAddr>, CliError> {
    p.get(tag)
        .filter(|v| !v.eq_ignore_ascii_case("any"))
        .map(|v| {
            v.trim()
                .parse::<IpAddr>()
                .map_err(|_| CliError::param(tag, format!("'{v}' is not an IPv4 or IPv6 address")))
        })
        .transpose()
}

fn protocol(p: &Params) -> Result<Option<u8>, CliError> {
    match p.get("protocol") {
        None => Ok(None),
        Some(v) => match Protocol::parse(v) {
            Some(pr) => Ok(pr.number()),
            None => Err(CliError::param(
                "protocol",
                format!("'{v}' is not ANY, ICMP, TCP, UDP, RAW or 0-255"),
            )),
        },
    }
}

/// `all` may stand alone before the tagged parameters (`show qmsas all`).
fn strip_all(w: &[String]) -> Vec<String> {
    w.iter()
        .filter(|x| !x.eq_ignore_ascii_case("all"))
        .cloned()
        .collect()
}

fn sa_filter(p: &Params, with_protocol: bool) -> Result<SaFilter, CliError> {
    Ok(SaFilter {
        src: addr(p, "srcaddr")?,
        dst: addr(p, "dstaddr")?,
        protocol: if with_protocol { protocol(p)? } else { None },
    })
}

fn dispatch(dir: &Path, verb: &str, object: &str, w: &[String]) -> Result<Output, CliError> {
    match (verb, object) {
        ("reload", _) => {
            Params::parse(w, &[], &[])?;
            match call(dir, Request::Reload)? {
                Reply::Reloaded(s) => {
                    let mut text = format!("Policy reloaded; firewall: {}.\n", s.firewall);
                    for p in &s.policies {
                        let _ = writeln!(text, "Applied: {p}");
                    }
                    for wn in &s.warnings {
                        let _ = writeln!(text, "Warning: {wn}");
                    }
                    Ok(Output {
                        text,
                        json: Some(json!(s)),
                    })
                }
                r => Err(unexpected(&r)),
            }
        }
        ("show", "config") => {
            Params::parse(w, &[], &[])?;
            match call(dir, Request::ShowConfig)? {
                Reply::Config(c) => Ok(Output {
                    text: config_text(&c),
                    json: Some(json!(c)),
                }),
                r => Err(unexpected(&r)),
            }
        }
        ("set", "config") => {
            let p = Params::parse(w, &["property", "value"], &[])?;
            let property = p.required("property")?;
            let value = p.required("value")?;
            match call(
                dir,
                Request::SetConfig {
                    property: property.to_string(),
                    value: value.to_string(),
                },
            )? {
                Reply::Config(c) => Ok(Output {
                    text: String::new(),
                    json: Some(json!(c)),
                }),
                r => Err(unexpected(&r)),
            }
        }
        ("show", "stats") => {
            let p = Params::parse(w, &["type"], &[])?;
            let kind = match p.choice("type", &["all", "ike", "ipsec"])? {
                Some("ike") => StatsKind::Ike,
                Some("ipsec") => StatsKind::Ipsec,
                _ => StatsKind::All,
            };
            match call(dir, Request::ShowStats { kind })? {
                Reply::Stats(s) => Ok(Output {
                    text: stats_text(&s, kind),
                    json: Some(json!(s)),
                }),
                r => Err(unexpected(&r)),
            }
        }
        ("show", "qmsas") => {
            let p = Params::parse(
                &strip_all(w),
                &["srcaddr", "dstaddr", "protocol", "format", "resolvedns"],
                &[],
            )?;
            let format = format_of(&p)?;
            let filter = sa_filter(&p, true)?;
            match call(dir, Request::ShowQmSas { filter })? {
                Reply::QmSas { sas } => Ok(Output {
                    text: qmsas_text(&sas, format),
                    json: Some(json!(sas)),
                }),
                r => Err(unexpected(&r)),
            }
        }
        ("show", "mmsas") => {
            let p = Params::parse(
                &strip_all(w),
                &["srcaddr", "dstaddr", "format", "resolvedns"],
                &[],
            )?;
            let format = format_of(&p)?;
            let filter = sa_filter(&p, false)?;
            match call(dir, Request::ShowMmSas { filter })? {
                Reply::MmSas { sas } => Ok(Output {
                    text: mmsas_text(&sas, format),
                    json: Some(json!(sas)),
                }),
                r => Err(unexpected(&r)),
            }
        }
        ("delete", "qmsas" | "mmsas") => {
            let qm = object == "qmsas";
            let tags: &[&'static str] = if qm {
                &["srcaddr", "dstaddr", "protocol"]
            } else {
                &["srcaddr", "dstaddr"]
            };
            let p = Params::parse(&strip_all(w), tags, &[])?;
            let filter = sa_filter(&p, qm)?;
            let req = if qm {
                Request::DeleteQmSas { filter }
            } else {
                Request::DeleteMmSas { filter }
            };
            match call(dir, req)? {
                Reply::Deleted { count } => Ok(Output {
                    text: format!(
                        "Deleted {count} {} SA{}.\n",
                        if qm { "quick mode" } else { "main mode" },
                        if count == 1 { "" } else { "s" }
                    ),
                    json: Some(json!({ "deleted": count })),
                }),
                r => Err(unexpected(&r)),
            }
        }
        ("show", "qmfilter" | "mmfilter") => {
            let qm = object == "qmfilter";
            let tags: &[&'static str] = if qm {
                &[
                    "name",
                    "type",
                    "srcaddr",
                    "dstaddr",
                    "srcmask",
                    "dstmask",
                    "protocol",
                    "srcport",
                    "dstport",
                    "actioninbound",
                    "actionoutbound",
                    "resolvedns",
                    "format",
                ]
            } else {
                &[
                    "name",
                    "type",
                    "srcaddr",
                    "dstaddr",
                    "srcmask",
                    "dstmask",
                    "resolvedns",
                    "format",
                ]
            };
            let p = Params::parse(w, tags, &[])?;
            let format = format_of(&p)?;
            let kind = match p.choice("type", &["generic", "specific"])? {
                Some("generic") => Some(FilterKind::Generic),
                Some("specific") => Some(FilterKind::Specific),
                _ => None,
            };
            let query = FilterQuery {
                kind,
                src: addr(&p, "srcaddr")?,
                dst: addr(&p, "dstaddr")?,
            };
            let name = p.get("name").filter(|n| !n.eq_ignore_ascii_case("all"));
            let sel = QmSelect {
                name: name.map(str::to_string),
                protocol: if qm { protocol(&p)? } else { None },
                src_port: p.number("srcport", 0u16, 65535)?,
                dst_port: p.number("dstport", 0u16, 65535)?,
                inbound: p.choice("actioninbound", &["permit", "block", "negotiate"])?,
                outbound: p.choice("actionoutbound", &["permit", "block", "negotiate"])?,
            };
            if qm {
                match call(dir, Request::ShowQmFilter { query })? {
                    Reply::QmFilters(r) => {
                        let r = sel.apply_qm(r);
                        Ok(Output {
                            text: qm_filters_text(&r, format),
                            json: Some(json!(r)),
                        })
                    }
                    r => Err(unexpected(&r)),
                }
            } else {
                match call(dir, Request::ShowMmFilter { query })? {
                    Reply::MmFilters(r) => {
                        let r = sel.apply_mm(r);
                        Ok(Output {
                            text: mm_filters_text(&r, format),
                            json: Some(json!(r)),
                        })
                    }
                    r => Err(unexpected(&r)),
                }
            }
        }
        ("show", "all") => {
            let p = Params::parse(&strip_all(w), &["resolvedns", "format"], &[])?;
            let format = format_of(&p)?;
            match call(dir, Request::ShowAll)? {
                Reply::All(a) => {
                    let mut text = String::new();
                    let _ = writeln!(
                        text,
                        "Oakley IPsec service {} (pid {})",
                        a.status.version, a.status.pid
                    );
                    kv(&mut text, "Firewall", &a.status.firewall);
                    if a.status.policies.is_empty() {
                        kv(&mut text, "Active Policy", "none assigned");
                    }
                    for p in &a.status.policies {
                        kv(&mut text, "Active Policy", p);
                    }
                    for wn in &a.status.warnings {
                        kv(&mut text, "Warning", wn);
                    }
                    text.push('\n');
                    text.push_str(&config_text(&a.config));
                    text.push('\n');
                    text.push_str(&mm_filters_text(&a.mm_filters, format));
                    text.push('\n');
                    text.push_str(&qm_filters_text(&a.qm_filters, format));
                    text.push('\n');
                    text.push_str(&mmsas_text(&a.mm_sas, format));
                    text.push('\n');
                    text.push_str(&qmsas_text(&a.qm_sas, format));
                    text.push('\n');
                    text.push_str(&stats_text(&a.stats, StatsKind::All));
                    Ok(Output {
                        text,
                        json: Some(json!(a)),
                    })
                }
                r => Err(unexpected(&r)),
            }
        }
        (_, "mmpolicy" | "qmpolicy" | "rule" | "all") | ("add", _) => Err(CliError::new(
            "dynamic main mode/quick mode policies and rules are not available yet; \
             use 'oakley static' to change policy and 'oakley dynamic reload' to apply it",
        )),
        _ => Err(CliError::new("unknown command")),
    }
}

/// Client-side selection on the filter fields the daemon does not filter by.
struct QmSelect {
    name: Option<String>,
    protocol: Option<u8>,
    src_port: Option<u16>,
    dst_port: Option<u16>,
    inbound: Option<&'static str>,
    outbound: Option<&'static str>,
}

/// `PERMIT`, `BLOCK`, `NEGOTIATE SECURITY` against `permit`, `block`, `negotiate`.
fn action_is(shown: &str, want: Option<&str>) -> bool {
    want.is_none_or(|w| shown.to_ascii_lowercase().starts_with(w))
}

impl QmSelect {
    fn name_ok(&self, n: &str) -> bool {
        self.name.as_ref().is_none_or(|want| {
            n.eq_ignore_ascii_case(want)
                || n.rsplit('/')
                    .next()
                    .is_some_and(|r| r.eq_ignore_ascii_case(want))
        })
    }

    fn apply_qm(&self, r: FilterReport<QmFilterView>) -> FilterReport<QmFilterView> {
        let keep = |f: &QmFilterView| {
            self.name_ok(&f.name)
                && self.protocol.is_none_or(|p| {
                    Protocol::parse(&f.protocol).and_then(|x| x.number()) == Some(p)
                })
                && self.src_port.is_none_or(|p| p == 0 || f.src_port == p)
                && self.dst_port.is_none_or(|p| p == 0 || f.dst_port == p)
                && action_is(&f.inbound_action, self.inbound)
                && action_is(&f.outbound_action, self.outbound)
        };
        FilterReport {
            generic: r.generic.map(|v| v.into_iter().filter(keep).collect()),
            specific: r.specific.map(|v| v.into_iter().filter(keep).collect()),
        }
    }

    fn apply_mm(&self, r: FilterReport<MmFilterView>) -> FilterReport<MmFilterView> {
        let keep = |f: &MmFilterView| self.name_ok(&f.name);
        FilterReport {
            generic: r.generic.map(|v| v.into_iter().filter(keep).collect()),
            specific: r.specific.map(|v| v.into_iter().filter(keep).collect()),
        }
    }
}

fn config_text(c: &control::DynamicConfig) -> String {
    let mut out = String::from("IPsec configuration parameters\n------------------------------\n");
    let labels = [
        ("ipsecdiagnostics", "IPsecDiagnostics"),
        ("ikelogging", "IKELogging"),
        ("strongcrlcheck", "StrongCRLCheck"),
        ("ipsecloginterval", "IPsecLogInterval"),
        ("ipsecexempt", "IPsecExempt"),
        ("bootmode", "IPsec Boot Mode"),
        ("bootexemptions", "IPsec Boot Exemptions"),
    ];
    for (p, v) in c.as_properties() {
        let label = labels.iter().find(|(k, _)| *k == p).map_or(p, |(_, l)| l);
        kv(&mut out, label, v);
    }
    out
}

fn stats_text(s: &Stats, kind: StatsKind) -> String {
    let mut out = String::new();
    let block = |out: &mut String, title: &str, rows: Vec<(&str, u64)>| {
        let _ = writeln!(out, "{title}\n{}", "-".repeat(title.len()));
        for (l, v) in rows {
            let _ = writeln!(out, "{l:<34}: {v}");
        }
    };
    if kind != StatsKind::Ipsec {
        match &s.main_mode {
            Some(m) => block(&mut out, "IKE Main Mode Statistics", m.rows()),
            None => {
                let _ = writeln!(
                    out,
                    "IKE Main Mode Statistics\n------------------------\n(not available: this oakleyd does not run IKE yet)"
                );
            }
        }
    }
    if kind != StatsKind::Ike {
        if kind != StatsKind::Ipsec {
            out.push('\n');
        }
        block(&mut out, "IPsec Quick Mode Statistics", s.quick_mode.rows());
        if !s.data_plane.is_empty() {
            out.push('\n');
            let rows = s.data_plane.iter().map(|(k, v)| (k.as_str(), *v)).collect();
            block(&mut out, "Oakley Data Plane Counters", rows);
        }
    }
    out
}

fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref().map_or("None".into(), |x| x.to_string())
}

fn proto_name(p: Option<u8>) -> String {
    p.map_or("ANY".into(), |n| Protocol::Number(n).to_string())
}

fn qmsas_text(sas: &[QmSa], format: Format) -> String {
    let mut out = String::from("Quick Mode SAs\n--------------\n");
    if sas.is_empty() {
        out.push_str("No Quick Mode SAs.\n");
        return out;
    }
    if format == Format::Table {
        let rows: Vec<Vec<String>> = sas
            .iter()
            .map(|s| {
                vec![
                    s.me.to_string(),
                    s.peer.to_string(),
                    proto_name(s.protocol),
                    s.me_port.to_string(),
                    s.peer_port.to_string(),
                    s.mode.clone(),
                    opt(&s.ah_integrity),
                    opt(&s.esp_confidentiality),
                    opt(&s.esp_integrity),
                    format!("{:#010x}", s.inbound_spi),
                    format!("{:#010x}", s.outbound_spi),
                    format!("{}/{}", s.inbound.packets, s.outbound.packets),
                ]
            })
            .collect();
        out.push_str(&table(
            &[
                "Me",
                "Peer",
                "Protocol",
                "Me Port",
                "Peer Port",
                "Mode",
                "AH Integrity",
                "ESP Confidentiality",
                "ESP Integrity",
                "Inbound SPI",
                "Outbound SPI",
                "Packets In/Out",
            ],
            &rows,
        ));
        return out;
    }
    for (i, s) in sas.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        kv(&mut out, "Name", &s.name);
        kv(&mut out, "Origin", &s.origin);
        kv(&mut out, "Me", s.me);
        kv(&mut out, "Peer", s.peer);
        kv(&mut out, "Mode", &s.mode);
        kv(&mut out, "Me Selector", &s.me_selector);
        kv(&mut out, "Peer Selector", &s.peer_selector);
        kv(&mut out, "Protocol", proto_name(s.protocol));
        kv(&mut out, "Me Port", s.me_port);
        kv(&mut out, "Peer Port", s.peer_port);
        kv(&mut out, "Me Tunnel Endpoint", opt(&s.me_tunnel_endpoint));
        kv(
            &mut out,
            "Peer Tunnel Endpoint",
            opt(&s.peer_tunnel_endpoint),
        );
        kv(&mut out, "AH Integrity", opt(&s.ah_integrity));
        kv(&mut out, "ESP Confidentiality", opt(&s.esp_confidentiality));
        kv(&mut out, "ESP Integrity", opt(&s.esp_integrity));
        kv(&mut out, "Inbound SPI", format!("{:#010x}", s.inbound_spi));
        kv(
            &mut out,
            "Outbound SPI",
            format!("{:#010x}", s.outbound_spi),
        );
        kv(
            &mut out,
            "UDP Encapsulation",
            s.udp_encapsulation
                .map_or("None".into(), |(a, b)| format!("{a} -> {b}")),
        );
        kv(
            &mut out,
            "Inbound Packets/Bytes",
            format!("{} / {}", s.inbound.packets, s.inbound.bytes),
        );
        kv(
            &mut out,
            "Outbound Packets/Bytes",
            format!("{} / {}", s.outbound.packets, s.outbound.bytes),
        );
        kv(
            &mut out,
            "Inbound Errors",
            format!(
                "{} not authenticated, {} not decrypted, {} replayed",
                s.inbound.not_authenticated, s.inbound.not_decrypted, s.inbound.replayed
            ),
        );
    }
    out
}

fn mmsas_text(sas: &[MmSa], format: Format) -> String {
    let mut out = String::from("Main Mode SAs\n-------------\n");
    if sas.is_empty() {
        out.push_str("No Main Mode SAs.\n");
        return out;
    }
    if format == Format::Table {
        let rows: Vec<Vec<String>> = sas
            .iter()
            .map(|s| {
                vec![
                    s.me.to_string(),
                    s.peer.to_string(),
                    s.authentication.clone(),
                    s.encryption.clone(),
                    s.integrity.clone(),
                    s.dh_group.clone(),
                    s.version.clone(),
                ]
            })
            .collect();
        out.push_str(&table(
            &[
                "Me",
                "Peer",
                "Authentication",
                "Encryption",
                "Integrity",
                "Diffie-Hellman",
                "Version",
            ],
            &rows,
        ));
        return out;
    }
    for (i, s) in sas.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        kv(&mut out, "Me", format!("{}:{}", s.me, s.me_port));
        kv(&mut out, "Peer", format!("{}:{}", s.peer, s.peer_port));
        kv(&mut out, "Version", &s.version);
        kv(&mut out, "Authentication", &s.authentication);
        kv(&mut out, "Encryption", &s.encryption);
        kv(&mut out, "Integrity", &s.integrity);
        kv(&mut out, "Diffie-Hellman Group", &s.dh_group);
        kv(&mut out, "Cookies", &s.cookies);
        kv(&mut out, "Me ID", &s.me_id);
        kv(&mut out, "Peer ID", &s.peer_id);
        kv(&mut out, "Key Lifetime (s)", s.lifetime_secs);
    }
    out
}

fn qm_filters_text(r: &FilterReport<QmFilterView>, format: Format) -> String {
    let mut out = String::new();
    for (title, list) in [
        ("Quick Mode Generic Filters", &r.generic),
        ("Quick Mode Specific Filters", &r.specific),
    ] {
        let Some(list) = list else { continue };
        if !out.is_empty() {
            out.push('\n');
        }
        let _ = writeln!(out, "{title}\n{}", "-".repeat(title.len()));
        if list.is_empty() {
            out.push_str("No filters.\n");
            continue;
        }
        let port = |p: u16| {
            if p == 0 {
                "ANY".to_string()
            } else {
                p.to_string()
            }
        };
        if format == Format::Table {
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|f| {
                    vec![
                        f.name.clone(),
                        f.source.clone(),
                        f.destination.clone(),
                        f.protocol.clone(),
                        port(f.src_port),
                        port(f.dst_port),
                        f.direction.clone().unwrap_or_else(|| "-".into()),
                        f.inbound_action.clone(),
                        f.outbound_action.clone(),
                        opt(&f.weight),
                    ]
                })
                .collect();
            out.push_str(&table(
                &[
                    "Name",
                    "Source",
                    "Destination",
                    "Protocol",
                    "Src Port",
                    "Dst Port",
                    "Direction",
                    "Inbound Action",
                    "Outbound Action",
                    "Weight",
                ],
                &rows,
            ));
            continue;
        }
        for (i, f) in list.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            kv(&mut out, "Name", &f.name);
            kv(&mut out, "Negotiation Policy", &f.negotiation_policy);
            kv(&mut out, "Source Address", &f.source);
            kv(&mut out, "Destination Address", &f.destination);
            kv(&mut out, "Protocol", &f.protocol);
            kv(&mut out, "Source Port", port(f.src_port));
            kv(&mut out, "Destination Port", port(f.dst_port));
            if let Some(m) = f.mirrored {
                kv(&mut out, "Mirrored", policy::yes_no(m));
            }
            if let Some(d) = &f.direction {
                kv(&mut out, "Direction", d);
            }
            kv(&mut out, "Inbound Action", &f.inbound_action);
            kv(&mut out, "Outbound Action", &f.outbound_action);
            kv(
                &mut out,
                "Accept Unsecured (inpass)",
                policy::yes_no(f.inpass),
            );
            kv(
                &mut out,
                "Fall Back To Clear (soft)",
                policy::yes_no(f.soft),
            );
            kv(&mut out, "Tunnel Endpoint", opt(&f.tunnel_endpoint));
            kv(&mut out, "Connection Type", &f.connection_type);
            if let Some(w) = f.weight {
                kv(&mut out, "Weight", w);
            }
        }
    }
    out
}

fn mm_filters_text(r: &FilterReport<MmFilterView>, format: Format) -> String {
    let mut out = String::new();
    for (title, list) in [
        ("Main Mode Generic Filters", &r.generic),
        ("Main Mode Specific Filters", &r.specific),
    ] {
        let Some(list) = list else { continue };
        if !out.is_empty() {
            out.push('\n');
        }
        let _ = writeln!(out, "{title}\n{}", "-".repeat(title.len()));
        if list.is_empty() {
            out.push_str("No filters.\n");
            continue;
        }
        if format == Format::Table {
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|f| {
                    vec![
                        f.name.clone(),
                        f.source.clone(),
                        f.destination.clone(),
                        f.authentication_methods.join(", "),
                        f.direction.clone().unwrap_or_else(|| "-".into()),
                        opt(&f.weight),
                    ]
                })
                .collect();
            out.push_str(&table(
                &[
                    "Name",
                    "Source",
                    "Destination",
                    "Authentication Methods",
                    "Direction",
                    "Weight",
                ],
                &rows,
            ));
            continue;
        }
        for (i, f) in list.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            kv(&mut out, "Name", &f.name);
            kv(&mut out, "Source Address", &f.source);
            kv(&mut out, "Destination Address", &f.destination);
            kv(
                &mut out,
                "Authentication Methods",
                f.authentication_methods.join(" | "),
            );
            kv(&mut out, "Connection Type", &f.connection_type);
            if let Some(d) = &f.direction {
                kv(&mut out, "Direction", d);
            }
            if let Some(w) = f.weight {
                kv(&mut out, "Weight", w);
            }
        }
    }
    out
}
