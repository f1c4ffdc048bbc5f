//! `static` context commands: the `netsh ipsec static` command set, plus `show rsop`,
//! `explain` and `restore defaultpolicies`.

use std::net::IpAddr;

use policy::methods::{MmSecMethod, QmSecMethod};
use policy::store::{StoreLocation, from_document, merge_import, to_document, write_atomically};
use policy::{
    ActionKind, Address, AuthMethod, ConnectionType, Filter, FilterAction, FilterList, Policy,
    Protocol, Rule, Secret, TunnelEndpoint, predefined,
};

use crate::error::CliError;
use crate::params::{Params, match_prefix};
use crate::session::Session;
use crate::show;

/// What a command prints: text, and the same content for `--json` when it has any.
#[derive(Debug, Default)]
pub struct Output {
    pub text: String,
    pub json: Option<serde_json::Value>,
}

impl Output {
    fn text(s: impl Into<String>) -> Output {
        Output {
            text: s.into(),
            json: None,
        }
    }
}

/// How `show rsop` and `explain` learn about the host.
pub enum HostSource {
    /// Logging mode: the running host.
    System,
    /// Planning mode: a host description file (its path is kept for the report).
    Planned(policy::resolver::HostConfig, String),
}

pub struct Context<'a> {
    pub session: &'a mut Session,
    pub host: &'a HostSource,
}

const VERBS: &[&str] = &[
    "add",
    "set",
    "delete",
    "show",
    "exportpolicy",
    "importpolicy",
    "restore",
    "explain",
];

/// Runs one `static` command (the words after `static`). Changes nothing on error.
pub fn run(ctx: &mut Context<'_>, words: &[String]) -> Result<Output, CliError> {
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
        "add" => &["policy", "filterlist", "filter", "filteraction", "rule"],
        "set" => &[
            "policy",
            "filterlist",
            "filteraction",
            "rule",
            "defaultrule",
            "store",
            "batch",
        ],
        "delete" => &[
            "all",
            "policy",
            "filterlist",
            "filter",
            "filteraction",
            "rule",
        ],
        "show" => &[
            "all",
            "policy",
            "filterlist",
            "filteraction",
            "rule",
            "store",
            "rsop",
            "gpoassignedpolicy",
        ],
        "restore" => &["defaultpolicies"],
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
    let snap = ctx.session.snapshot();
    let result = dispatch(ctx, verb, object, rest).and_then(|out| {
        ctx.session.check()?;
        if !ctx.session.batch {
            ctx.session.commit()?;
        }
        Ok(out)
    });
    result.map_err(|e| {
        ctx.session.restore(snap);
        e.in_command(&name)
    })
}

fn dispatch(
    ctx: &mut Context<'_>,
    verb: &str,
    object: &str,
    w: &[String],
) -> Result<Output, CliError> {
    let s = &mut *ctx.session;
    match (verb, object) {
        ("add", "policy") => add_policy(s, w),
        ("set", "policy") => set_policy(s, w),
        ("delete", "policy") => delete_policy(s, w),
        ("add", "filterlist") => add_filterlist(s, w),
        ("set", "filterlist") => set_filterlist(s, w),
        ("delete", "filterlist") => delete_filterlist(s, w),
        ("add", "filter") => add_filter(s, w),
        ("delete", "filter") => delete_filter(s, w),
        ("add", "filteraction") => add_filteraction(s, w),
        ("set", "filteraction") => set_filteraction(s, w),
        ("delete", "filteraction") => delete_filteraction(s, w),
        ("add", "rule") => add_rule(s, w),
        ("set", "rule") => set_rule(s, w),
        ("delete", "rule") => delete_rule(s, w),
        ("set", "defaultrule") => set_defaultrule(s, w),
        ("set", "store") => set_store(s, w),
        ("set", "batch") => set_batch(s, w),
        ("delete", "all") => delete_all(s, w),
        ("exportpolicy", _) => export_policy(s, w),
        ("importpolicy", _) => import_policy(s, w),
        ("restore", "defaultpolicies") => {
            Params::parse(w, &[], &[])?;
            let now = s.now;
            predefined::restore(s.store_mut()?, now);
            Ok(Output::text(
                "Restored the predefined policies, filter lists and filter actions.\n",
            ))
        }
        ("show", "gpoassignedpolicy") => Err(CliError::new(
            "group policy objects are not available: Oakley has no directory service connection yet",
        )),
        ("show", _) => show::run(ctx, object, w),
        ("explain", _) => show::explain(ctx, w),
        _ => Err(CliError::new("unknown command")),
    }
}

// ---------------------------------------------------------------------------------------
// Value parsers that name their parameter.

fn qm_methods(p: &Params, tag: &'static str) -> Result<Option<Vec<QmSecMethod>>, CliError> {
    p.get(tag)
        .map(|v| {
            let l = QmSecMethod::parse_list(v).map_err(|e| CliError::param(tag, e.to_string()))?;
            if l.is_empty() {
                return Err(CliError::param(tag, "no security methods given"));
            }
            for (i, m) in l.iter().enumerate() {
                policy::validate::validate_qm_method(m)
                    .map_err(|e| CliError::param(tag, format!("method {} ({m}): {e}", i + 1)))?;
            }
            Ok(l)
        })
        .transpose()
}

fn mm_methods(p: &Params, tag: &'static str) -> Result<Option<Vec<MmSecMethod>>, CliError> {
    p.get(tag)
        .map(|v| {
            let l = MmSecMethod::parse_list(v).map_err(|e| CliError::param(tag, e.to_string()))?;
            if l.is_empty() {
                return Err(CliError::param(tag, "no security methods given"));
            }
            for (i, m) in l.iter().enumerate() {
                policy::validate::validate_mm_method(m)
                    .map_err(|e| CliError::param(tag, format!("method {} ({m}): {e}", i + 1)))?;
            }
            Ok(l)
        })
        .transpose()
}

fn name_param<'a>(p: &'a Params, tag: &'static str) -> Result<&'a str, CliError> {
    let n = p.required(tag)?;
    policy::validate::validate_name(n).map_err(|e| CliError::param(tag, e))?;
    Ok(n)
}

fn no_guid(p: &Params) -> Result<(), CliError> {
    if p.has("guid") {
        return Err(CliError::param(
            "guid",
            "objects are identified by name in Oakley; use name=",
        ));
    }
    Ok(())
}

/// Authentication methods in the order the parameters appear (their preference order).
/// `None` when the command gives none.
fn auth_methods(p: &Params) -> Result<Option<Vec<AuthMethod>>, CliError> {
    let mut v = Vec::new();
    let mut any = false;
    for (tag, value) in &p.items {
        match *tag {
            "kerberos" => {
                any = true;
                if crate::params::parse_yes_no(tag, value)? {
                    v.push(AuthMethod::Kerberos);
                }
            }
            "psk" => {
                any = true;
                if value.is_empty() {
                    return Err(CliError::param(tag, "the pre-shared key is empty"));
                }
                v.push(AuthMethod::Psk {
                    key: Secret::new(value),
                });
            }
            "rootca" => {
                any = true;
                v.push(parse_rootca(value)?);
            }
            _ => {}
        }
    }
    Ok(any.then_some(v))
}

/// `"<CA DN> certmap:yes excludecaname:no"`; `\'` stands for an embedded double quote.
fn parse_rootca(value: &str) -> Result<AuthMethod, CliError> {
    let value = value.replace("\\'", "\"");
    let mut words: Vec<&str> = value.split_whitespace().collect();
    let mut cert_map = false;
    let mut exclude_ca_name = false;
    while let Some(last) = words.last() {
        let Some((k, v)) = last.split_once(':') else {
            break;
        };
        let flag = if k.eq_ignore_ascii_case("certmap") {
            &mut cert_map
        } else if k.eq_ignore_ascii_case("excludecaname") {
            &mut exclude_ca_name
        } else {
            break;
        };
        *flag = crate::params::parse_yes_no("rootca", v)?;
        words.pop();
    }
    let root_ca = words.join(" ");
    if root_ca.is_empty() {
        return Err(CliError::param(
            "rootca",
            "no certification authority name given",
        ));
    }
    Ok(AuthMethod::Certificate {
        root_ca,
        cert_map,
        exclude_ca_name,
    })
}

fn tunnel(p: &Params) -> Result<Option<Option<TunnelEndpoint>>, CliError> {
    p.get("tunnel")
        .map(|v| {
            let v = v.trim();
            if v.is_empty() || v.eq_ignore_ascii_case("none") || v == "0.0.0.0" {
                return Ok(None);
            }
            if let Ok(ip) = v.parse::<IpAddr>() {
                return Ok(Some(TunnelEndpoint::Ip(ip)));
            }
            match Address::parse(v, None) {
                Ok(Address::Dns { name }) => Ok(Some(TunnelEndpoint::Dns(name))),
                _ => Err(CliError::param(
                    "tunnel",
                    format!("'{v}' is not an IP address or DNS name"),
                )),
            }
        })
        .transpose()
}

fn conn_type(p: &Params) -> Result<Option<ConnectionType>, CliError> {
    Ok(p.choice("conntype", &["lan", "dialup", "all"])?
        .map(|c| match c {
            "lan" => ConnectionType::Lan,
            "dialup" => ConnectionType::Dialup,
            _ => ConnectionType::All,
        }))
}

fn action_kind(p: &Params) -> Result<Option<ActionKind>, CliError> {
    Ok(p.choice("action", &["permit", "block", "negotiate"])?
        .map(|c| match c {
            "permit" => ActionKind::Permit,
            "block" => ActionKind::Block,
            _ => ActionKind::Negotiate,
        }))
}

fn is_all(v: &str) -> bool {
    v.eq_ignore_ascii_case("all")
}

// ---------------------------------------------------------------------------------------
// Policies.

const POLICY_TAGS: &[&str] = &[
    "name",
    "description",
    "mmpfs",
    "qmpermm",
    "mmlifetime",
    "activatedefaultrule",
    "pollinginterval",
    "assign",
    "mmsecmethods",
];

/// Applies the shared policy parameters; returns the `assign=` value if given.
fn apply_policy_params(p: &Params, pol: &mut Policy) -> Result<Option<bool>, CliError> {
    if let Some(d) = p.get("description") {
        pol.description = d.to_string();
    }
    if let Some(v) = p.yes_no("mmpfs")? {
        pol.mm_pfs = v;
        // Master key PFS means one quick mode per main mode.
        if v {
            pol.qm_per_mm = 1;
        }
    }
    if let Some(v) = p.number::<u32>("qmpermm", 0, 2_147_483_647)? {
        pol.qm_per_mm = v;
    }
    if let Some(v) = p.number::<u32>("mmlifetime", 1, 2_880)? {
        pol.mm_lifetime_min = v;
    }
    if let Some(v) = p.yes_no("activatedefaultrule")? {
        pol.default_response.active = v;
    }
    if let Some(v) = p.number::<u32>("pollinginterval", 0, 43_200)? {
        pol.polling_interval_min = v;
    }
    if let Some(m) = mm_methods(p, "mmsecmethods")? {
        pol.mm_methods = m;
    }
    p.yes_no("assign")
}

fn assign(store: &mut policy::Store, name: &str, yes: Option<bool>) {
    match yes {
        // One assigned policy per store: assigning one unassigns the other.
        Some(true) => store.assigned = Some(name.to_string()),
        Some(false) if store.is_assigned(name) => store.assigned = None,
        _ => {}
    }
}

fn add_policy(s: &mut Session, w: &[String]) -> Result<Output, CliError> {
    let p = Params::parse(w, POLICY_TAGS, &[])?;
    let name = name_param(&p, "name")?.to_string();
    let now = s.now;
    let store = s.store_mut()?;
    if store.policy(&name).is_some() {
        return Err(CliError::param(
            "name",
            format!("policy \"{name}\" already exists"),
        ));
    }
    let mut pol = Policy::new(&name, now);
    let a = apply_policy_params(&p, &mut pol)?;
    store.policies.push(pol);
    assign(store, &name, a);
    Ok(Output::default())
}

fn set_policy(s: &mut Session, w: &[String]) -> Result<Output, CliError> {
    let mut tags = vec!["name", "guid", "newname"];
    tags.extend(POLICY_TAGS.iter().skip(1));
    tags.push("gponame");
    let p = Params::parse(w, &tags, &[])?;
    no_guid(&p)?;
    if p.has("gponame") {
        return Err(CliError::param(
            "gponame",
            "group policy objects are not available yet",
        ));
    }
    let name = p.required("name")?.to_string();
    let now = s.now;
    let store = s.store_mut()?;
    let pol = store
        .policy_mut(&name)
        .ok_or_else(|| CliError::param("name", format!("policy \"{name}\" does not exist")))?;
    let a = apply_policy_params(&p, pol)?;
    pol.last_modified = now;
    let old_name = pol.name.clone();
    let mut final_name = old_name.clone();
    if let Some(n) = p.get("newname") {
        policy::validate::validate_name(n).map_err(|e| CliError::param("newname", e))?;
        pol.name = n.to_string();
        final_name = n.to_string();
        if store.is_assigned(&old_name) {
            store.assigned = Some(final_name.clone());
        }
    }
    assign(store, &final_name, a);
    Ok(Output::default())
}

fn delete_policy(s: &mut Session, w: &[String]) -> Result<Output, CliError> {
    let p = Params::parse(w, &["name", "guid"], &[])?;
    no_guid(&p)?;
    let name = p.required("name")?.to_string();
    let store = s.store_mut()?;
    if is_all(&name) && store.policy(&name).is_none() {
        store.policies.clear();
        store.assigned = None;
        return Ok(Output::default());
    }
    let before = store.policies.len();
    store
        .policies
        .retain(|x| !x.name.eq_ignore_ascii_case(&name));
    if store.policies.len() == before {
        return Err(CliError::param(
            "name",
            format!("policy \"{name}\" does not exist"),
        ));
    }
    if store.is_assigned(&name) {
        store.assigned = None;
    }
    Ok(Output::default())
}

// ---------------------------------------------------------------------------------------
// Filter lists and filters.

fn add_filterlist(s: &mut Session, w: &[String]) -> Result<Output, CliError> {
    let p = Params::parse(w, &["name", "description"], &[])?;
    let name = name_param(&p, "name")?.to_string();
    let now = s.now;
    let store = s.store_mut()?;
    if store.filter_list(&name).is_some() {
        return Err(CliError::param(
            "name",
            format!("filter list \"{name}\" already exists"),
        ));
    }
    store.filter_lists.push(FilterList {
        name,
        description: p.get("description").unwrap_or_default().to_string(),
        filters: Vec::new(),
        last_modified: now,
    });
    Ok(Output::default())
}

fn set_filterlist(s: &mut Session, w: &[String]) -> Result<Output, CliError> {
    let p = Params::parse(w, &["name", "guid", "newname", "description"], &[])?;
    no_guid(&p)?;
    let name = p.required("name")?.to_string();
    let now = s.now;
    let store = s.store_mut()?;
    let l = store
        .filter_list_mut(&name)
        .ok_or_else(|| CliError::param("name", format!("filter list \"{name}\" does not exist")))?;
    if let Some(d) = p.get("description") {
        l.description = d.to_string();
    }
    l.last_modified = now;
    if let Some(n) = p.get("newname") {
        policy::validate::validate_name(n).map_err(|e| CliError::param("newname", e))?;
        l.name = n.to_string();
        // Rules refer to lists by name: follow the rename.
        for pol in &mut store.policies {
            for r in &mut pol.rules {
                if r.filter_list.eq_ignore_ascii_case(&name) {
                    r.filter_list = n.to_string();
                }
            }
        }
    }
    Ok(Output::default())
}

fn delete_filterlist(s: &mut Session, w: &[String]) -> Result<Output, CliError> {
    let p = Params::parse(w, &["name", "guid"], &[])?;
    no_guid(&p)?;
    let name = p.required("name")?.to_string();
    let store = s.store_mut()?;
    let targets: Vec<String> = if is_all(&name) && store.filter_list(&name).is_none() {
        store.filter_lists.iter().map(|l| l.name.clone()).collect()
    } else {
        let l = store.filter_list(&name).ok_or_else(|| {
            CliError::param("name", format!("filter list \"{name}\" does not exist"))
        })?;
        vec![l.name.clone()]
    };
    for t in &targets {
        if let Some((pol, r)) = store.rules_using_list(t).next() {
            return Err(CliError::param(
                "name",
                format!(
                    "filter list \"{t}\" is used by rule \"{}\" of policy \"{}\"",
                    r.name, pol.name
                ),
            ));
        }
    }
    store.filter_lists.retain(|l| !targets.contains(&l.name));
    Ok(Output::default())
}

const FILTER_TAGS: &[&str] = &[
    "filterlist",
    "srcaddr",
    "dstaddr",
    "description",
    "protocol",
    "mirrored",
    "srcmask",
    "dstmask",
    "srcport",
    "dstport",
];

fn port(p: &Params, tag: &'static str) -> Result<u16, CliError> {
    Ok(p.number::<u16>(tag, 0, 65_535)?.unwrap_or(0))
}

fn address(
    p: &Params,
    addr_tag: &'static str,
    mask_tag: &'static str,
) -> Result<Address, CliError> {
    let mask = p.get(mask_tag);
    Address::parse(p.required(addr_tag)?, mask).map_err(|e| {
        // The error text says which value was wrong: the mask or the address.
        let tag = if mask == Some(e.text.as_str()) {
            mask_tag
        } else {
            addr_tag
        };
        CliError::param(tag, e.to_string())
    })
}

fn filter_from(p: &Params) -> Result<Filter, CliError> {
    let src = address(p, "srcaddr", "srcmask")?;
    let dst = address(p, "dstaddr", "dstmask")?;
    let protocol = match p.get("protocol") {
        None => Protocol::Any,
        Some(v) => Protocol::parse(v).ok_or_else(|| {
            CliError::param(
                "protocol",
                format!("'{v}' is not ANY, ICMP, TCP, UDP, RAW or 0-255"),
            )
        })?,
    };
    let f = Filter {
        description: p.get("description").unwrap_or_default().to_string(),
        src,
        dst,
        protocol,
        src_port: port(p, "srcport")?,
        dst_port: port(p, "dstport")?,
        mirrored: p.yes_no("mirrored")?.unwrap_or(true),
    };
    if (f.src_port != 0 || f.dst_port != 0) && !f.protocol.has_ports() {
        let tag = if f.src_port != 0 {
            "srcport"
        } else {
            "dstport"
        };
        return Err(CliError::param(
            tag,
            format!("ports need protocol TCP or UDP, not {}", f.protocol),
        ));
    }
    Ok(f)
}

fn add_filter(s: &mut Session, w: &[String]) -> Result<Output, CliError> {
    let p = Params::parse(w, FILTER_TAGS, &[])?;
    let list = name_param(&p, "filterlist")?.to_string();
    let f = filter_from(&p)?;
    let now = s.now;
    let store = s.store_mut()?;
    // netsh: the filter list is created if it does not exist.
    if store.filter_list(&list).is_none() {
        store.filter_lists.push(FilterList {
            name: list.clone(),
            description: String::new(),
            filters: Vec::new(),
            last_modified: now,
        });
    }
    let l = store.filter_list_mut(&list).expect("created above");
    l.filters.push(f);
    l.last_modified = now;
    policy::validate::validate_filter_list(l).map_err(|e| {
        // "source is DNS Servers so the destination must be 'me'" is about dstaddr.
        let tag = if e.problem.starts_with("source is") {
            "dstaddr"
        } else {
            "srcaddr"
        };
        CliError::param(tag, e.to_string())
    })?;
    Ok(Output::default())
}

fn delete_filter(s: &mut Session, w: &[String]) -> Result<Output, CliError> {
    let p = Params::parse(w, FILTER_TAGS, &[])?;
    if p.has("description") {
        return Err(CliError::param(
            "description",
            "filters are identified by addresses, protocol, ports and mirroring",
        ));
    }
    let list = p.required("filterlist")?.to_string();
    let f = filter_from(&p)?;
    let now = s.now;
    let store = s.store_mut()?;
    let l = store.filter_list_mut(&list).ok_or_else(|| {
        CliError::param(
            "filterlist",
            format!("filter list \"{list}\" does not exist"),
        )
    })?;
    let before = l.filters.len();
    l.filters.retain(|x| !x.same_selector(&f));
    if l.filters.len() == before {
        return Err(CliError::new(format!(
            "no filter in \"{list}\" matches the given addresses, protocol, ports and mirroring"
        )));
    }
    l.last_modified = now;
    Ok(Output::default())
}

// ---------------------------------------------------------------------------------------
// Filter actions.

const ACTION_TAGS: &[&str] = &[
    "name",
    "description",
    "qmpfs",
    "inpass",
    "soft",
    "action",
    "qmsecmethods",
];

fn apply_action_params(p: &Params, a: &mut FilterAction) -> Result<(), CliError> {
    if let Some(d) = p.get("description") {
        a.description = d.to_string();
    }
    if let Some(v) = p.yes_no("qmpfs")? {
        a.qm_pfs = v;
    }
    if let Some(v) = p.yes_no("inpass")? {
        a.inpass = v;
    }
    if let Some(v) = p.yes_no("soft")? {
        a.soft = v;
    }
    if let Some(k) = action_kind(p)? {
        a.action = k;
    }
    if let Some(m) = qm_methods(p, "qmsecmethods")? {
        a.qm_methods = m;
    }
    // Methods matter only to negotiate (netsh ignores them otherwise): permit and block
    // keep none, and switching to negotiate without methods gets Windows' defaults.
    if a.action != ActionKind::Negotiate && !p.has("qmsecmethods") {
        a.qm_methods.clear();
    } else if a.action == ActionKind::Negotiate && a.qm_methods.is_empty() {
        a.qm_methods = policy::default_qm_methods();
    }
    Ok(())
}

fn add_filteraction(s: &mut Session, w: &[String]) -> Result<Output, CliError> {
    let p = Params::parse(w, ACTION_TAGS, &[])?;
    let name = name_param(&p, "name")?.to_string();
    let now = s.now;
    let store = s.store_mut()?;
    if store.filter_action(&name).is_some() {
        return Err(CliError::param(
            "name",
            format!("filter action \"{name}\" already exists"),
        ));
    }
    let mut a = FilterAction::new(&name, now);
    apply_action_params(&p, &mut a)?;
    store.filter_actions.push(a);
    Ok(Output::default())
}

fn set_filteraction(s: &mut Session, w: &[String]) -> Result<Output, CliError> {
    let mut tags = vec!["name", "guid", "newname"];
    tags.extend(ACTION_TAGS.iter().skip(1));
    let p = Params::parse(w, &tags, &[])?;
    no_guid(&p)?;
    let name = p.required("name")?.to_string();
    let now = s.now;
    let store = s.store_mut()?;
    let a = store.filter_action_mut(&name).ok_or_else(|| {
        CliError::param("name", format!("filter action \"{name}\" does not exist"))
    })?;
    apply_action_params(&p, a)?;
    a.last_modified = now;
    if let Some(n) = p.get("newname") {
        policy::validate::validate_name(n).map_err(|e| CliError::param("newname", e))?;
        a.name = n.to_string();
        for pol in &mut store.policies {
            for r in &mut pol.rules {
                if r.filter_action.eq_ignore_ascii_case(&name) {
                    r.filter_action = n.to_string();
                }
            }
        }
    }
    Ok(Output::default())
}

fn delete_filteraction(s: &mut Session, w: &[String]) -> Result<Output, CliError> {
    let p = Params::parse(w, &["name", "guid"], &[])?;
    no_guid(&p)?;
    let name = p.required("name")?.to_string();
    let store = s.store_mut()?;
    let targets: Vec<String> = if is_all(&name) && store.filter_action(&name).is_none() {
        store
            .filter_actions
            .iter()
            .map(|a| a.name.clone())
            .collect()
    } else {
        let a = store.filter_action(&name).ok_or_else(|| {
            CliError::param("name", format!("filter action \"{name}\" does not exist"))
        })?;
        vec![a.name.clone()]
    };
    for t in &targets {
        if let Some((pol, r)) = store.rules_using_action(t).next() {
            return Err(CliError::param(
                "name",
                format!(
                    "filter action \"{t}\" is used by rule \"{}\" of policy \"{}\"",
                    r.name, pol.name
                ),
            ));
        }
    }
    store.filter_actions.retain(|a| !targets.contains(&a.name));
    Ok(Output::default())
}

// ---------------------------------------------------------------------------------------
// Rules.

const RULE_TAGS: &[&str] = &[
    "name",
    "policy",
    "filterlist",
    "filteraction",
    "tunnel",
    "conntype",
    "activate",
    "description",
    "kerberos",
    "psk",
    "rootca",
];

fn add_rule(s: &mut Session, w: &[String]) -> Result<Output, CliError> {
    let p = Params::parse(w, RULE_TAGS, &["rootca", "psk"])?;
    let name = name_param(&p, "name")?.to_string();
    let policy_name = p.required("policy")?.to_string();
    let list = p.required("filterlist")?.to_string();
    let action = p.required("filteraction")?.to_string();
    let now = s.now;
    let store = s.store_mut()?;
    let list = store
        .filter_list(&list)
        .ok_or_else(|| {
            CliError::param(
                "filterlist",
                format!("filter list \"{list}\" does not exist"),
            )
        })?
        .name
        .clone();
    let action = store
        .filter_action(&action)
        .ok_or_else(|| {
            CliError::param(
                "filteraction",
                format!("filter action \"{action}\" does not exist"),
            )
        })?
        .name
        .clone();
    let rule = Rule {
        name: name.clone(),
        description: p.get("description").unwrap_or_default().to_string(),
        filter_list: list,
        filter_action: action,
        // netsh: with no authentication methods given, the defaults (Kerberos) apply.
        auth: auth_methods(&p)?.unwrap_or_else(|| vec![AuthMethod::Kerberos]),
        tunnel: tunnel(&p)?.flatten(),
        conn_type: conn_type(&p)?.unwrap_or(ConnectionType::All),
        active: p.yes_no("activate")?.unwrap_or(true),
    };
    let pol = store.policy_mut(&policy_name).ok_or_else(|| {
        CliError::param("policy", format!("policy \"{policy_name}\" does not exist"))
    })?;
    if pol.rule(&name).is_some() {
        return Err(CliError::param(
            "name",
            format!("rule \"{name}\" already exists in policy \"{}\"", pol.name),
        ));
    }
    pol.rules.push(rule);
    pol.last_modified = now;
    Ok(Output::default())
}

/// `name=` or `id=` (1-based position) of a rule in a policy.
fn find_rule(pol: &Policy, p: &Params) -> Result<usize, CliError> {
    if let Some(id) = p.get("id") {
        let n: usize = id
            .parse()
            .map_err(|_| CliError::param("id", format!("'{id}' is not a rule number")))?;
        return if (1..=pol.rules.len()).contains(&n) {
            Ok(n - 1)
        } else {
            Err(CliError::param(
                "id",
                format!("policy \"{}\" has no rule {n}", pol.name),
            ))
        };
    }
    let name = p
        .get("name")
        .ok_or_else(|| CliError::param("name", "name= or id= is required"))?;
    pol.rules
        .iter()
        .position(|r| r.name.eq_ignore_ascii_case(name))
        .ok_or_else(|| {
            CliError::param(
                "name",
                format!("policy \"{}\" has no rule \"{name}\"", pol.name),
            )
        })
}

fn set_rule(s: &mut Session, w: &[String]) -> Result<Output, CliError> {
    let mut tags = vec!["name", "id", "policy", "newname"];
    tags.extend(RULE_TAGS.iter().skip(2));
    let p = Params::parse(w, &tags, &["rootca", "psk"])?;
    let policy_name = p.required("policy")?.to_string();
    let now = s.now;
    let store = s.store_mut()?;
    let list_name = match p.get("filterlist") {
        None => None,
        Some(l) => Some(
            store
                .filter_list(l)
                .ok_or_else(|| {
                    CliError::param("filterlist", format!("filter list \"{l}\" does not exist"))
                })?
                .name
                .clone(),
        ),
    };
    let action_name = match p.get("filteraction") {
        None => None,
        Some(a) => Some(
            store
                .filter_action(a)
                .ok_or_else(|| {
                    CliError::param(
                        "filteraction",
                        format!("filter action \"{a}\" does not exist"),
                    )
                })?
                .name
                .clone(),
        ),
    };
    let pol = store.policy_mut(&policy_name).ok_or_else(|| {
        CliError::param("policy", format!("policy \"{policy_name}\" does not exist"))
    })?;
    let i = find_rule(pol, &p)?;
    let r = &mut pol.rules[i];
    if let Some(n) = p.get("newname") {
        policy::validate::validate_name(n).map_err(|e| CliError::param("newname", e))?;
        r.name = n.to_string();
    }
    if let Some(d) = p.get("description") {
        r.description = d.to_string();
    }
    if let Some(l) = list_name {
        r.filter_list = l;
    }
    if let Some(a) = action_name {
        r.filter_action = a;
    }
    if let Some(t) = tunnel(&p)? {
        r.tunnel = t;
    }
    if let Some(c) = conn_type(&p)? {
        r.conn_type = c;
    }
    if let Some(a) = p.yes_no("activate")? {
        r.active = a;
    }
    if let Some(a) = auth_methods(&p)? {
        r.auth = a;
    }
    pol.last_modified = now;
    Ok(Output::default())
}

fn delete_rule(s: &mut Session, w: &[String]) -> Result<Output, CliError> {
    let p = Params::parse(w, &["name", "id", "policy"], &[])?;
    let policy_name = p.required("policy")?.to_string();
    let now = s.now;
    let store = s.store_mut()?;
    let pol = store.policy_mut(&policy_name).ok_or_else(|| {
        CliError::param("policy", format!("policy \"{policy_name}\" does not exist"))
    })?;
    if p.get("name").is_some_and(is_all) && pol.rule("all").is_none() {
        pol.rules.clear();
    } else {
        let i = find_rule(pol, &p)?;
        pol.rules.remove(i);
    }
    pol.last_modified = now;
    Ok(Output::default())
}

fn set_defaultrule(s: &mut Session, w: &[String]) -> Result<Output, CliError> {
    let p = Params::parse(
        w,
        &[
            "policy",
            "qmpfs",
            "activate",
            "qmsecmethods",
            "kerberos",
            "psk",
            "rootca",
        ],
        &["rootca", "psk"],
    )?;
    let policy_name = p.required("policy")?.to_string();
    let now = s.now;
    let store = s.store_mut()?;
    let pol = store.policy_mut(&policy_name).ok_or_else(|| {
        CliError::param("policy", format!("policy \"{policy_name}\" does not exist"))
    })?;
    let d = &mut pol.default_response;
    if let Some(v) = p.yes_no("qmpfs")? {
        d.qm_pfs = v;
    }
    if let Some(v) = p.yes_no("activate")? {
        d.active = v;
    }
    if let Some(m) = qm_methods(&p, "qmsecmethods")? {
        d.qm_methods = m;
    }
    if let Some(a) = auth_methods(&p)? {
        d.auth = a;
    }
    pol.last_modified = now;
    Ok(Output::default())
}

// ---------------------------------------------------------------------------------------
// Store, batch, delete all, export/import.

fn set_store(s: &mut Session, w: &[String]) -> Result<Output, CliError> {
    let p = Params::parse(w, &["location", "domain"], &[])?;
    let loc = p
        .choice("location", &["local", "persistent", "domain"])?
        .ok_or_else(|| CliError::param("location", "is required"))?;
    let loc = StoreLocation::parse(loc).unwrap_or(StoreLocation::Local);
    if loc == StoreLocation::Domain {
        return Err(CliError::param(
            "location",
            "the domain store is not available: Oakley has no directory service connection yet",
        ));
    }
    if p.has("domain") {
        return Err(CliError::param("domain", "applies only to location=domain"));
    }
    s.select_store(loc)?;
    Ok(Output::default())
}

fn set_batch(s: &mut Session, w: &[String]) -> Result<Output, CliError> {
    let p = Params::parse(w, &["mode"], &[])?;
    // Leaving batch mode lets run() write what the batch changed.
    s.batch = match p.choice("mode", &["enable", "disable"])? {
        Some("enable") => true,
        Some(_) => false,
        None => return Err(CliError::param("mode", "is required")),
    };
    Ok(Output::default())
}

fn delete_all(s: &mut Session, w: &[String]) -> Result<Output, CliError> {
    Params::parse(w, &[], &[])?;
    *s.store_mut()? = policy::Store::default();
    Ok(Output::default())
}

fn export_policy(s: &mut Session, w: &[String]) -> Result<Output, CliError> {
    let p = Params::parse(w, &["file"], &[])?;
    let file = p.required("file")?.to_string();
    let bytes = to_document(s.store()?);
    write_atomically(std::path::Path::new(&file), &bytes)
        .map_err(|e| CliError::param("file", format!("cannot write {file}: {e}")))?;
    Ok(Output::default())
}

fn import_policy(s: &mut Session, w: &[String]) -> Result<Output, CliError> {
    let p = Params::parse(w, &["file"], &[])?;
    let file = p.required("file")?.to_string();
    let path = std::path::Path::new(&file);
    let bytes = std::fs::read(path)
        .map_err(|e| CliError::param("file", format!("cannot read {file}: {e}")))?;
    let imported =
        from_document(path, &bytes).map_err(|e| CliError::param("file", e.to_string()))?;
    let n = merge_import(s.store_mut()?, imported);
    Ok(Output::text(format!("Imported {n} objects from {file}.\n")))
}
