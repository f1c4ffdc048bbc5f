//! The protocol without the daemon: a fake handler behind `dispatch` and a real socket.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};

use control::{
    Client, ClientError, DynamicConfig, ErrorCode, FilterQuery, FilterReport, MmFilterView,
    QmFilterView, QmSa, Reply, Request, Response, SaFilter, Stats, StatsKind, Status,
};

use super::{Handler, HandlerError, answer_line, dispatch, start};

#[derive(Default)]
struct Fake {
    config: Mutex<DynamicConfig>,
}

impl Handler for Fake {
    fn status(&self) -> Status {
        Status {
            version: "test".into(),
            pid: 1,
            firewall: "off".into(),
            policies: vec![],
            warnings: vec![],
        }
    }
    fn reload(&self) -> Result<Status, HandlerError> {
        Err(HandlerError::new(ErrorCode::Failed, "local.json: corrupt"))
    }
    fn config(&self) -> DynamicConfig {
        self.config.lock().unwrap().clone()
    }
    fn set_config(&self, p: &str, v: &str) -> Result<DynamicConfig, HandlerError> {
        let mut c = self.config.lock().unwrap();
        c.set(p, v)
            .map_err(|e| HandlerError::new(ErrorCode::InvalidValue, e.to_string()))?;
        Ok(c.clone())
    }
    fn stats(&self, _: StatsKind) -> Stats {
        Stats::default()
    }
    fn qm_sas(&self, _: &SaFilter) -> Vec<QmSa> {
        Vec::new()
    }
    fn delete_qm_sas(&self, _: &SaFilter) -> Result<usize, HandlerError> {
        Ok(0)
    }
    fn qm_filters(&self, _: &FilterQuery) -> FilterReport<QmFilterView> {
        FilterReport {
            generic: None,
            specific: Some(vec![]),
        }
    }
    fn mm_filters(&self, _: &FilterQuery) -> FilterReport<MmFilterView> {
        FilterReport {
            generic: None,
            specific: None,
        }
    }
}

fn code(r: &Response) -> Option<ErrorCode> {
    match r {
        Response::Error { code, .. } => Some(*code),
        Response::Ok { .. } => None,
    }
}

#[test]
fn garbage_gets_clear_errors_never_a_panic() {
    let h = Fake::default();
    for line in [
        "",
        "{",
        "null",
        "[]",
        r#"{"command":42}"#,
        r#"{"command":"rm -rf /"}"#,
        r#"{"command":"set_config","property":1,"value":"x"}"#,
        r#"{"command":"show_qm_sas","filter":{"src":"not-an-ip"}}"#,
        r#"{"command":"show_stats","kind":"everything"}"#,
        "\u{0}\u{1}",
    ] {
        let r = answer_line(&h, line);
        assert_eq!(code(&r), Some(ErrorCode::BadRequest), "{line}: {r:?}");
    }
}

#[test]
fn dispatch_maps_errors_and_defaults() {
    let h = Fake::default();
    let r = dispatch(
        &h,
        Request::SetConfig {
            property: "bootmode".into(),
            value: "sideways".into(),
        },
    );
    assert_eq!(code(&r), Some(ErrorCode::InvalidValue));
    assert_eq!(
        code(&dispatch(&h, Request::Reload)),
        Some(ErrorCode::Failed)
    );
    // Main mode is the IKE side's: unsupported until it is plugged in...
    let r = dispatch(
        &h,
        Request::ShowMmSas {
            filter: SaFilter::default(),
        },
    );
    assert_eq!(code(&r), Some(ErrorCode::Unsupported));
    // ...while show all still answers, with no main mode SAs.
    match dispatch(&h, Request::ShowAll) {
        Response::Ok {
            result: Reply::All(a),
        } => assert!(a.mm_sas.is_empty()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn socket_serves_lines_and_survives_bad_input() {
    let dir = std::env::temp_dir().join(format!("oakley-ctl-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // No daemon yet: a clear error.
    let e = Client::connect(&dir).err().unwrap();
    assert!(matches!(e, ClientError::NotRunning { .. }), "{e}");
    assert!(e.to_string().contains("not running"), "{e}");
    let server = start(&dir, Arc::new(Fake::default())).unwrap();
    let path = control::socket_path(&dir);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // A second server on the same directory is refused.
    assert!(start(&dir, Arc::new(Fake::default())).is_err());

    let mut c = Client::connect(&dir).unwrap();
    assert!(matches!(c.call(&Request::Ping).unwrap(), Reply::Pong(_)));
    let cfg = c
        .call(&Request::SetConfig {
            property: "ikelogging".into(),
            value: "1".into(),
        })
        .unwrap();
    assert!(matches!(cfg, Reply::Config(c) if c.ike_logging == 1));
    let e = c
        .call(&Request::SetConfig {
            property: "ikelogging".into(),
            value: "7".into(),
        })
        .unwrap_err();
    assert!(
        matches!(
            e,
            ClientError::Remote {
                code: ErrorCode::InvalidValue,
                ..
            }
        ),
        "{e}"
    );

    // Raw garbage on the same connection, then a valid request still works.
    let mut raw = UnixStream::connect(&path).unwrap();
    let mut rd = BufReader::new(raw.try_clone().unwrap());
    raw.write_all(b"hello\n\xff\xfe\n{\"command\":\"ping\"}\n")
        .unwrap();
    let mut lines = Vec::new();
    for _ in 0..3 {
        let mut l = String::new();
        rd.read_line(&mut l).unwrap();
        lines.push(serde_json::from_str::<Response>(&l).unwrap());
    }
    assert_eq!(code(&lines[0]), Some(ErrorCode::BadRequest));
    assert_eq!(code(&lines[1]), Some(ErrorCode::BadRequest));
    assert_eq!(code(&lines[2]), None);
    // A line longer than the limit is answered and the connection closed.
    let mut big = UnixStream::connect(&path).unwrap();
    let mut rd = BufReader::new(big.try_clone().unwrap());
    let _ = big.write_all(&vec![b'x'; control::MAX_LINE + 10]);
    let mut l = String::new();
    rd.read_line(&mut l).unwrap();
    assert_eq!(
        code(&serde_json::from_str::<Response>(&l).unwrap()),
        Some(ErrorCode::BadRequest)
    );
    drop(server);
    assert!(!path.exists(), "socket left behind");
    let _ = std::fs::remove_dir_all(&dir);
}
