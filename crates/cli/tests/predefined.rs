//! Each predefined policy built through the CLI, checked against what the Windows model
//! gives (Microsoft's public descriptions and the seeds), and against the built-in copy.

mod common;

use common::{Oakley, script_path};
use serde_json::Value;

const HOST: &str = r#"{"me": ["10.0.0.5"]}"#;

fn built() -> Oakley {
    let o = Oakley::new();
    let (ok, _, err) = o.script(&script_path("predefined.netsh"));
    assert!(ok, "{err}");
    o
}

/// Policies, lists and actions without timestamps and descriptions (our own wording).
fn normalized(o: &Oakley) -> Value {
    let mut v: Value =
        serde_json::from_slice(&std::fs::read(o.path("local.json")).unwrap()).unwrap();
    fn strip(v: &mut Value) {
        match v {
            Value::Object(m) => {
                m.remove("last_modified");
                m.remove("description");
                m.values_mut().for_each(strip);
            }
            Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut v);
    for key in ["policies", "filter_lists", "filter_actions"] {
        v[key]
            .as_array_mut()
            .unwrap()
            .sort_by_key(|x| x["name"].as_str().unwrap().to_string());
    }
    v
}

#[test]
fn script_matches_the_built_in_predefined_policies() {
    let typed = built();
    let restored = Oakley::new();
    restored.ok(&["static", "restore", "defaultpolicies"]);
    assert_eq!(normalized(&typed), normalized(&restored));
}

#[test]
fn client_respond_only_has_only_the_default_response_rule() {
    let o = built();
    let out = o.ok(&[
        "static",
        "show",
        "policy",
        "name=Client (Respond Only)",
        "level=verbose",
    ]);
    assert!(out.contains("No. of Rules            : 0"), "{out}");
    assert!(out.contains("Default Response Rule   : YES"), "{out}");
    assert!(out.contains("Filter List             : <Dynamic>"), "{out}");
    assert!(out.contains("  1. Kerberos"), "{out}");
    let out = o.ok(&[
        "static",
        "show",
        "rule",
        "name=default",
        "policy=Client (Respond Only)",
    ]);
    assert!(out.contains("Activated               : YES"), "{out}");
    // Assigned, it compiles to the IKE exemption only: the client never asks for security.
    o.ok(&[
        "static",
        "set",
        "policy",
        "name=Client (Respond Only)",
        "assign=yes",
    ]);
    let host = o.host(HOST);
    let j: Value =
        serde_json::from_str(&o.ok(&["--host", &host, "--json", "static", "show", "rsop"]))
            .unwrap();
    let filters = j["compiled"]["filters"].as_array().unwrap();
    assert_eq!(filters.len(), 8);
    assert!(filters.iter().all(|f| f["weight"] == u32::MAX));
    let out = o.ok(&[
        "--host",
        &host,
        "static",
        "explain",
        "srcaddr=10.0.0.5",
        "dstaddr=10.0.0.9",
        "protocol=tcp",
        "dstport=80",
        "direction=out",
    ]);
    assert!(
        out.contains("passes in the clear") && out.contains("default response rule is active"),
        "{out}"
    );
}

/// Rules of a policy as (filter list, filter action) and the compiled filters as text.
fn check_server_policy(policy: &str, negotiate: &str, soft: &str, methods: usize) {
    let o = built();
    let out = o.ok(&[
        "static",
        "show",
        "rule",
        "all",
        &format!("policy={policy}"),
        "format=table",
    ]);
    let lines: Vec<&str> = out.lines().skip(2).collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].contains("All IP Traffic") && lines[0].contains(negotiate),
        "{out}"
    );
    assert!(
        lines[1].contains("All ICMP Traffic") && lines[1].contains("Permit"),
        "{out}"
    );
    let out = o.ok(&[
        "static",
        "show",
        "filteraction",
        &format!("name={negotiate}"),
    ]);
    assert!(
        out.contains("Action                  : NEGOTIATE SECURITY"),
        "{out}"
    );
    assert!(out.contains("Inbound Passthru        : YES"), "{out}");
    assert!(
        out.contains(&format!("AllowUnsecured          : {soft}")),
        "{out}"
    );
    assert!(
        out.contains(&format!("Security Methods        : {methods}")),
        "{out}"
    );
    assert!(out.contains("  1. ESP[3DES,SHA1]:100000k/3600s"), "{out}");
    // The filter lists are mirrored, this computer to any address.
    let out = o.ok(&["static", "show", "filterlist", "name=All IP Traffic"]);
    assert!(
        out.contains("Mirrored              : YES") && out.contains("Source IP Address     : Me"),
        "{out}"
    );

    o.ok(&[
        "static",
        "set",
        "policy",
        &format!("name={policy}"),
        "assign=yes",
    ]);
    let host = o.host(HOST);
    let j: Value =
        serde_json::from_str(&o.ok(&["--host", &host, "--json", "static", "show", "rsop"]))
            .unwrap();
    let c = &j["compiled"];
    let specific: Vec<String> = c["filters"]
        .as_array()
        .unwrap()
        .iter()
        .skip(8)
        .map(|f| {
            let rule = &c["rules"][f["rule"].as_u64().unwrap() as usize];
            format!(
                "{} {} {}/{} -> {}/{} {}",
                f["direction"].as_str().unwrap(),
                f["protocol"],
                f["src"]["bits"],
                f["src"]["len"],
                f["dst"]["bits"],
                f["dst"]["len"],
                rule["filter_action"].as_str().unwrap()
            )
        })
        .collect();
    // 10.0.0.5 as an IPv4-mapped 128-bit number.
    let me = u128::from(0xffff_0a00_0005u64);
    assert_eq!(
        specific,
        vec![
            format!("outbound 1 {me}/128 -> 0/0 Permit"),
            format!("inbound 1 0/0 -> {me}/128 Permit"),
            format!("outbound null {me}/128 -> 0/0 {negotiate}"),
            format!("inbound null 0/0 -> {me}/128 {negotiate}"),
        ]
    );
    assert_eq!(j["applied"][0]["store"]["assigned"], policy);
}

#[test]
fn server_request_security() {
    check_server_policy(
        "Server (Request Security)",
        "Request Security (Optional)",
        "YES",
        6,
    );
}

#[test]
fn secure_server_require_security() {
    check_server_policy(
        "Secure Server (Require Security)",
        "Require Security",
        "NO",
        4,
    );
    let o = built();
    o.ok(&[
        "static",
        "set",
        "policy",
        "name=Secure Server (Require Security)",
        "assign=yes",
    ]);
    let host = o.host(HOST);
    let out = o.ok(&[
        "--host",
        &host,
        "static",
        "explain",
        "srcaddr=10.0.0.5",
        "dstaddr=10.0.0.9",
        "protocol=tcp",
        "dstport=1433",
        "direction=out",
    ]);
    assert!(out.contains("dropped if negotiation fails"), "{out}");
    let out = o.ok(&[
        "--host",
        &host,
        "static",
        "explain",
        "srcaddr=10.0.0.9",
        "dstaddr=10.0.0.5",
        "protocol=icmp",
        "direction=in",
    ]);
    assert!(
        out.contains("permitted in the clear") && out.contains("also matches, but ranks lower"),
        "{out}"
    );
}
