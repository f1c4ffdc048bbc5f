//! `show ...`, `show rsop` and `explain` output: netsh-like `format=list` (the default)
//! and `format=table`, and JSON with `--json`. Pre-shared keys never appear: everything
//! shown goes through `Store::redacted` or prints `Secret`'s redacted form.

use std::fmt::Write as _;

use policy::compile::compile_rsop;
use policy::methods::describe_list;
use policy::resolver::{HostResolver, SystemHost};
use policy::store::{PolicySource, StoreLocation};
use policy::{
    Address, Classifier, Direction, Filter, FilterAction, FilterList, Packet, Policy, Protocol,
    Rule, Store, resultant, yes_no,
};
use serde_json::json;

use crate::commands::{Context, HostSource, Output};
use crate::error::CliError;
use crate::params::Params;
use crate::timefmt::utc;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    List,
    Table,
}

fn common(p: &Params) -> Result<(Format, bool), CliError> {
    let format = match p.choice("format", &["list", "table"])? {
        Some("table") => Format::Table,
        _ => Format::List,
    };
    let verbose = p.choice("level", &["verbose", "normal"])? == Some("verbose");
    // wide= only changes column truncation in netsh; Oakley never truncates.
    p.yes_no("wide")?;
    Ok((format, verbose))
}

pub(crate) fn kv(out: &mut String, key: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "{key:<24}: {value}");
}

fn or_none(s: &str) -> &str {
    if s.is_empty() { "NONE" } else { s }
}

/// Columns padded to the widest cell; the last column is not padded.
pub(crate) fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                let _ = write!(s, "{c:<w$}  ", w = widths[i]);
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(headers.to_vec());
    out.push_str(&line(
        widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .iter()
            .map(|s| s.as_str())
            .collect(),
    ));
    for r in rows {
        out.push_str(&line(r.iter().map(|s| s.as_str()).collect()));
    }
    out
}

pub fn run(ctx: &mut Context<'_>, object: &str, w: &[String]) -> Result<Output, CliError> {
    match object {
        "policy" => show_policies(ctx, w),
        "filterlist" => show_filterlists(ctx, w),
        "filteraction" => show_filteractions(ctx, w),
        "rule" => show_rules(ctx, w),
        "store" => {
            Params::parse(w, &[], &[])?;
            let loc = ctx.session.current;
            let path = ctx.session.file_store(loc).path().display().to_string();
            Ok(Output {
                text: format!("The current IPsec store is the {loc} ({path}).\n"),
                json: Some(json!({"store": loc, "path": path})),
            })
        }
        "all" => {
            let p = Params::parse(w, &["format", "wide"], &[])?;
            let mut words: Vec<String> = vec!["all".into(), "level=verbose".into()];
            if let Some(f) = p.get("format") {
                words.push(format!("format={f}"));
            }
            let pol = show_policies(ctx, &words)?;
            let lists = show_filterlists(ctx, &words)?;
            let actions = show_filteractions(ctx, &words)?;
            Ok(Output {
                text: format!("{}\n{}\n{}", pol.text, lists.text, actions.text),
                json: Some(
                    json!({"store": ctx.session.current, "content": ctx.session.store()?.redacted()}),
                ),
            })
        }
        "rsop" => show_rsop(ctx, w),
        _ => Err(CliError::new("unknown object")),
    }
}

/// `name=<x>|all` selection; `None` selects all.
fn selection<'a>(p: &'a Params, tag: &'static str) -> Result<Option<&'a str>, CliError> {
    match p.get(tag) {
        None => Err(CliError::param(tag, "is required (a name, or all)")),
        Some(v) if v.eq_ignore_ascii_case("all") => Ok(None),
        Some(v) => Ok(Some(v)),
    }
}

fn select<'a, T>(
    items: &'a [T],
    name: Option<&str>,
    get: impl Fn(&T) -> &str,
    what: &str,
) -> Result<Vec<&'a T>, CliError> {
    let v: Vec<&T> = items
        .iter()
        .filter(|x| name.is_none_or(|n| get(x).eq_ignore_ascii_case(n)))
        .collect();
    if let (Some(n), true) = (name, v.is_empty()) {
        return Err(CliError::param(
            "name",
            format!("{what} \"{n}\" does not exist"),
        ));
    }
    Ok(v)
}

fn show_policies(ctx: &mut Context<'_>, w: &[String]) -> Result<Output, CliError> {
    let p = Params::parse(w, &["name", "level", "format", "wide"], &[])?;
    let (format, verbose) = common(&p)?;
    let name = selection(&p, "name")?;
    let loc = ctx.session.current;
    let store = ctx.session.store()?.redacted();
    let pols = select(&store.policies, name, |x| &x.name, "policy")?;
    let json = Some(json!(pols));
    if pols.is_empty() {
        return Ok(Output {
            text: format!("No policies in the {loc}.\n"),
            json,
        });
    }
    let text = if format == Format::Table && !verbose {
        let rows = pols
            .iter()
            .map(|x| {
                vec![
                    x.name.clone(),
                    yes_no(store.is_assigned(&x.name)).into(),
                    x.rules.len().to_string(),
                    utc(x.last_modified),
                ]
            })
            .collect::<Vec<_>>();
        table(
            &["Policy Name", "Assigned", "Rules", "Last Modified"],
            &rows,
        )
    } else {
        pols.iter()
            .map(|x| policy_text(&store, x, loc, verbose, format))
            .collect::<Vec<_>>()
            .join("\n")
    };
    Ok(Output { text, json })
}

fn policy_text(
    store: &Store,
    x: &Policy,
    loc: StoreLocation,
    verbose: bool,
    format: Format,
) -> String {
    let mut out = String::new();
    kv(&mut out, "Policy Name", &x.name);
    kv(&mut out, "Description", or_none(&x.description));
    kv(&mut out, "Store", loc);
    kv(&mut out, "Last Modified", utc(x.last_modified));
    kv(&mut out, "Assigned", yes_no(store.is_assigned(&x.name)));
    kv(&mut out, "Master PFS", yes_no(x.mm_pfs));
    kv(
        &mut out,
        "Polling Interval",
        format!("{} minutes", x.polling_interval_min),
    );
    kv(
        &mut out,
        "MM Lifetime",
        format!("{} minutes", x.mm_lifetime_min),
    );
    kv(&mut out, "QM Per MM", x.qm_per_mm);
    kv(
        &mut out,
        "MM Security Methods",
        describe_list(&x.mm_methods, |m| m.is_weak()),
    );
    kv(
        &mut out,
        "Default Response Rule",
        yes_no(x.default_response.active),
    );
    kv(&mut out, "No. of Rules", x.rules.len());
    if verbose {
        for i in 0..x.rules.len() {
            out.push('\n');
            out.push_str(&rule_text(store, x, i, true));
        }
        out.push('\n');
        out.push_str(&default_rule_text(x));
    } else if format == Format::List {
        for (i, r) in x.rules.iter().enumerate() {
            let _ = writeln!(
                out,
                "  Rule {}: {} ({} -> {})",
                i + 1,
                r.name,
                r.filter_list,
                r.filter_action
            );
        }
    }
    out
}

fn rule_text(store: &Store, pol: &Policy, i: usize, verbose: bool) -> String {
    let r: &Rule = &pol.rules[i];
    let mut out = String::new();
    kv(&mut out, "Rule ID", i + 1);
    kv(&mut out, "Rule Name", &r.name);
    kv(&mut out, "Policy Name", &pol.name);
    kv(&mut out, "Description", or_none(&r.description));
    kv(&mut out, "Activated", yes_no(r.active));
    kv(&mut out, "Connection Type", r.conn_type);
    kv(
        &mut out,
        "Tunnel Endpoint",
        r.tunnel
            .as_ref()
            .map_or("NONE".to_string(), |t| t.to_string()),
    );
    kv(&mut out, "Filter List", &r.filter_list);
    kv(&mut out, "Filter Action", &r.filter_action);
    auth_lines(&mut out, &r.auth);
    if verbose {
        if let Some(l) = store.filter_list(&r.filter_list) {
            out.push('\n');
            out.push_str(&filterlist_text(l, StoreLocationLabel::Omit));
        }
        if let Some(a) = store.filter_action(&r.filter_action) {
            out.push('\n');
            out.push_str(&filteraction_text(a, StoreLocationLabel::Omit));
        }
    }
    out
}

fn auth_lines(out: &mut String, auth: &[policy::AuthMethod]) {
    kv(out, "Authentication Methods", auth.len());
    for (i, a) in auth.iter().enumerate() {
        // AuthMethod's Display prints pre-shared keys through Secret, which redacts.
        let _ = writeln!(out, "  {}. {a}", i + 1);
    }
}

fn default_rule_text(x: &Policy) -> String {
    let d = &x.default_response;
    let mut out = String::new();
    kv(&mut out, "Rule ID", "Default Response");
    kv(&mut out, "Activated", yes_no(d.active));
    kv(&mut out, "Filter List", "<Dynamic>");
    kv(
        &mut out,
        "Filter Action",
        "Default Response (negotiate security)",
    );
    kv(&mut out, "QMPFS", yes_no(d.qm_pfs));
    methods_lines(&mut out, &d.qm_methods);
    auth_lines(&mut out, &d.auth);
    out
}

fn methods_lines(out: &mut String, methods: &[policy::methods::QmSecMethod]) {
    kv(out, "Security Methods", methods.len());
    for (i, m) in methods.iter().enumerate() {
        let weak = if m.is_weak() { " (weak)" } else { "" };
        let _ = writeln!(out, "  {}. {m}{weak}", i + 1);
    }
}

#[derive(Clone, Copy)]
enum StoreLocationLabel {
    Show(StoreLocation),
    Omit,
}

fn port_text(p: u16) -> String {
    if p == 0 { "ANY".into() } else { p.to_string() }
}

fn filter_text(out: &mut String, i: usize, f: &Filter) {
    let _ = writeln!(out, "Filter {}", i + 1);
    kv(out, "  Description", or_none(&f.description));
    kv(out, "  Mirrored", yes_no(f.mirrored));
    kv(out, "  Source IP Address", &f.src);
    kv(out, "  Destination IP Address", &f.dst);
    kv(out, "  Protocol", f.protocol);
    kv(out, "  Source Port", port_text(f.src_port));
    kv(out, "  Destination Port", port_text(f.dst_port));
}

fn filterlist_text(l: &FilterList, loc: StoreLocationLabel) -> String {
    let mut out = String::new();
    kv(&mut out, "FilterList Name", &l.name);
    kv(&mut out, "Description", or_none(&l.description));
    if let StoreLocationLabel::Show(loc) = loc {
        kv(&mut out, "Store", loc);
    }
    kv(&mut out, "Last Modified", utc(l.last_modified));
    kv(&mut out, "No. of Filters", l.filters.len());
    for (i, f) in l.filters.iter().enumerate() {
        filter_text(&mut out, i, f);
    }
    out
}

fn filteraction_text(a: &FilterAction, loc: StoreLocationLabel) -> String {
    let mut out = String::new();
    kv(&mut out, "FilterAction Name", &a.name);
    kv(&mut out, "Description", or_none(&a.description));
    if let StoreLocationLabel::Show(loc) = loc {
        kv(&mut out, "Store", loc);
    }
    kv(&mut out, "Action", a.action);
    kv(&mut out, "Last Modified", utc(a.last_modified));
    if a.action == policy::ActionKind::Negotiate {
        kv(&mut out, "QMPFS", yes_no(a.qm_pfs));
        kv(&mut out, "Inbound Passthru", yes_no(a.inpass));
        kv(&mut out, "AllowUnsecured", yes_no(a.soft));
        methods_lines(&mut out, &a.qm_methods);
    }
    out
}

fn filter_rows(l: &FilterList) -> Vec<Vec<String>> {
    l.filters
        .iter()
        .map(|f| {
            vec![
                l.name.clone(),
                f.src.to_string(),
                f.dst.to_string(),
                f.protocol.to_string(),
                port_text(f.src_port),
                port_text(f.dst_port),
                yes_no(f.mirrored).into(),
            ]
        })
        .collect()
}

const FILTER_HEADERS: &[&str] = &[
    "Filter List",
    "Source",
    "Destination",
    "Protocol",
    "SrcPort",
    "DstPort",
    "Mirrored",
];

fn show_filterlists(ctx: &mut Context<'_>, w: &[String]) -> Result<Output, CliError> {
    let p = Params::parse(
        w,
        &["name", "rule", "level", "format", "resolvedns", "wide"],
        &[],
    )?;
    let (format, _verbose) = common(&p)?;
    let resolve = p.yes_no("resolvedns")?.unwrap_or(false);
    let loc = ctx.session.current;
    let store = ctx.session.store()?.clone();
    let lists: Vec<&FilterList> = if let Some(rule) = p.get("rule") {
        let names: Vec<&str> = store
            .policies
            .iter()
            .flat_map(|x| &x.rules)
            .filter(|r| r.name.eq_ignore_ascii_case(rule))
            .map(|r| r.filter_list.as_str())
            .collect();
        if names.is_empty() {
            return Err(CliError::param("rule", format!("no rule \"{rule}\"")));
        }
        store
            .filter_lists
            .iter()
            .filter(|l| names.iter().any(|n| l.name.eq_ignore_ascii_case(n)))
            .collect()
    } else {
        select(
            &store.filter_lists,
            selection(&p, "name")?,
            |x| &x.name,
            "filter list",
        )?
    };
    let json = Some(json!(lists));
    if lists.is_empty() {
        return Ok(Output {
            text: format!("No filter lists in the {loc}.\n"),
            json,
        });
    }
    let mut text = if format == Format::Table {
        let rows: Vec<Vec<String>> = lists.iter().flat_map(|l| filter_rows(l)).collect();
        table(FILTER_HEADERS, &rows)
    } else {
        lists
            .iter()
            .map(|l| filterlist_text(l, StoreLocationLabel::Show(loc)))
            .collect::<Vec<_>>()
            .join("\n")
    };
    if resolve {
        text.push_str(&resolved_names(&lists, ctx.host));
    }
    Ok(Output { text, json })
}

/// `resolvedns=yes`: the addresses DNS names in the lists resolve to now.
fn resolved_names(lists: &[&FilterList], host: &HostSource) -> String {
    let mut out = String::new();
    for l in lists {
        for f in &l.filters {
            for a in [&f.src, &f.dst] {
                if let Address::Dns { name } = a {
                    let r = with_host(host, |h| h.resolve(name));
                    let _ = match r {
                        Ok(v) => writeln!(
                            out,
                            "{name} resolves to {}",
                            v.iter()
                                .map(|a| a.to_string())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        Err(e) => writeln!(out, "{name}: {e}"),
                    };
                }
            }
        }
    }
    out
}

fn with_host<T>(host: &HostSource, f: impl FnOnce(&dyn HostResolver) -> T) -> T {
    match host {
        HostSource::System => f(&SystemHost::default()),
        HostSource::Planned(h, _) => f(h),
    }
}

fn show_filteractions(ctx: &mut Context<'_>, w: &[String]) -> Result<Output, CliError> {
    let p = Params::parse(w, &["name", "rule", "level", "format", "wide"], &[])?;
    let (format, _verbose) = common(&p)?;
    let loc = ctx.session.current;
    let store = ctx.session.store()?.clone();
    let actions: Vec<&FilterAction> = if let Some(rule) = p.get("rule") {
        let names: Vec<&str> = store
            .policies
            .iter()
            .flat_map(|x| &x.rules)
            .filter(|r| r.name.eq_ignore_ascii_case(rule))
            .map(|r| r.filter_action.as_str())
            .collect();
        if names.is_empty() {
            return Err(CliError::param("rule", format!("no rule \"{rule}\"")));
        }
        store
            .filter_actions
            .iter()
            .filter(|a| names.iter().any(|n| a.name.eq_ignore_ascii_case(n)))
            .collect()
    } else {
        select(
            &store.filter_actions,
            selection(&p, "name")?,
            |x| &x.name,
            "filter action",
        )?
    };
    let json = Some(json!(actions));
    if actions.is_empty() {
        return Ok(Output {
            text: format!("No filter actions in the {loc}.\n"),
            json,
        });
    }
    let text = if format == Format::Table {
        let rows = actions
            .iter()
            .map(|a| {
                vec![
                    a.name.clone(),
                    a.action.to_string(),
                    yes_no(a.inpass).into(),
                    yes_no(a.soft).into(),
                    yes_no(a.qm_pfs).into(),
                    describe_list(&a.qm_methods, |m| m.is_weak()),
                ]
            })
            .collect::<Vec<_>>();
        table(
            &[
                "FilterAction Name",
                "Action",
                "Inpass",
                "Soft",
                "QMPFS",
                "Security Methods",
            ],
            &rows,
        )
    } else {
        actions
            .iter()
            .map(|a| filteraction_text(a, StoreLocationLabel::Show(loc)))
            .collect::<Vec<_>>()
            .join("\n")
    };
    Ok(Output { text, json })
}

fn show_rules(ctx: &mut Context<'_>, w: &[String]) -> Result<Output, CliError> {
    let p = Params::parse(
        w,
        &["name", "id", "policy", "type", "level", "format", "wide"],
        &[],
    )?;
    let (format, verbose) = common(&p)?;
    let kind = p.choice("type", &["tunnel", "transport"])?;
    let policy_name = p.required("policy")?;
    let store = ctx.session.store()?.redacted();
    let pol = store.policy(policy_name).ok_or_else(|| {
        CliError::param("policy", format!("policy \"{policy_name}\" does not exist"))
    })?;
    let which = p.get("name");
    if which.is_some_and(|n| n.eq_ignore_ascii_case("default")) && pol.rule("default").is_none() {
        return Ok(Output {
            text: default_rule_text(pol),
            json: Some(json!(pol.default_response)),
        });
    }
    let mut idx: Vec<usize> = (0..pol.rules.len()).collect();
    if let Some(id) = p.get("id") {
        let n: usize = id
            .parse()
            .map_err(|_| CliError::param("id", format!("'{id}' is not a rule number")))?;
        if !(1..=pol.rules.len()).contains(&n) {
            return Err(CliError::param(
                "id",
                format!("policy \"{}\" has no rule {n}", pol.name),
            ));
        }
        idx = vec![n - 1];
    } else if let Some(n) = which.filter(|n| !n.eq_ignore_ascii_case("all")) {
        idx.retain(|&i| pol.rules[i].name.eq_ignore_ascii_case(n));
        if idx.is_empty() {
            return Err(CliError::param(
                "name",
                format!("policy \"{}\" has no rule \"{n}\"", pol.name),
            ));
        }
    }
    if let Some(k) = kind {
        idx.retain(|&i| pol.rules[i].tunnel.is_some() == (k == "tunnel"));
    }
    let json = Some(json!(
        idx.iter().map(|&i| &pol.rules[i]).collect::<Vec<_>>()
    ));
    let text = if format == Format::Table {
        let rows = idx
            .iter()
            .map(|&i| {
                let r = &pol.rules[i];
                vec![
                    (i + 1).to_string(),
                    r.name.clone(),
                    r.filter_list.clone(),
                    r.filter_action.clone(),
                    r.tunnel.as_ref().map_or("NONE".into(), |t| t.to_string()),
                    r.conn_type.to_string(),
                    yes_no(r.active).into(),
                    r.auth
                        .iter()
                        .map(|a| a.to_string())
                        .collect::<Vec<_>>()
                        .join("; "),
                ]
            })
            .collect::<Vec<_>>();
        table(
            &[
                "ID",
                "Rule Name",
                "Filter List",
                "Filter Action",
                "Tunnel",
                "Conn Type",
                "Active",
                "Authentication",
            ],
            &rows,
        )
    } else {
        idx.iter()
            .map(|&i| rule_text(&store, pol, i, verbose))
            .collect::<Vec<_>>()
            .join("\n")
    };
    Ok(Output { text, json })
}

// ---------------------------------------------------------------------------------------
// Resultant set of policy and explain.

fn rsop_and_classifier(ctx: &mut Context<'_>) -> (policy::Rsop, Classifier) {
    let dir = ctx.session.state_dir.clone();
    let local = policy::FileStore::open(&dir, StoreLocation::Local);
    let persistent = policy::FileStore::open(&dir, StoreLocation::Persistent);
    let sources: [&dyn PolicySource; 2] = [&persistent, &local];
    let rsop = resultant(&sources);
    let compiled = with_host(ctx.host, |h| compile_rsop(&rsop, h));
    (rsop, Classifier::new(compiled))
}

fn show_rsop(ctx: &mut Context<'_>, w: &[String]) -> Result<Output, CliError> {
    Params::parse(w, &[], &[])?;
    let (rsop, classifier) = rsop_and_classifier(ctx);
    let compiled = classifier.compiled();
    let mut out = String::new();
    let mode = match ctx.host {
        HostSource::System => "logging mode (this host)".to_string(),
        HostSource::Planned(_, path) => format!("planning mode (host described by {path})"),
    };
    let _ = writeln!(out, "Resultant Set of Policy, {mode}\n");
    let rows: Vec<Vec<String>> = rsop
        .stores
        .iter()
        .map(|s| {
            let state = match &s.state {
                policy::rsop::StoreState::NoAssignedPolicy => "no assigned policy".to_string(),
                policy::rsop::StoreState::Applied { policy } => format!("applies \"{policy}\""),
                policy::rsop::StoreState::Overridden { policy, by } => {
                    format!("\"{policy}\" overridden by the {by}")
                }
                policy::rsop::StoreState::Error { message } => format!("ERROR: {message}"),
            };
            vec![s.location.to_string(), s.origin.clone(), state]
        })
        .collect();
    out.push_str(&table(&["Store", "Origin", "State"], &rows));
    for a in &rsop.applied {
        let store = a.store.redacted();
        let _ = writeln!(
            out,
            "\n=== Policy \"{}\" from the {} ===",
            a.policy().name,
            a.location
        );
        out.push_str(&policy_text(
            &store,
            &store.policies[0],
            a.location,
            true,
            Format::List,
        ));
    }
    if rsop.applied.is_empty() {
        out.push_str(
            "\nNo policy applies: all traffic passes in the clear (IKE is still exempt).\n",
        );
    }
    let _ = writeln!(
        out,
        "\nSpecific filters ({}), in match order:",
        compiled.filters.len()
    );
    let rows: Vec<Vec<String>> = compiled
        .filters
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let r = &compiled.rules[f.rule];
            vec![
                (i + 1).to_string(),
                f.direction.to_string(),
                f.protocol
                    .map_or("ANY".into(), |n| Protocol::Number(n).to_string()),
                format!(
                    "{}:{}",
                    f.src,
                    f.src_port.map_or("*".into(), |p| p.to_string())
                ),
                format!(
                    "{}:{}",
                    f.dst,
                    f.dst_port.map_or("*".into(), |p| p.to_string())
                ),
                if f.weight == u32::MAX {
                    "exempt".into()
                } else {
                    f.weight.to_string()
                },
                r.filter_action.clone(),
                r.rule.clone(),
                r.tunnel.map_or("NONE".into(), |t| t.to_string()),
                r.conn_type.to_string(),
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "#",
            "Direction",
            "Protocol",
            "Source",
            "Destination",
            "Weight",
            "Action",
            "Rule",
            "Tunnel",
            "Conn",
        ],
        &rows,
    ));
    for wrn in &compiled.warnings {
        let _ = writeln!(out, "warning: {wrn}");
    }
    let applied: Vec<_> = rsop
        .applied
        .iter()
        .map(|a| json!({"location": a.location, "origin": a.origin, "store": a.store.redacted()}))
        .collect();
    let json = json!({"stores": rsop.stores, "applied": applied, "compiled": compiled});
    Ok(Output {
        text: out,
        json: Some(json),
    })
}

pub fn explain(ctx: &mut Context<'_>, w: &[String]) -> Result<Output, CliError> {
    let p = Params::parse(
        w,
        &[
            "srcaddr",
            "dstaddr",
            "protocol",
            "srcport",
            "dstport",
            "direction",
        ],
        &[],
    )?;
    let ip = |tag: &'static str| -> Result<std::net::IpAddr, CliError> {
        let v = p.required(tag)?;
        v.parse()
            .map_err(|_| CliError::param(tag, format!("'{v}' is not an IP address")))
    };
    let src = ip("srcaddr")?;
    let dst = ip("dstaddr")?;
    if src.is_ipv4() != dst.is_ipv4() {
        return Err(CliError::param(
            "dstaddr",
            "source and destination are of different IP versions",
        ));
    }
    let protocol = match p.get("protocol") {
        None => Protocol::TCP,
        Some(v) => match Protocol::parse(v) {
            Some(Protocol::Number(n)) => n,
            _ => {
                return Err(CliError::param(
                    "protocol",
                    format!("'{v}' is not a specific protocol (TCP, UDP, ICMP, 0-255)"),
                ));
            }
        },
    };
    let has_ports = Protocol::Number(protocol).has_ports();
    let src_port = p.number::<u16>("srcport", 0, 65_535)?.unwrap_or(0);
    let dst_port = p.number::<u16>("dstport", 0, 65_535)?.unwrap_or(0);
    if !has_ports && (src_port != 0 || dst_port != 0) {
        return Err(CliError::param("srcport", "ports need protocol TCP or UDP"));
    }
    let direction = match p.get("direction") {
        None => return Err(CliError::param("direction", "is required (in or out)")),
        Some(v) => Direction::parse(v)
            .ok_or_else(|| CliError::param("direction", format!("'{v}' is not in or out")))?,
    };
    let packet = Packet {
        src,
        dst,
        protocol,
        src_port,
        dst_port,
        direction,
    };
    let (rsop, classifier) = rsop_and_classifier(ctx);
    // The default response rule of the applied domain/local policy (or persistent).
    let default_active = rsop
        .applied
        .iter()
        .any(|a| a.policy().default_response.active);
    let e = classifier.explain(&packet, default_active);
    let mut out = String::new();
    kv(&mut out, "Packet", packet);
    kv(&mut out, "Verdict", &e.verdict);
    if let Some(m) = &e.matched {
        kv(&mut out, "Rule", format!("{} (id {})", m.rule, m.rule_id));
        kv(&mut out, "Policy", &m.policy);
        kv(
            &mut out,
            "Store",
            m.store.map_or("(built in)".to_string(), |s| s.to_string()),
        );
        kv(&mut out, "Filter Action", &m.filter_action);
    }
    out.push_str("Why:\n");
    for r in &e.reasons {
        let _ = writeln!(out, "  - {r}");
    }
    for wrn in &classifier.compiled().warnings {
        let _ = writeln!(out, "  ! {wrn}");
    }
    Ok(Output {
        text: out,
        json: Some(json!(e)),
    })
}
