//! Scripts: a real-world netsh script runs unchanged; errors name line and parameter and
//! change nothing; batch mode is all or nothing; secrets never show; export/import.

mod common;

use common::{Oakley, script_path};
use serde_json::Value;

const HOST: &str = r#"{"me": ["10.1.2.10"], "dns": ["10.1.0.53"], "gateway": ["10.1.0.1"]}"#;

fn realworld() -> Oakley {
    let o = Oakley::new();
    let (ok, _, err) = o.script(&script_path("realworld.cmd"));
    assert!(ok, "{err}");
    o
}

#[test]
fn real_world_script_runs_unchanged() {
    let o = realworld();
    let out = o.ok(&["static", "show", "policy", "all", "level=verbose"]);
    assert!(
        out.contains("MM Security Methods     : 3DES-SHA1-2 3DES-SHA1-14 AES256-SHA256-14"),
        "{out}"
    );
    assert!(out.contains("Assigned                : YES"), "{out}");
    // Authentication preference is the order on the command line: PSK, then certificate.
    let rule = o.ok(&["static", "show", "rule", "name=SQL", "policy=SQL Isolation"]);
    let psk = rule.find("1. Preshared key: ********").expect(&rule);
    let ca = rule
        .find("2. Root CA: CN=Corp Root CA, O=Example (certmap: YES, excludecaname: NO)")
        .expect(&rule);
    assert!(psk < ca);
    assert!(rule.contains("Connection Type         : LAN"), "{rule}");
    let tunnel = o.ok(&[
        "static",
        "show",
        "rule",
        "all",
        "policy=SQL Isolation",
        "type=tunnel",
        "format=table",
    ]);
    assert!(
        tunnel.contains("Tunnel to branch")
            && tunnel.contains("198.51.100.2")
            && !tunnel.contains("SQL "),
        "{tunnel}"
    );
    let fa = o.ok(&["static", "show", "filteraction", "name=Require ESP"]);
    assert!(
        fa.contains("1. ESP[AES256,SHA256]:100000k/3600s")
            && fa.contains("3. AH[SHA1]+ESP[AES128,SHA1]:100000k/3600s"),
        "{fa}"
    );
    assert!(fa.contains("QMPFS                   : YES"), "{fa}");

    let host = o.host(HOST);
    let explain = |args: &[&str]| {
        let mut a = vec!["--host", host.as_str(), "static", "explain"];
        a.extend_from_slice(args);
        o.ok(&a)
    };
    let e = explain(&[
        "srcaddr=10.1.9.9",
        "dstaddr=10.1.2.10",
        "protocol=tcp",
        "srcport=50000",
        "dstport=1433",
        "direction=in",
    ]);
    assert!(
        e.contains("Rule                    : SQL (id 1)") && e.contains("unsecured it is dropped"),
        "{e}"
    );
    let e = explain(&[
        "srcaddr=10.1.2.10",
        "dstaddr=10.1.0.53",
        "protocol=udp",
        "srcport=5353",
        "dstport=53",
        "direction=out",
    ]);
    assert!(
        e.contains("Exemptions") && e.contains("permitted in the clear"),
        "{e}"
    );
    let e = explain(&[
        "srcaddr=10.1.7.7",
        "dstaddr=10.2.3.4",
        "protocol=tcp",
        "dstport=22",
        "direction=out",
    ]);
    assert!(e.contains("tunnel mode to 198.51.100.2"), "{e}");
    // A packet on the SQL port of the /24 also matches the /32 filter? No: different host.
    let e = explain(&[
        "srcaddr=10.1.3.7",
        "dstaddr=10.1.9.9",
        "protocol=tcp",
        "srcport=1433",
        "dstport=50000",
        "direction=out",
    ]);
    assert!(e.contains("(mirrored)") && e.contains("Require ESP"), "{e}");

    let rsop = o.ok(&["--host", &host, "static", "show", "rsop"]);
    assert!(
        rsop.contains("applies \"SQL Isolation\"") && !rsop.contains("warning"),
        "{rsop}"
    );
}

#[test]
fn secrets_never_show() {
    let o = realworld();
    let host = o.host(HOST);
    for args in [
        vec!["static", "show", "all"],
        vec!["--json", "static", "show", "all"],
        vec![
            "static",
            "show",
            "rule",
            "all",
            "policy=SQL Isolation",
            "format=table",
        ],
        vec![
            "--json",
            "static",
            "show",
            "rule",
            "all",
            "policy=SQL Isolation",
        ],
        vec!["static", "show", "policy", "all", "level=verbose"],
        vec!["--json", "static", "show", "policy", "all"],
        vec!["--host", &host, "static", "show", "rsop"],
        vec!["--host", &host, "--json", "static", "show", "rsop"],
    ] {
        let out = o.ok(&args);
        assert!(
            !out.contains("s3cret") && !out.contains("tunnel-key"),
            "{args:?}: {out}"
        );
        assert!(out.contains("********"), "{args:?}: {out}");
    }
    // The store itself keeps the key (IKE needs it), readable by the owner only.
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(o.path("local.json")).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
}

#[test]
fn json_output_parses() {
    let o = realworld();
    let j: Value =
        serde_json::from_str(&o.ok(&["static", "show", "filterlist", "all", "--json"])).unwrap();
    assert_eq!(j.as_array().unwrap().len(), 3);
    assert_eq!(j[0]["filters"][1]["dst"]["prefix"], 24);
}

fn store_bytes(o: &Oakley) -> Option<Vec<u8>> {
    std::fs::read(o.path("local.json")).ok()
}

#[test]
fn errors_name_line_and_parameter_and_change_nothing() {
    let o = realworld();
    let before = store_bytes(&o);
    let bad = o.write(
        "bad.netsh",
        "# comment\nadd filterlist name=New\nadd filter filterlist=New srcaddr=10.0.0.1 srcmask=255.0.255.0 dstaddr=any\n",
    );
    let (ok, _, err) = o.script(&bad);
    assert!(!ok);
    assert!(
        err.contains("line 3: add filter: parameter 'srcmask':") && err.contains("contiguous"),
        "{err}"
    );
    // Not in batch mode: line 2 stayed, the failing line changed nothing.
    let lists = o.ok(&["static", "show", "filterlist", "name=New"]);
    assert!(lists.contains("No. of Filters          : 0"), "{lists}");
    assert_ne!(store_bytes(&o), before);

    for (args, want) in [
        (
            vec!["static", "add", "filteraction", "name=X", "qmsec=ESP[3DES]"],
            "parameter 'qmsecmethods'",
        ),
        (
            vec![
                "static",
                "add",
                "filteraction",
                "name=X",
                "qmsec=ESP[AESGCM128,SHA1]",
            ],
            "authenticates by itself",
        ),
        (
            vec!["static", "add", "policy", "name=P2", "mmsec=3DES-SHA1-4"],
            "parameter 'mmsecmethods'",
        ),
        (
            vec!["static", "add", "filteraction", "name=X", "qm=yes"],
            "ambiguous parameter 'qm'",
        ),
        (
            vec![
                "static",
                "add",
                "rule",
                "name=R",
                "policy=SQL Isolation",
                "filterlist=Nope",
                "filteraction=Exempt",
            ],
            "filter list \"Nope\" does not exist",
        ),
        (
            vec![
                "static",
                "add",
                "filter",
                "filterlist=Exempt",
                "srcaddr=DNS",
                "dstaddr=any",
            ],
            "parameter 'dstaddr'",
        ),
        (
            vec![
                "static",
                "add",
                "filter",
                "filterlist=Exempt",
                "srcaddr=me",
                "dstaddr=any",
                "protocol=ICMP",
                "dstport=80",
            ],
            "parameter 'dstport'",
        ),
        (
            vec!["static", "delete", "filterlist", "name=Exempt"],
            "used by rule \"Exemptions\"",
        ),
        (
            vec![
                "static",
                "add",
                "filter",
                "filterlist=HQ to Branch",
                "srcaddr=10.1.0.0/16",
                "dstaddr=10.3.0.0/16",
            ],
            "tunnel rules cannot use mirrored filters",
        ),
        (
            vec!["static", "set", "store", "location=domain"],
            "domain store is not available",
        ),
        (vec!["static", "frobnicate"], "unknown command"),
    ] {
        let snapshot = store_bytes(&o);
        let (ok, _, err) = o.run(&args);
        assert!(!ok, "{args:?} succeeded");
        assert!(err.contains(want), "{args:?}: {err}");
        assert_eq!(store_bytes(&o), snapshot, "{args:?} changed the store");
    }
}

#[test]
fn batch_mode_is_all_or_nothing() {
    let o = Oakley::new();
    o.ok(&["static", "add", "policy", "name=Existing"]);
    let before = store_bytes(&o);
    let script = o.write(
        "batch.netsh",
        "set batch mode=enable\nadd policy name=A\nadd filteraction name=F action=block\nadd rule name=R policy=A filterlist=Missing filteraction=F\nset batch mode=disable\n",
    );
    let (ok, _, err) = o.script(&script);
    assert!(!ok);
    assert!(
        err.contains("line 4") && err.contains("parameter 'filterlist'"),
        "{err}"
    );
    assert_eq!(store_bytes(&o), before, "a failed batch wrote something");
    // The same batch without the mistake applies as a whole.
    let good = o.write(
        "good.netsh",
        "set batch mode=enable\nadd policy name=A\nadd filter filterlist=L srcaddr=me dstaddr=any\nadd filteraction name=F action=block\nadd rule name=R policy=A filterlist=L filteraction=F\n",
    );
    let (ok, _, err) = o.script(&good);
    assert!(ok, "{err}");
    let out = o.ok(&["static", "show", "rule", "all", "policy=A", "format=table"]);
    assert!(out.contains("R") && out.contains("F"), "{out}");
}

#[test]
fn export_import_and_store_selection() {
    let o = realworld();
    let file = o.path("backup.json");
    o.ok(&[
        "static",
        "exportpolicy",
        &format!("file={}", file.display()),
    ]);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("\"format\": \"oakley-ipsec-store\""),
        "{text}"
    );
    // Into the persistent store of another state directory.
    let other = Oakley::new();
    other.ok(&["static", "set", "store", "location=persistent"]);
    assert!(
        other
            .ok(&["static", "show", "store"])
            .contains("Persistent Store")
    );
    other.ok(&[
        "static",
        "importpolicy",
        &format!("file={}", file.display()),
    ]);
    let out = other.ok(&["static", "show", "policy", "all", "format=table"]);
    assert!(out.contains("SQL Isolation"), "{out}");
    assert!(other.path("persistent.json").exists() && !other.path("local.json").exists());
    // Assignment is not imported: the importer decides.
    assert!(out.contains("NO"), "{out}");
    // A corrupt file is refused with its name.
    let junk = other.write("junk.json", "{ not json");
    let (ok, _, err) = other.run(&[
        "static",
        "importpolicy",
        &format!("file={}", junk.display()),
    ]);
    assert!(
        !ok && err.contains("junk.json") && err.contains("corrupt"),
        "{err}"
    );
}

#[test]
fn corrupt_local_store_does_not_stop_persistent_policy() {
    let o = Oakley::new();
    o.ok(&["static", "set", "store", "location=persistent"]);
    o.ok(&["static", "restore", "defaultpolicies"]);
    o.ok(&[
        "static",
        "set",
        "policy",
        "name=Secure Server (Require Security)",
        "assign=yes",
    ]);
    std::fs::write(o.path("local.json"), "garbage").unwrap();
    let host = o.host(r#"{"me": ["10.0.0.5"]}"#);
    let out = o.ok(&["--host", &host, "static", "show", "rsop"]);
    assert!(
        out.contains("ERROR: store") && out.contains("local.json") && out.contains("corrupt"),
        "{out}"
    );
    assert!(
        out.contains("applies \"Secure Server (Require Security)\""),
        "{out}"
    );
    // Editing the corrupt store is a clear error naming the file.
    o.ok(&["static", "set", "store", "location=local"]);
    let (ok, _, err) = o.run(&["static", "add", "policy", "name=x"]);
    assert!(!ok && err.contains("local.json"), "{err}");
}

#[test]
fn abbreviations_and_positional_values() {
    let o = Oakley::new();
    o.ok(&[
        "static",
        "add",
        "filteraction",
        "FilterA",
        "qmpfs=yes",
        "soft=y",
        "action=neg",
        "qmsec=AH[MD5]:204800k/300s ESP[DES,SHA1]:30000k/480s",
    ]);
    o.ok(&[
        "static",
        "set",
        "filteraction",
        "name=FilterA",
        "qmsec=ESP[3DES,MD5]:100000k/2000s",
    ]);
    let out = o.ok(&["static", "sh", "filtera", "FilterA"]);
    assert!(
        out.contains("1. ESP[3DES,MD5]:100000k/2000s")
            && out.contains("AllowUnsecured          : YES"),
        "{out}"
    );
    o.ok(&[
        "netsh",
        "ipsec",
        "static",
        "add",
        "policy",
        "\"Quoted Name\"",
        "mmsec=AES128-SHA256-19 AES256-SHA256-20 AES256-SHA256-31",
    ]);
    let out = o.ok(&["static", "show", "policy", "Quoted Name"]);
    assert!(
        out.contains("AES128-SHA256-19 AES256-SHA256-20 AES256-SHA256-31"),
        "{out}"
    );
}
