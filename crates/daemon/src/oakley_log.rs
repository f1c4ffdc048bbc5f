//! The Oakley log: one line per IKE negotiation step (the Windows "Oakley.log"), written
//! through `tracing` (target `oakley`) and, when switched on, to `oakley.log` in the state
//! directory. Events carry peers, SPIs, algorithm numbers and failure reasons; never keys.
//! Logging can be switched on and off while the daemon runs ([`OakleyLog::set_enabled`]).
//!
//! Also here: the optional key export for Wireshark (`esp_sa` and
//! `ikev2_decryption_table` in the state directory), which is the one place keys leave
//! the daemon, and only when the administrator asked for it.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use ike::{Event, Failure};

fn open_private(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

/// The Oakley log.
pub struct OakleyLog {
    enabled: AtomicBool,
    path: PathBuf,
    file: Mutex<Option<File>>,
}

fn failure(f: &Failure) -> String {
    match f {
        Failure::NoProposalChosen => "no proposal chosen".into(),
        Failure::AuthenticationFailed => "authentication failed".into(),
        Failure::IdentityMismatch => "peer identity mismatch".into(),
        Failure::TsUnacceptable => "traffic selectors unacceptable".into(),
        Failure::PeerDead => "peer does not answer".into(),
        Failure::PeerError(n) => format!("peer sent error notification {n}"),
        Failure::Protocol(p) => format!("protocol error: {p}"),
        Failure::Local(p) => format!("local error: {p}"),
    }
}

/// One line describing an engine event.
pub fn describe(e: &Event) -> String {
    match e {
        Event::Initiating { session, group, .. } => {
            format!("session {session}: IKE_SA_INIT sent (key exchange group {group})")
        }
        Event::CookieRequested { session } => {
            format!("session {session}: responder wants a cookie")
        }
        Event::InvalidKe { session, group } => {
            format!("session {session}: responder wants key exchange group {group}")
        }
        Event::CookieDemanded { from } => format!("cookie demanded from {from}"),
        Event::Dropped { from, reason } => format!("message from {from} dropped: {reason}"),
        Event::IkeSaEstablished {
            session,
            spi_i,
            spi_r,
            initiator,
            suite,
            rekey,
        } => format!(
            "session {session}: IKE SA {} {spi_i:016x}/{spi_r:016x} as {} (encr {}{} prf {} integ {} group {})",
            if *rekey { "rekeyed" } else { "established" },
            if *initiator { "initiator" } else { "responder" },
            suite.encr,
            suite.key_bits.map(|b| format!("/{b}")).unwrap_or_default(),
            suite.prf,
            suite.integ.map_or("none".into(), |i| i.to_string()),
            suite.dh
        ),
        Event::NatDetected {
            session,
            local_behind_nat: false,
            remote_behind_nat: false,
        } => format!("session {session}: no NAT between the peers"),
        Event::NatDetected {
            session,
            local_behind_nat,
            remote_behind_nat,
        } => format!(
            "session {session}: NAT detected (this host behind a NAT: {local_behind_nat}, peer behind a NAT: {remote_behind_nat}); IKE and ESP move to UDP 4500"
        ),
        Event::ChildSaEstablished {
            session,
            child,
            inbound_spi,
            outbound_spi,
            suite,
            rekey_of,
        } => format!(
            "session {session}: child SA {child} up, in {inbound_spi:08x} out {outbound_spi:08x} (encr {}{} integ {} pfs {}){}",
            suite.encr,
            suite.key_bits.map(|b| format!("/{b}")).unwrap_or_default(),
            suite.integ.map_or("none".into(), |i| i.to_string()),
            suite.dh.map_or("none".into(), |g| g.to_string()),
            rekey_of
                .map(|c| format!(", rekey of child {c}"))
                .unwrap_or_default()
        ),
        Event::Failed {
            session,
            failure: f,
            fatal,
        } => format!(
            "session {session}: negotiation failed: {}{}",
            failure(f),
            if *fatal { " (IKE SA closed)" } else { "" }
        ),
        Event::RekeyCollision {
            session,
            ike,
            we_won,
        } => format!(
            "session {session}: simultaneous {} rekey, {}",
            if *ike { "IKE SA" } else { "child SA" },
            if *we_won { "ours kept" } else { "peer's kept" }
        ),
        Event::IkeSaDeleted {
            session,
            spi_i,
            spi_r,
        } => format!("session {session}: IKE SA {spi_i:016x}/{spi_r:016x} deleted"),
        Event::ChildSaDeleted { session, child } => {
            format!("session {session}: child SA {child} deleted")
        }
        Event::Retransmit {
            session,
            message_id,
            attempt,
        } => format!("session {session}: retransmit of message {message_id} (try {attempt})"),
        Event::SessionClosed { session } => format!("session {session}: closed"),
    }
}

impl OakleyLog {
    /// A log writing to `dir/oakley.log` while enabled.
    pub fn new(dir: &Path, enabled: bool) -> Self {
        Self {
            enabled: AtomicBool::new(enabled),
            path: dir.join("oakley.log"),
            file: Mutex::new(None),
        }
    }

    /// Switches the file log on or off (tracing output is unaffected).
    pub fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::Relaxed);
        if !on {
            *self.file.lock().unwrap_or_else(|p| p.into_inner()) = None;
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Logs one line about `peer`.
    pub fn line(&self, peer: IpAddr, text: &str) {
        tracing::info!(target: "oakley", %peer, "{text}");
        if !self.is_enabled() {
            return;
        }
        let mut f = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if f.is_none() {
            *f = open_private(&self.path).ok();
        }
        if let Some(file) = f.as_mut() {
            let t = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            let _ = writeln!(
                file,
                "{}.{:03} {peer} {text}",
                t.as_secs(),
                t.subsec_millis()
            );
        }
    }

    pub fn event(&self, peer: IpAddr, e: &Event) {
        self.line(peer, &describe(e));
    }
}

/// Wireshark key tables in the state directory (only when key export is on).
pub struct KeyExport {
    esp: PathBuf,
    ikev2: PathBuf,
}

impl KeyExport {
    /// Starts empty tables in `dir`.
    pub fn new(dir: &Path) -> std::io::Result<Self> {
        let k = Self {
            esp: dir.join("esp_sa"),
            ikev2: dir.join("ikev2_decryption_table"),
        };
        for p in [&k.esp, &k.ikev2] {
            let _ = std::fs::remove_file(p);
            open_private(p)?;
        }
        Ok(k)
    }

    fn append(path: &Path, line: &str) {
        if let Ok(mut f) = open_private(path) {
            let _ = writeln!(f, "{line}");
        }
    }

    /// One `esp_sa` line (see `esp::keyexport`).
    pub fn esp(&self, line: &str) {
        Self::append(&self.esp, line);
    }

    /// One `ikev2_decryption_table` line from the engine.
    pub fn ikev2(&self, line: &str) {
        Self::append(&self.ikev2, line);
    }
}
