//! Interop with strongSwan's charon (Debian package) over real UDP sockets in network
//! namespaces. For each suite, Oakley is once the initiator (it starts the IKE SA, rekeys
//! the child SA, rekeys the IKE SA and deletes it) and once the responder (charon does all
//! of that, driven by swanctl). Every child SA Oakley installs must carry exactly the keys
//! charon logs at level 4.
//!
//! The test re-executes its own binary inside the Oakley namespace (`ip netns exec`) to
//! run the engine there: the `helper` test does nothing unless OAKLEY_IKE_HELPER is set.
//! Needs root, `ip netns` and charon (scripts/interop-strongswan.sh installs it); without
//! them it skips with a message, except under CI=true where it fails.
//! Test-only: logs carry keys of throwaway SAs negotiated with a fixed test secret.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, Read};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crypto::Secret;
use ike::{
    AuthMethod, ChildSuite, Endpoint, EndpointConfig, Event, IkeSuite, Lifetime, Mode, Output,
    PeerConfig, Time,
};
use wire::ikev2::Identification;

const OAKLEY: &str = "10.203.0.1";
const CHARON: &str = "10.203.0.2";
const OAKLEY_NET: &str = "10.204.1.0/24";
const CHARON_NET: &str = "10.204.2.0/24";
const PSK: &str = "oakley-interop-secret";

/// One suite: strongSwan's proposal strings and the same suites as Oakley's values.
struct Suite {
    name: &'static str,
    ike: &'static str,
    esp: &'static str,
    oakley_ike: IkeSuite,
    oakley_esp: ChildSuite,
}

fn suites() -> Vec<Suite> {
    vec![
        Suite {
            name: "gcm-modp2048",
            ike: "aes128gcm16-prfsha256-modp2048",
            esp: "aes128gcm16",
            oakley_ike: IkeSuite {
                encr: 20,
                key_bits: Some(128),
                prf: 5,
                integ: None,
                dh: 14,
            },
            oakley_esp: ChildSuite {
                encr: 20,
                key_bits: Some(128),
                integ: None,
                dh: None,
                esn: false,
            },
        },
        Suite {
            name: "cbc-ecp256",
            ike: "aes256-sha256-ecp256",
            // PFS on child rekeys.
            esp: "aes256-sha256-ecp256",
            oakley_ike: IkeSuite {
                encr: 12,
                key_bits: Some(256),
                prf: 5,
                integ: Some(12),
                dh: 19,
            },
            oakley_esp: ChildSuite {
                encr: 12,
                key_bits: Some(256),
                integ: Some(12),
                dh: Some(19),
                esn: false,
            },
        },
        Suite {
            name: "sha1-modp1024",
            ike: "aes128-sha1-modp1024",
            esp: "aes128-sha1-modp1024",
            oakley_ike: IkeSuite {
                encr: 12,
                key_bits: Some(128),
                prf: 2,
                integ: Some(2),
                dh: 2,
            },
            oakley_esp: ChildSuite {
                encr: 12,
                key_bits: Some(128),
                integ: Some(2),
                dh: Some(2),
                esn: false,
            },
        },
    ]
}

fn suite_by_name(name: &str) -> Suite {
    suites()
        .into_iter()
        .find(|s| s.name == name)
        .expect("suite")
}

// ---------------------------------------------------------------------------------------
// The helper: Oakley's engine on real sockets, inside the namespace.

struct OsRng(std::fs::File);

impl ike::Rng for OsRng {
    fn fill(&mut self, buf: &mut [u8]) {
        self.0.read_exact(buf).expect("/dev/urandom");
    }
}

fn hex(s: &Secret) -> String {
    hex::encode(s.expose())
}

fn peer_config(s: &Suite) -> PeerConfig {
    let local: SocketAddr = format!("{OAKLEY}:500").parse().unwrap();
    let remote: SocketAddr = format!("{CHARON}:500").parse().unwrap();
    PeerConfig {
        name: "charon".into(),
        local,
        remote,
        local_id: Identification::address(local.ip()),
        remote_id: Some(Identification::address(remote.ip())),
        auth: AuthMethod::Psk(Secret::from_slice(PSK.as_bytes())),
        ike_suites: vec![s.oakley_ike],
        child_suites: vec![s.oakley_esp],
        local_ts: vec![common::net("10.204.1.0", "10.204.1.255")],
        remote_ts: vec![common::net("10.204.2.0", "10.204.2.255")],
        mode: Mode::Tunnel,
        ike_lifetime: Lifetime::around(Duration::from_secs(3600)),
        child_lifetime: Lifetime::around(Duration::from_secs(1800)),
        dpd: None,
        force_encap: false,
    }
}

/// Runs the engine until the session closes; prints one line per child SA and event.
fn run_helper(suite: &str, initiator: bool) {
    let s = suite_by_name(suite);
    let mut rng = OsRng(std::fs::File::open("/dev/urandom").unwrap());
    let mut ep = Endpoint::new(EndpointConfig::default(), vec![peer_config(&s)], &mut rng);
    let a500: SocketAddr = format!("{OAKLEY}:500").parse().unwrap();
    let a4500: SocketAddr = format!("{OAKLEY}:4500").parse().unwrap();
    let s500 = UdpSocket::bind(a500).expect("bind 500");
    let s4500 = UdpSocket::bind(a4500).expect("bind 4500");
    s500.set_nonblocking(true).unwrap();
    s4500.set_nonblocking(true).unwrap();
    let start = Instant::now();
    let now = || Time::from_duration(start.elapsed());
    let mut session = if initiator {
        ep.acquire(now(), 0, None, &mut rng)
    } else {
        None
    };
    let (mut children, mut ike_rekeyed, mut step_at) = (0, false, None::<Time>);
    let mut buf = vec![0u8; 65536];
    println!("READY");
    loop {
        if start.elapsed() > Duration::from_secs(60) {
            println!("TIMEOUT");
            std::process::exit(2);
        }
        for (sock, local) in [(&s500, a500), (&s4500, a4500)] {
            while let Ok((n, from)) = sock.recv_from(&mut buf) {
                ep.handle_datagram(now(), from, local, &buf[..n], &mut rng);
            }
        }
        if ep.next_timeout().is_some_and(|t| t <= now()) {
            ep.handle_timeout(now(), &mut rng);
        }
        // Oakley as initiator drives the script: child rekey, IKE rekey, delete.
        if initiator && step_at.is_some_and(|t| t <= now()) {
            step_at = None;
            let sid = session.unwrap();
            if children == 1 {
                let c = ep.children(sid)[0].id;
                ep.rekey_child(now(), sid, c, &mut rng);
            } else if !ike_rekeyed {
                ep.rekey_ike(now(), sid, &mut rng);
            } else {
                ep.close(now(), sid, &mut rng);
            }
        }
        while let Some(o) = ep.poll_output() {
            match o {
                Output::Transmit(t) => {
                    let sock = if t.from.port() == 4500 { &s4500 } else { &s500 };
                    let _ = sock.send_to(&t.bytes, t.to);
                }
                Output::InstallChild(c) => {
                    children += 1;
                    println!(
                        "CHILD in={:08x} out={:08x} encap={} ein={} ain={} eout={} aout={}",
                        c.inbound_spi,
                        c.outbound_spi,
                        c.encap,
                        hex(&c.inbound.encr),
                        hex(&c.inbound.integ),
                        hex(&c.outbound.encr),
                        hex(&c.outbound.integ)
                    );
                    step_at = Some(now() + Duration::from_millis(700));
                }
                Output::DeleteChild(d) => println!("DELETE in={:08x}", d.inbound_spi),
                Output::Event(e) => {
                    println!("EVENT {e:?}");
                    match e {
                        Event::IkeSaEstablished {
                            session: sid,
                            rekey,
                            ..
                        } => {
                            session = Some(sid);
                            if rekey {
                                ike_rekeyed = true;
                                step_at = Some(now() + Duration::from_millis(700));
                            }
                        }
                        Event::SessionClosed { .. } => {
                            println!("CLOSED");
                            return;
                        }
                        _ => {}
                    }
                }
                Output::KeyExport(_) => {}
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn helper() {
    let Ok(spec) = std::env::var("OAKLEY_IKE_HELPER") else {
        return;
    };
    let (suite, role) = spec.split_once(':').expect("suite:role");
    run_helper(suite, role == "initiator");
}

// ---------------------------------------------------------------------------------------
// The harness: namespaces, charon, swanctl, and the key comparison.

fn sh(cmd: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn can_run() -> Result<(), String> {
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .map_err(|e| e.to_string())?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Err("not root".into());
    }
    if !Path::new("/usr/lib/ipsec/charon").exists() || !sh("command -v swanctl >/dev/null") {
        return Err("strongSwan not installed (run scripts/interop-strongswan.sh)".into());
    }
    let probe = format!("oakprobe{}", std::process::id());
    if !sh(&format!(
        "ip netns add {probe} 2>/dev/null && ip netns del {probe}"
    )) {
        return Err("no network namespaces".into());
    }
    Ok(())
}

/// Namespaces, veth pair and processes of one scenario; torn down on drop, pass or fail.
struct Lab {
    tag: String,
    dir: PathBuf,
    charon: Option<Child>,
}

impl Lab {
    fn new(name: &str) -> Self {
        let tag = format!("oki{}{}", std::process::id() % 100_000, &name[..2]);
        let dir = std::env::temp_dir().join(format!("oakley-ike-interop-{tag}-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let lab = Self {
            tag,
            dir,
            charon: None,
        };
        // kernel-libipsec routes the tunnel via an address inside charon's selectors.
        let (a, b, t) = (lab.ns_a(), lab.ns_b(), &lab.tag);
        let script = format!(
            "set -e; ip netns add {a}; ip netns add {b}; ip link add {t}a type veth peer name {t}b; \
             ip link set {t}a netns {a}; ip link set {t}b netns {b}; \
             ip -n {a} addr add {OAKLEY}/24 dev {t}a; ip -n {b} addr add {CHARON}/24 dev {t}b; \
             ip -n {a} link set lo up; ip -n {b} link set lo up; ip -n {a} link set {t}a up; ip -n {b} link set {t}b up; \
             ip -n {b} addr add 10.204.2.1/32 dev lo"
        );
        assert!(sh(&script), "could not build the namespaces");
        lab
    }

    fn ns_a(&self) -> String {
        format!("{}-a", self.tag)
    }

    fn ns_b(&self) -> String {
        format!("{}-b", self.tag)
    }

    fn vici(&self) -> String {
        format!("unix://{}/charon.vici", self.dir.display())
    }

    fn start_charon(&mut self, s: &Suite) {
        let d = self.dir.display();
        std::fs::write(
            self.dir.join("strongswan.conf"),
            format!(
                "charon {{
  load = random nonce openssl aes sha1 sha2 md5 hmac gcm kdf gmp curve25519 x509 pubkey pkcs1 pem revocation constraints kernel-libipsec kernel-netlink socket-default vici
  install_virtual_ip = no
  install_routes = no
  retransmit_tries = 3
  plugins {{ vici {{ socket = unix://{d}/charon.vici }} }}
  filelog {{ log {{ path = {d}/charon.log
    flush_line = yes
    time_format = %s
    default = 1
    ike = 4
    chd = 4
    cfg = 2
    enc = 1
    knl = 1 }} }}
}}
"
            ),
        )
        .unwrap();
        std::fs::write(
            self.dir.join("swanctl.conf"),
            format!(
                "connections {{
  c {{
    version = 2
    local_addrs = {CHARON}
    remote_addrs = {OAKLEY}
    proposals = {}
    mobike = no
    local {{ auth = psk
            id = {CHARON} }}
    remote {{ auth = psk
             id = {OAKLEY} }}
    children {{
      c {{ local_ts = {CHARON_NET}
          remote_ts = {OAKLEY_NET}
          mode = tunnel
          esp_proposals = {}
          start_action = none }}
    }}
  }}
}}
secrets {{ ike {{ secret = \"{PSK}\" }} }}
",
                s.ike, s.esp
            ),
        )
        .unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns_b(), "unshare", "-m", "sh", "-c"])
            .arg("mount -t tmpfs none /run && exec /usr/lib/ipsec/charon")
            .env("STRONGSWAN_CONF", self.dir.join("strongswan.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start charon");
        self.charon = Some(child);
        for _ in 0..100 {
            if self.dir.join("charon.vici").exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(
            self.swan(&["--load-all", "--file", &format!("{d}/swanctl.conf")]),
            "swanctl load"
        );
    }

    fn swan(&self, args: &[&str]) -> bool {
        Command::new("swanctl")
            .args(args)
            .args(["--uri", &self.vici()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("charon.log")).unwrap_or_default()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Some(mut c) = self.charon.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        // Anything else still running in the namespaces (charon's children).
        for ns in [self.ns_a(), self.ns_b()] {
            sh(&format!(
                "ip netns pids {ns} 2>/dev/null | xargs -r kill 2>/dev/null; ip netns del {ns} 2>/dev/null"
            ));
        }
        if std::env::var("KEEP").is_err() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Child SA keys charon logged: (ei, ai, er, ar) per child SA.
fn charon_child_keys(log: &str) -> Vec<BTreeMap<String, String>> {
    let mut out = Vec::new();
    let mut open: BTreeMap<String, (String, usize, Vec<u8>)> = BTreeMap::new();
    let mut cur: BTreeMap<String, String> = BTreeMap::new();
    for line in log.lines() {
        let Some((_, rest)) = line.split_once(' ') else {
            continue;
        };
        let Some((thread, rest)) = rest.split_once('[') else {
            continue;
        };
        let Some((_, text)) = rest.split_once("] ") else {
            continue;
        };
        if let Some((label, tail)) = text.split_once(" => ")
            && tail.contains(" bytes @ 0x")
        {
            let n: usize = tail.split(' ').next().unwrap_or("0").parse().unwrap_or(0);
            open.insert(
                thread.to_string(),
                (label.trim().to_string(), n, Vec::new()),
            );
            continue;
        }
        let t = text.trim_start();
        if let Some((idx, hexpart)) = t.split_once(": ")
            && idx.chars().all(|c| c.is_ascii_digit())
            && let Some((label, n, bytes)) = open.get_mut(thread)
        {
            for tok in hexpart.split(' ') {
                if tok.len() != 2 || !tok.chars().all(|c| c.is_ascii_hexdigit()) {
                    break;
                }
                bytes.push(u8::from_str_radix(tok, 16).unwrap());
            }
            if bytes.len() >= *n {
                let (label, bytes) = (label.clone(), hex::encode(&bytes));
                open.remove(thread);
                let key = match label.as_str() {
                    "encryption initiator key" => "ei",
                    "integrity initiator key" => "ai",
                    "encryption responder key" => "er",
                    "integrity responder key" => "ar",
                    _ => continue,
                };
                if key == "ei" && !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                cur.insert(key.into(), bytes);
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn field<'a>(line: &'a str, k: &str) -> &'a str {
    line.split(' ')
        .find_map(|f| f.strip_prefix(&format!("{k}=")))
        .unwrap_or("")
}

fn scenario(suite: &Suite, initiator: bool) -> Result<String, String> {
    let role = if initiator { "initiator" } else { "responder" };
    let mut lab = Lab::new(&format!("{}{}", &role[..1], suite.name));
    lab.start_charon(suite);
    let exe = std::env::current_exe().unwrap();
    let mut helper = Command::new("ip")
        .args(["netns", "exec", &lab.ns_a()])
        .arg(&exe)
        .args(["--exact", "helper", "--nocapture", "--test-threads=1"])
        .env("OAKLEY_IKE_HELPER", format!("{}:{role}", suite.name))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let stdout = helper.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    let wait_for = |lines: &mut Vec<String>, pat: &str, secs: u64| -> bool {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if lines.iter().any(|l: &String| l.contains(pat)) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(l) => lines.push(l),
                Err(_) => return false,
            }
        }
    };
    if !wait_for(&mut lines, "READY", 10) {
        return Err("helper did not start".into());
    }
    if !initiator {
        // charon drives: establish, rekey the child, rekey the IKE SA, delete.
        if !lab.swan(&["--initiate", "--child", "c", "--timeout", "15"]) {
            return Err(format!("charon could not initiate\n{}", lines.join("\n")));
        }
        std::thread::sleep(Duration::from_millis(500));
        lab.swan(&["--rekey", "--child", "c"]);
        wait_for(&mut lines, "rekey_of: Some", 10);
        std::thread::sleep(Duration::from_millis(500));
        lab.swan(&["--rekey", "--ike", "c"]);
        wait_for(&mut lines, "rekey: true", 10);
        std::thread::sleep(Duration::from_millis(1500));
        lab.swan(&["--terminate", "--ike", "c", "--timeout", "10"]);
    }
    let closed = wait_for(&mut lines, "CLOSED", 30);
    let _ = helper.kill();
    let _ = helper.wait();
    let transcript = lines.join("\n");
    if !closed {
        return Err(format!(
            "session did not complete\n{transcript}\n--- charon log tail ---\n{}",
            tail(&lab.log())
        ));
    }
    for want in ["rekey_of: Some", "rekey: true"] {
        if !transcript.contains(want) {
            return Err(format!("missing '{want}'\n{transcript}"));
        }
    }
    // Every child SA Oakley installed has charon's logged keys (one direction each way).
    let logged = charon_child_keys(&lab.log());
    let ours: Vec<&String> = lines.iter().filter(|l| l.starts_with("CHILD ")).collect();
    if ours.len() < 2 {
        return Err(format!("expected a child SA and its rekey\n{transcript}"));
    }
    for c in &ours {
        let (ein, ain, eout, aout) = (
            field(c, "ein"),
            field(c, "ain"),
            field(c, "eout"),
            field(c, "aout"),
        );
        let g = |m: &BTreeMap<String, String>, k: &str| m.get(k).cloned().unwrap_or_default();
        let found = logged.iter().any(|m| {
            (g(m, "ei") == eout && g(m, "er") == ein && g(m, "ai") == aout && g(m, "ar") == ain)
                || (g(m, "ei") == ein
                    && g(m, "er") == eout
                    && g(m, "ai") == ain
                    && g(m, "ar") == aout)
        });
        if !found || ein.is_empty() {
            return Err(format!(
                "child keys differ from charon's log: {c}\ncharon logged {logged:?}"
            ));
        }
        if field(c, "encap") != "true" {
            return Err(format!(
                "kernel-libipsec fakes a NAT, so ESP must be UDP-encapsulated: {c}"
            ));
        }
    }
    Ok(format!(
        "{} as {role}: {} child SAs, keys equal charon's",
        suite.name,
        ours.len()
    ))
}

fn tail(s: &str) -> String {
    let l: Vec<&str> = s.lines().collect();
    l[l.len().saturating_sub(60)..].join("\n")
}

#[test]
fn strongswan_interop() {
    if std::env::var("OAKLEY_IKE_HELPER").is_ok() {
        return;
    }
    if let Err(why) = can_run() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "interop test cannot run under CI: {why}"
        );
        println!("skipping strongSwan interop: {why}");
        return;
    }
    let only = std::env::var("INTEROP_SUITE").ok();
    let mut failures = Vec::new();
    for s in suites() {
        if only.as_deref().is_some_and(|o| o != s.name) {
            continue;
        }
        for initiator in [true, false] {
            match scenario(&s, initiator) {
                Ok(msg) => println!("{msg}"),
                Err(e) => failures.push(format!(
                    "{} {}: {e}",
                    s.name,
                    if initiator { "initiator" } else { "responder" }
                )),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
