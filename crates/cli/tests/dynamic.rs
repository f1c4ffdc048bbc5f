//! `oakley dynamic` against a stand-in daemon: a control socket in a temporary state
//! directory answering with canned replies, so the command grammar, the rendering and the
//! errors are checked without root. (The daemon's own tests run the real oakleyd.)

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::sync::{Arc, Mutex};

use common::Oakley;
use control::{
    DynamicConfig, ErrorCode, QmSa, QuickModeStats, Reply, Request, Response, SaCounters, Stats,
};

/// Serves the socket of `o`'s state directory; returns the requests it saw.
fn fake_daemon(o: &Oakley) -> Arc<Mutex<Vec<Request>>> {
    let listener = UnixListener::bind(control::socket_path(o.dir.path())).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        let mut config = DynamicConfig::default();
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            let mut w = conn.try_clone().unwrap();
            for line in BufReader::new(conn).lines() {
                let Ok(line) = line else { break };
                let req: Request = serde_json::from_str(&line).unwrap();
                log.lock().unwrap().push(req.clone());
                let resp = match req {
                    Request::ShowStats { .. } => Response::Ok {
                        result: Reply::Stats(Box::new(Stats {
                            main_mode: None,
                            quick_mode: QuickModeStats {
                                active_security_associations: 2,
                                confidential_bytes_sent: 1234,
                                ..QuickModeStats::default()
                            },
                            data_plane: [("sealed".to_string(), 7u64)].into(),
                        })),
                    },
                    Request::SetConfig { property, value } => match config.set(&property, &value) {
                        Ok(_) => Response::Ok {
                            result: Reply::Config(config.clone()),
                        },
                        Err(e) => Response::Error {
                            code: ErrorCode::InvalidValue,
                            message: e.to_string(),
                        },
                    },
                    Request::ShowConfig => Response::Ok {
                        result: Reply::Config(config.clone()),
                    },
                    Request::ShowQmSas { .. } => Response::Ok {
                        result: Reply::QmSas {
                            sas: vec![QmSa {
                                name: "a-b".into(),
                                origin: "manual".into(),
                                me: "10.9.0.1".parse().unwrap(),
                                peer: "10.9.0.2".parse().unwrap(),
                                mode: "transport".into(),
                                me_selector: "10.9.0.1/32".into(),
                                peer_selector: "10.9.0.2/32".into(),
                                protocol: None,
                                me_port: 0,
                                peer_port: 0,
                                me_tunnel_endpoint: None,
                                peer_tunnel_endpoint: None,
                                ah_integrity: None,
                                esp_confidentiality: Some("AES_GCM_16".into()),
                                esp_integrity: None,
                                inbound_spi: 0x2200,
                                outbound_spi: 0x1100,
                                udp_encapsulation: None,
                                inbound: SaCounters {
                                    packets: 3,
                                    ..SaCounters::default()
                                },
                                outbound: SaCounters::default(),
                            }],
                        },
                    },
                    Request::ShowMmSas { .. } => Response::Error {
                        code: ErrorCode::Unsupported,
                        message:
                            "main mode SAs is not available: this oakleyd does not run IKE yet"
                                .into(),
                    },
                    Request::DeleteQmSas { .. } => Response::Ok {
                        result: Reply::Deleted { count: 1 },
                    },
                    _ => Response::Error {
                        code: ErrorCode::Unsupported,
                        message: "not in this fake".into(),
                    },
                };
                let mut s = serde_json::to_string(&resp).unwrap();
                s.push('\n');
                if w.write_all(s.as_bytes()).is_err() {
                    break;
                }
            }
        }
    });
    seen
}

#[test]
fn without_a_daemon_the_error_says_so() {
    let o = Oakley::new();
    let (ok, _, err) = o.run(&["dynamic", "show", "stats"]);
    assert!(!ok);
    assert!(err.contains("oakleyd is not running"), "{err}");
    assert!(err.contains("--state-dir"), "{err}");
}

#[test]
fn show_stats_set_config_and_sas() {
    let o = Oakley::new();
    let seen = fake_daemon(&o);
    let out = o.ok(&["dynamic", "show", "stats"]);
    assert!(out.contains("IPsec Quick Mode Statistics"), "{out}");
    assert!(out.contains("Active Security Associations"), "{out}");
    assert!(
        out.contains("Confidential Bytes Sent           : 1234"),
        "{out}"
    );
    assert!(out.contains("not available"), "{out}");
    let j: serde_json::Value =
        serde_json::from_str(&o.ok(&["--json", "dynamic", "sh", "stats", "type=ipsec"])).unwrap();
    assert_eq!(j["quick_mode"]["active_security_associations"], 2);
    // netsh spelling, prefixes and positional values.
    o.ok(&[
        "dynamic",
        "set",
        "config",
        "property=bootmode",
        "value=block",
    ]);
    o.ok(&["dynamic", "set", "config", "ikelogging", "1"]);
    let cfg = o.ok(&["dynamic", "show", "config"]);
    assert!(cfg.contains("IPsec Boot Mode"), "{cfg}");
    assert!(cfg.contains(": block"), "{cfg}");
    assert!(cfg.contains("IKELogging              : 1"), "{cfg}");
    let (ok, _, err) = o.run(&[
        "dynamic",
        "set",
        "config",
        "property=ipsecexempt",
        "value=9",
    ]);
    assert!(!ok && err.contains("ipsecexempt"), "{err}");
    let sas = o.ok(&["dynamic", "show", "qmsas", "all"]);
    assert!(
        sas.contains("Inbound SPI             : 0x00002200"),
        "{sas}"
    );
    let t = o.ok(&[
        "dynamic",
        "show",
        "qmsas",
        "format=table",
        "srcaddr=10.9.0.1",
    ]);
    assert!(t.lines().nth(2).unwrap().starts_with("Me "), "{t}");
    let (ok, _, err) = o.run(&["dynamic", "show", "mmsas"]);
    assert!(!ok && err.contains("does not run IKE"), "{err}");
    assert!(
        o.ok(&["dynamic", "delete", "qmsas", "all"])
            .contains("Deleted 1 quick mode SA.")
    );
    let reqs = seen.lock().unwrap().clone();
    assert!(reqs.contains(&Request::SetConfig {
        property: "bootmode".into(),
        value: "block".into()
    }));
    assert!(reqs.iter().any(|r| matches!(r, Request::ShowQmSas { filter } if filter.src == Some("10.9.0.1".parse().unwrap()))));
}

#[test]
fn bad_parameters_fail_before_reaching_the_daemon() {
    let o = Oakley::new();
    for (args, want) in [
        (
            vec!["dynamic", "show", "qmsas", "srcaddr=nowhere"],
            "not an IPv4 or IPv6",
        ),
        (
            vec!["dynamic", "show", "qmsas", "color=red"],
            "unknown parameter",
        ),
        (vec!["dynamic", "show", "stats", "type=all-of-it"], "type"),
        (vec!["dynamic", "frobnicate"], "unknown command"),
        (
            vec!["dynamic", "add", "rule", "srcaddr=any"],
            "not available yet",
        ),
        (
            vec!["dynamic", "set", "config", "property=bootmode"],
            "value",
        ),
    ] {
        let (ok, _, err) = o.run(&args);
        assert!(!ok, "{args:?}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

#[test]
fn scripts_run_dynamic_lines_against_the_daemon() {
    let o = Oakley::new();
    let seen = fake_daemon(&o);
    let f = o.write(
        "s.netsh",
        "netsh ipsec dynamic set config property=ipsecloginterval value=120\n\
         ipsec dynamic show config\n",
    );
    let (ok, out, err) = o.script(&f);
    assert!(ok, "{err}");
    assert!(out.contains("IPsecLogInterval        : 120"), "{out}");
    assert_eq!(seen.lock().unwrap().len(), 2);
}
