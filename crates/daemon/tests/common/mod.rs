//! Network namespace labs for end-to-end tests: uniquely named namespaces joined by veth
//! pairs, oakleyd processes inside them, captures on the links. Everything is torn down on
//! drop, also when a test fails. Traffic stays inside the namespaces (10.x addresses).
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// Runs a command, panicking with its output if it fails.
pub fn sh(cmd: &str) -> String {
    let out = Command::new("sh").arg("-c").arg(cmd).output().expect("sh");
    assert!(
        out.status.success(),
        "`{cmd}` failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a command and reports whether it succeeded.
pub fn try_sh(cmd: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// True when this process may build namespaces (root); tests print why they skip otherwise.
pub fn can_run() -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    if !root {
        assert!(
            std::env::var_os("CI").is_none(),
            "namespace tests must run under CI (as root)"
        );
        eprintln!("skipping: namespace tests need root");
    }
    root
}

/// A scratch directory removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!(
            "oakley-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::env::var_os("OAKLEY_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Makes a veth device segment GSO packets before it sends them (as a NIC without
/// segmentation offload would), so captures and tshark see the datagrams a wire carries:
/// oakleyd sends ESP in UDP by UDP GSO, and a veth would otherwise pass (and tcpdump
/// record) a whole GSO batch as one frame.
fn wire_segments(ns: &str, dev: &str) {
    sh(&format!("ip -n {ns} link set dev {dev} gso_max_segs 1"));
}

/// Two namespaces `a` and `b` on one veth link (`va` in a, `vb` in b).
pub struct Pair {
    pub a: String,
    pub b: String,
}

impl Pair {
    /// Builds the pair; `a_addrs`/`b_addrs` are `ip addr add` arguments for va/vb.
    pub fn new(a_addrs: &[&str], b_addrs: &[&str]) -> Self {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let id = std::process::id();
        let p = Pair {
            a: format!("oak{id}x{n}a"),
            b: format!("oak{id}x{n}b"),
        };
        sh(&format!("ip netns add {}", p.a));
        sh(&format!("ip netns add {}", p.b));
        sh(&format!(
            "ip link add va netns {} type veth peer name vb netns {}",
            p.a, p.b
        ));
        for (ns, dev, addrs) in [(&p.a, "va", a_addrs), (&p.b, "vb", b_addrs)] {
            wire_segments(ns, dev);
            sh(&format!("ip -n {ns} link set lo up"));
            sh(&format!("ip -n {ns} link set {dev} up"));
            for a in addrs {
                let nodad = if a.contains(':') { " nodad" } else { "" };
                sh(&format!("ip -n {ns} addr add {a} dev {dev}{nodad}"));
            }
        }
        p
    }

    pub fn exec(&self, ns: &str, cmd: &str) -> String {
        sh(&format!("ip netns exec {ns} {cmd}"))
    }

    pub fn try_exec(&self, ns: &str, cmd: &str) -> bool {
        try_sh(&format!("ip netns exec {ns} {cmd}"))
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            // Kill anything still running inside, then the namespace.
            let _ = Command::new("sh")
                .arg("-c")
                .arg(format!(
                    "ip netns pids {ns} | xargs -r kill -9; ip netns del {ns}"
                ))
                .status();
        }
    }
}

/// An oakleyd process in a namespace, stopped (SIGTERM, then SIGKILL) on drop.
pub struct Daemon {
    child: Child,
    pub state: PathBuf,
}

impl Daemon {
    pub fn start(ns: &str, manual: &str, state: &Path) -> Self {
        Self::start_with(ns, manual, state, &["--export-keys"])
    }

    /// Runs oakleyd in `ns` with `args` and waits until it reports ready (20 s at most);
    /// its later output is passed through to the test's stderr.
    fn launch(ns: &str, state: &Path, args: &[&std::ffi::OsStr], rust_log: Option<&str>) -> Self {
        std::fs::create_dir_all(state).unwrap();
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns, env!("CARGO_BIN_EXE_oakleyd")])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(l) = rust_log {
            cmd.env("RUST_LOG", l);
        }
        let mut child = cmd.spawn().expect("spawn oakleyd");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stderr).lines();
            let mut log = String::new();
            for line in lines.by_ref().map_while(Result::ok) {
                log.push_str(&line);
                log.push('\n');
                if line.contains("ready") {
                    let _ = tx.send(Ok(()));
                    break;
                }
            }
            let _ = tx.send(Err(log));
            for line in lines.map_while(Result::ok) {
                eprintln!("oakleyd[{}]: {line}", std::process::id());
            }
        });
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(Ok(())) => {}
            Ok(Err(log)) => panic!("oakleyd did not start:\n{log}"),
            Err(_) => panic!("oakleyd did not report ready in 20 s"),
        }
        Daemon {
            child,
            state: state.to_owned(),
        }
    }

    /// The data plane counters the daemon last wrote.
    pub fn stats(&self) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            if let Ok(t) = std::fs::read_to_string(self.state.join("dataplane.json")) {
                if let Ok(v) = serde_json::from_str(&t) {
                    return v;
                }
            }
            assert!(Instant::now() < deadline, "no dataplane.json");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the counters were written after now (they are written twice a second).
    pub fn fresh_stats(&self) -> serde_json::Value {
        std::thread::sleep(Duration::from_millis(700));
        self.stats()
    }

    pub fn stop(mut self) -> serde_json::Value {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.stats()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
            std::thread::sleep(Duration::from_millis(300));
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// A packet capture on an interface inside a namespace (tcpdump, raw to a pcap file). In
/// immediate mode: libpcap would otherwise hold packets for up to a second.
pub struct Capture {
    child: Child,
    pub file: PathBuf,
}

impl Capture {
    pub fn start(ns: &str, dev: &str, file: &Path) -> Self {
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                ns,
                "tcpdump",
                "-i",
                dev,
                "--immediate-mode",
                "-U",
                "-n",
                "-w",
            ])
            .arg(file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tcpdump (scripts/setup.sh installs it)");
        // Wait for the file header to appear: tcpdump is listening.
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::fs::metadata(file).map(|m| m.len()).unwrap_or(0) < 24 {
            assert!(Instant::now() < deadline, "tcpdump did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(200));
        Self {
            child,
            file: file.to_owned(),
        }
    }

    pub fn stop(mut self) -> PathBuf {
        std::thread::sleep(Duration::from_millis(300));
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        self.file.clone()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// tshark's fields for every frame matching `filter`, with `esp_sa` as its ESP key table.
pub fn tshark(pcap: &Path, esp_sa: &str, filter: &str, fields: &[&str]) -> Vec<String> {
    let home = Scratch::new("tshark");
    std::fs::create_dir_all(home.0.join("wireshark")).unwrap();
    std::fs::write(home.0.join("wireshark/esp_sa"), esp_sa).unwrap();
    let mut cmd = Command::new("tshark");
    cmd.env("HOME", &home.0)
        .env("XDG_CONFIG_HOME", &home.0)
        .args(["-n", "-r"])
        .arg(pcap)
        .args([
            "-o",
            "esp.enable_encryption_decode:TRUE",
            "-o",
            "esp.enable_authentication_check:TRUE",
            "-o",
            "udp.try_heuristic_first:TRUE",
            "-Y",
            filter,
            "-T",
            "fields",
        ]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("tshark (scripts/setup.sh installs it)");
    assert!(
        out.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Starts `cmd` (via sh) inside a namespace with its stdout captured; the caller waits.
pub fn spawn_in(ns: &str, cmd: &str) -> Child {
    Command::new("ip")
        .args(["netns", "exec", ns, "sh", "-c", cmd])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn in namespace")
}

/// Sends one UDP datagram from `from_ns` to `dst:port` and returns what a receiver in
/// `to_ns` got (empty if nothing arrived within two seconds).
pub fn udp_roundtrip(from_ns: &str, to_ns: &str, dst: &str, port: u16, text: &str) -> String {
    let family = if dst.contains(':') { "UDP6" } else { "UDP4" };
    let rx = spawn_in(
        to_ns,
        &format!("timeout 3 socat -u {family}-RECV:{port} STDOUT"),
    );
    std::thread::sleep(Duration::from_millis(400));
    let target = if dst.contains(':') {
        format!("[{dst}]")
    } else {
        dst.to_owned()
    };
    sh(&format!(
        "ip netns exec {from_ns} sh -c 'echo {text} | socat -u STDIN {family}-SENDTO:{target}:{port}'"
    ));
    let out = rx.wait_with_output().expect("receiver");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

// ---------------------------------------------------------------------------------------
// Firewall, startup security and control API helpers (issue 6).

impl Daemon {
    /// Starts oakleyd with extra arguments (after `--manual`, `--state-dir`).
    pub fn start_with(ns: &str, manual: &str, state: &Path, extra: &[&str]) -> Self {
        std::fs::create_dir_all(state).unwrap();
        let cfg = state.join("manual.toml");
        std::fs::write(&cfg, manual).unwrap();
        let mut args: Vec<&std::ffi::OsStr> = vec![
            "--manual".as_ref(),
            cfg.as_os_str(),
            "--state-dir".as_ref(),
            state.as_os_str(),
        ];
        args.extend(extra.iter().map(std::ffi::OsStr::new));
        Self::launch(ns, state, &args, None)
    }

    /// SIGKILL: no cleanup runs.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait for the exit (graceful shutdown).
    pub fn terminate(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("oakleyd did not stop on SIGTERM");
    }
}

/// The daemon's nftables table in a namespace (`nft list table inet oakley`), or "".
pub fn nft_table(ns: &str) -> String {
    let out = Command::new("ip")
        .args([
            "netns", "exec", ns, "nft", "list", "table", "inet", "oakley",
        ])
        .output()
        .expect("nft");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Can `from_ns` complete a TCP connection to `ip:port`, where `to_ns` listens?
pub fn tcp_reaches(from_ns: &str, to_ns: &str, ip: &str, port: u16) -> bool {
    let mut rx = spawn_in(
        to_ns,
        &format!("exec timeout 4 socat -u TCP-LISTEN:{port},reuseaddr STDOUT"),
    );
    std::thread::sleep(Duration::from_millis(300));
    let ok = try_sh(&format!(
        "ip netns exec {from_ns} sh -c 'echo hi | timeout 3 socat -u STDIN TCP:{ip}:{port},connect-timeout=1.5'"
    ));
    let _ = rx.kill();
    let _ = rx.wait();
    ok
}

/// Does one ping from `ns` to `ip` get an answer within a second?
pub fn pings(ns: &str, ip: &str) -> bool {
    try_sh(&format!("ip netns exec {ns} ping -c 1 -W 1 {ip}"))
}

/// The `oakley` command-line binary beside oakleyd, when cargo built it (it does for
/// `cargo test -p daemon -p cli` and for the whole workspace).
pub fn oakley_bin() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_BIN_EXE_oakleyd")).with_file_name("oakley");
    p.exists().then_some(p)
}

/// Runs `oakley --state-dir <state> <args>` inside a namespace: (success, stdout, stderr).
pub fn oakley(ns: &str, state: &Path, args: &[&str]) -> Option<(bool, String, String)> {
    let bin = oakley_bin()?;
    let out = Command::new("ip")
        .args(["netns", "exec", ns])
        .arg(bin)
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .output()
        .expect("oakley");
    Some((
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

/// A manual-keying file with one AES-128-GCM transport SA pair between `local` and
/// `remote`; `flip` gives the peer's mirror image.
pub fn manual_transport(tun: &str, local: &str, remote: &str, flip: bool) -> String {
    let key = |seed: u8| -> String {
        (0..20u8)
            .map(|i| format!("{:02x}", i.wrapping_mul(7).wrapping_add(seed)))
            .collect()
    };
    let (out_spi, in_spi, out_key, in_key) = if flip {
        (0x2200, 0x1100, key(2), key(1))
    } else {
        (0x1100, 0x2200, key(1), key(2))
    };
    format!(
        "tun = \"{tun}\"\n[[sa]]\nname = \"fw\"\nmode = \"transport\"\nlocal = \"{local}\"\nremote = \"{remote}\"\n\
         proposal = \"aes128gcm16\"\nout_spi = {out_spi}\nin_spi = {in_spi}\nout_key = \"{out_key}\"\nin_key = \"{in_key}\"\n"
    )
}

// ---------------------------------------------------------------------------------------
// IKE mode: oakleyd applying policy from its state directory.

impl Daemon {
    /// An oakleyd in `ns` that applies the policy stores in `state` and negotiates with
    /// IKEv2; key export and the Oakley log are on, `extra` adds arguments.
    pub fn start_ike(ns: &str, state: &Path, extra: &[&str]) -> Self {
        let mut args: Vec<&std::ffi::OsStr> = vec![
            "--state-dir".as_ref(),
            state.as_os_str(),
            "--export-keys".as_ref(),
            "--ike-log".as_ref(),
        ];
        args.extend(extra.iter().map(std::ffi::OsStr::new));
        Self::launch(ns, state, &args, Some("warn"))
    }

    /// The IKE counters the daemon last wrote (`ike.json`).
    pub fn ike_stats(&self) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            if let Ok(t) = std::fs::read_to_string(self.state.join("ike.json")) {
                if let Ok(v) = serde_json::from_str(&t) {
                    return v;
                }
            }
            assert!(Instant::now() < deadline, "no ike.json");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The Oakley log so far.
    pub fn oakley_log(&self) -> String {
        std::fs::read_to_string(self.state.join("oakley.log")).unwrap_or_default()
    }

    /// Exported ESP keys (Wireshark `esp_sa` lines).
    pub fn esp_keys(&self) -> String {
        std::fs::read_to_string(self.state.join("esp_sa")).unwrap_or_default()
    }

    /// Exported IKEv2 keys (Wireshark `ikev2_decryption_table` lines).
    pub fn ike_keys(&self) -> String {
        std::fs::read_to_string(self.state.join("ikev2_decryption_table")).unwrap_or_default()
    }

    /// Sends a signal to the daemon (`USR1` rekeys every child SA).
    pub fn signal(&self, sig: &str) {
        sh(&format!("kill -{sig} {}", self.child.id()));
    }

    /// Waits until `ike.json` satisfies `ok` (or panics after `secs`).
    pub fn wait_ike(&self, secs: u64, what: &str, ok: impl Fn(&serde_json::Value) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let v = self.ike_stats();
            if ok(&v) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not reached in {secs} s: {v}\n{}",
                self.oakley_log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// tshark's fields for every frame matching `filter`, decrypting ESP with `esp_sa` and
/// IKEv2 with `ikev2` (Wireshark's `ikev2_decryption_table` format). UDP port 4500 is
/// dissected by port (RFC 3948), without heuristics first: those take some ESP-in-UDP
/// packets for DNS, depending on the SPI's bytes.
pub fn tshark_ike(
    pcap: &Path,
    esp_sa: &str,
    ikev2: &str,
    filter: &str,
    fields: &[&str],
) -> Vec<String> {
    let home = Scratch::new("tshark");
    std::fs::create_dir_all(home.0.join("wireshark")).unwrap();
    std::fs::write(home.0.join("wireshark/esp_sa"), esp_sa).unwrap();
    std::fs::write(home.0.join("wireshark/ikev2_decryption_table"), ikev2).unwrap();
    let mut cmd = Command::new("tshark");
    cmd.env("HOME", &home.0)
        .env("XDG_CONFIG_HOME", &home.0)
        .args(["-n", "-r"])
        .arg(pcap)
        .args([
            "-o",
            "esp.enable_encryption_decode:TRUE",
            "-o",
            "esp.enable_authentication_check:TRUE",
            "-Y",
            filter,
            "-T",
            "fields",
        ]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("tshark (scripts/setup.sh installs it)");
    assert!(
        out.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Any number of uniquely named namespaces, linked by veth pairs on demand; everything
/// inside is killed and the namespaces deleted on drop.
pub struct Netns {
    pub names: Vec<String>,
}

impl Netns {
    /// Namespaces for the given roles (`ns(i)` is the name of role `i`), loopback up.
    pub fn new(roles: &[&str]) -> Self {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let id = std::process::id();
        let names: Vec<String> = roles.iter().map(|r| format!("oak{id}x{n}{r}")).collect();
        let me = Netns { names };
        for ns in &me.names {
            sh(&format!("ip netns add {ns}"));
            sh(&format!("ip -n {ns} link set lo up"));
        }
        me
    }

    pub fn ns(&self, i: usize) -> &str {
        &self.names[i]
    }

    /// A veth pair between namespaces `a` and `b` with the given device names and
    /// addresses (`ip addr add` arguments).
    pub fn link(&self, a: usize, dev_a: &str, addr_a: &str, b: usize, dev_b: &str, addr_b: &str) {
        sh(&format!(
            "ip link add {dev_a} netns {} type veth peer name {dev_b} netns {}",
            self.ns(a),
            self.ns(b)
        ));
        for (ns, dev, addr) in [(self.ns(a), dev_a, addr_a), (self.ns(b), dev_b, addr_b)] {
            wire_segments(ns, dev);
            sh(&format!("ip -n {ns} addr add {addr} dev {dev}"));
            sh(&format!("ip -n {ns} link set {dev} up"));
        }
    }

    pub fn exec(&self, i: usize, cmd: &str) -> String {
        sh(&format!("ip netns exec {} {cmd}", self.ns(i)))
    }

    pub fn try_exec(&self, i: usize, cmd: &str) -> bool {
        try_sh(&format!("ip netns exec {} {cmd}", self.ns(i)))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for ns in &self.names {
            let _ = Command::new("sh")
                .arg("-c")
                .arg(format!(
                    "ip netns pids {ns} | xargs -r kill -9; ip netns del {ns}"
                ))
                .status();
        }
    }
}

/// strongSwan's charon (Debian's, with its user-space ESP plugin kernel-libipsec) in a
/// namespace, with its own strongswan.conf, vici socket and private /run; killed on drop.
pub struct Charon {
    child: Child,
    pub dir: PathBuf,
}

/// True when charon and swanctl are installed (scripts/setup.sh installs them); tests
/// print why they skip otherwise, and fail under CI.
pub fn have_charon() -> bool {
    let ok = Path::new("/usr/lib/ipsec/charon").exists() && try_sh("command -v swanctl");
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "strongSwan must be installed under CI (scripts/setup.sh)"
        );
        eprintln!("skipping: strongSwan (charon, swanctl) not installed");
    }
    ok
}

impl Charon {
    /// Starts charon in `ns` with `swanctl_conf` loaded.
    pub fn start(ns: &str, dir: &Path, swanctl_conf: &str) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let d = dir.display();
        std::fs::write(
            dir.join("strongswan.conf"),
            format!(
                "charon {{
  load = random nonce openssl aes sha1 sha2 md5 hmac gcm kdf gmp curve25519 x509 pubkey pkcs1 pem revocation constraints kernel-libipsec kernel-netlink socket-default vici
  install_virtual_ip = no
  retransmit_tries = 3
  plugins {{ vici {{ socket = unix://{d}/charon.vici }} }}
  filelog {{ log {{ path = {d}/charon.log
    flush_line = yes
    default = 1
    ike = 1
    knl = 1 }} }}
}}
"
            ),
        )
        .unwrap();
        std::fs::write(dir.join("swanctl.conf"), swanctl_conf).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", ns, "unshare", "-m", "sh", "-c"])
            .arg("mount -t tmpfs none /run && exec /usr/lib/ipsec/charon")
            .env("STRONGSWAN_CONF", dir.join("strongswan.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start charon");
        let c = Charon {
            child,
            dir: dir.to_owned(),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !dir.join("charon.vici").exists() {
            assert!(
                Instant::now() < deadline,
                "charon did not start:\n{}",
                c.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(
            c.swanctl(&["--load-all", "--file", &format!("{d}/swanctl.conf")]),
            "swanctl --load-all:\n{}",
            c.log()
        );
        c
    }

    /// Runs swanctl against this charon.
    pub fn swanctl(&self, args: &[&str]) -> bool {
        Command::new("swanctl")
            .args(args)
            .args([
                "--uri",
                &format!("unix://{}/charon.vici", self.dir.display()),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("charon.log")).unwrap_or_default()
    }
}

impl Drop for Charon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
