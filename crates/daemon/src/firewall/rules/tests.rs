//! Golden rulesets: the exact JSON nft receives for the predefined Secure Server policy,
//! for a policy mixing inpass, fallback, block, IPv6 and a tunnel rule, and for each
//! startup mode. `OAKLEY_UPDATE_GOLDEN=1 cargo test -p daemon firewall` rewrites them
//! after an intended change. When run as root, nft itself checks every golden file in a
//! throwaway network namespace (`nft -c`, nothing is installed).

use std::path::PathBuf;

use control::{BootExemption, BootMode, Exemptions};
use policy::resolver::HostConfig;
use policy::store::StoreLocation;
use policy::{
    ActionKind, Address, AuthMethod, ConnectionType, Filter, FilterAction, FilterList, Policy,
    Protocol, Rule, Store, TunnelEndpoint, compile, predefined,
};

use super::super::{Ruleset, Setup, from_policy};
use super::{build, to_json};

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.json"))
}

fn pretty(setup: &Setup, rs: &Ruleset) -> String {
    let v: serde_json::Value = serde_json::from_str(&to_json(&build(setup, rs))).unwrap();
    serde_json::to_string_pretty(&v).unwrap() + "\n"
}

fn check(name: &str, got: &str) {
    let path = golden_path(name);
    if std::env::var_os("OAKLEY_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, got).unwrap();
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (OAKLEY_UPDATE_GOLDEN=1 writes it)", path.display()));
    assert_eq!(got, want, "{name} differs from {}", path.display());
    nft_accepts(name, got);
}

/// As root with nft installed: nft parses and checks the ruleset in a new network
/// namespace without applying it.
fn nft_accepts(name: &str, json: &str) {
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    if !root {
        return;
    }
    use std::io::Write;
    let mut child = match std::process::Command::new("unshare")
        .args(["-n", "nft", "-c", "-j", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(_) => return,
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(json.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "nft refuses {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn setup() -> Setup {
    Setup {
        table: "oakley".into(),
        tun: Some("oak0".into()),
        mark: Some(0x4f4b),
    }
}

fn host() -> HostConfig {
    HostConfig {
        me: vec!["10.0.0.5".parse().unwrap(), "fd00::5".parse().unwrap()],
        ..HostConfig::default()
    }
}

#[test]
fn secure_server_policy() {
    let mut s = Store::default();
    predefined::restore(&mut s, 0);
    s.assigned = Some(predefined::SECURE_SERVER.into());
    let c = compile(&[(Some(StoreLocation::Local), &s)], &host());
    let rules = from_policy::rules(&c, Exemptions::from_level(3));
    // Per family (IPv6 weighs more: longer prefixes), ICMP is permitted before
    // everything else is secured; the IKE exemption is in the preamble, not here.
    let summary: Vec<String> = rules
        .rules
        .iter()
        .map(|r| {
            format!(
                "{:?} {:?} {:?}",
                r.direction, r.enforcement, r.selector.protocol
            )
        })
        .collect();
    let pair = |proto: &str, e: &str| {
        vec![
            format!("Outbound {e} {proto}"),
            format!("Inbound {e} {proto}"),
        ]
    };
    let family = [pair("Some(1)", "Permit"), pair("None", "Request")].concat();
    assert_eq!(summary, [family.clone(), family].concat());
    check("secure_server", &pretty(&setup(), &Ruleset::Policy(rules)));
}

fn list(name: &str, filters: Vec<Filter>) -> FilterList {
    FilterList {
        name: name.into(),
        description: String::new(),
        filters,
        last_modified: 0,
    }
}

fn rule(name: &str, list: &str, action: &str, tunnel: Option<&str>) -> Rule {
    Rule {
        name: name.into(),
        description: String::new(),
        filter_list: list.into(),
        filter_action: action.into(),
        auth: vec![AuthMethod::Kerberos],
        tunnel: tunnel.map(|t| TunnelEndpoint::Ip(t.parse().unwrap())),
        conn_type: ConnectionType::All,
        active: true,
    }
}

#[test]
fn mixed_policy_with_fallback_block_ipv6_and_tunnel() {
    let mut s = Store::default();
    let mut web = Filter::new(Address::Me, Address::Any);
    web.protocol = Protocol::Number(Protocol::TCP);
    web.src_port = 80;
    let telnet = {
        let mut f = Filter::new(Address::Any, Address::Me);
        f.protocol = Protocol::Number(Protocol::TCP);
        f.dst_port = 23;
        f.mirrored = false;
        f
    };
    let v6 = Filter::new(
        Address::Me,
        Address::Ip {
            addr: "fd00:1::".parse().unwrap(),
            prefix: 64,
        },
    );
    let mut tunnel = Filter::new(
        Address::Ip {
            addr: "10.1.0.0".parse().unwrap(),
            prefix: 16,
        },
        Address::Ip {
            addr: "10.2.0.0".parse().unwrap(),
            prefix: 16,
        },
    );
    tunnel.mirrored = false;
    s.filter_lists = vec![
        list("Web", vec![web]),
        list("Telnet", vec![telnet]),
        list("V6", vec![v6]),
        list("Branch", vec![tunnel]),
    ];
    let mut request = FilterAction::new("Request", 0);
    request.inpass = true;
    request.soft = true;
    let mut require = FilterAction::new("Require", 0);
    require.soft = true;
    let mut block = FilterAction::new("Block", 0);
    block.action = ActionKind::Block;
    block.qm_methods.clear();
    s.filter_actions = vec![request, require, block, FilterAction::new("Strict", 0)];
    let mut p = Policy::new("Mixed", 0);
    p.rules = vec![
        rule("web", "Web", "Request", None),
        rule("telnet", "Telnet", "Block", None),
        rule("v6", "V6", "Require", None),
        rule("branch", "Branch", "Strict", Some("192.0.2.1")),
    ];
    s.policies.push(p);
    s.assigned = Some("Mixed".into());
    let c = compile(&[(Some(StoreLocation::Persistent), &s)], &host());
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    let rules = from_policy::rules(&c, Exemptions::from_level(0));
    check("mixed_policy", &pretty(&setup(), &Ruleset::Policy(rules)));
}

#[test]
fn startup_modes() {
    let ex = BootExemption::parse_list("TCP:0:22:inbound UDP:0:53:outbound").unwrap();
    for (mode, name) in [
        (BootMode::Stateful, "startup_stateful"),
        (BootMode::Block, "startup_block"),
        (BootMode::Permit, "startup_permit"),
    ] {
        let rs = Ruleset::Startup {
            mode,
            exemptions: ex.clone(),
        };
        check(name, &pretty(&setup(), &rs));
    }
}

#[test]
fn removal_and_fallback_elements() {
    let rm = to_json(&super::remove(&setup()));
    assert_eq!(
        rm,
        r#"{"nftables":[{"add":{"table":{"family":"inet","name":"oakley"}}},{"delete":{"table":{"family":"inet","name":"oakley"}}}]}"#
    );
    let add = to_json(&super::add_fallback(&setup(), "fd00::9".parse().unwrap()));
    assert!(
        add.contains(r#""name":"fallback6","elem":["fd00::9"]"#),
        "{add}"
    );
}

#[test]
fn hostile_comments_are_tamed() {
    let c = super::truncate_comment(&format!("a\"b\n{}", "x".repeat(300)));
    assert!(
        c.len() <= 127 && !c.contains('"') && !c.contains('\n'),
        "{c}"
    );
}
