//! Computer startup security and the order in which oakleyd puts protection in place.
//!
//! 1. [`begin`] (the first thing the daemon does): reads `<state-dir>/config.json` (the
//!    `set config` values) and installs the startup ruleset (`bootmode`: stateful, block
//!    or permit, with `bootexemptions`). The same happens at boot, before the network is
//!    up, through `oakley-startup` (see `dist/systemd/`).
//! 2. [`Enforcer::apply_policy`] (once the data path is up): the persistent store's policy
//!    first, on its own, so it is in force even if the other stores are slow, corrupt or
//!    missing; then the full resultant set (persistent + local), which replaces it.
//! 3. [`Enforcer::shutdown`] on SIGTERM: back to the startup ruleset (default), remove the
//!    table, or keep the policy table (`--on-exit`).
//!
//! If the daemon dies without step 3 (`kill -9`, a crash), the table last installed stays
//! in the kernel: policy enforcement, or startup security if policy was never applied.
//! Either one fails closed for traffic that must be secured; a restart replaces it.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use control::DynamicConfig;
use policy::resolver::{HostResolver, SystemHost};
use policy::store::{FileStore, PolicySource, StoreLocation};
use policy::{Compiled, compile_rsop, resultant};

use crate::firewall::{Firewall, Ruleset, Setup, from_policy};

/// File of the persisted dynamic configuration in the state directory.
pub const CONFIG_FILE: &str = "config.json";

/// What the daemon does with its firewall table on a graceful stop.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OnExit {
    /// Install the configured startup security (stays until the next start).
    #[default]
    Startup,
    /// Remove the table: no filtering while the daemon is stopped.
    Remove,
    /// Leave the policy table in place.
    Keep,
}

/// Command-line options of the firewall and startup security (flattened into oakleyd's).
#[derive(Clone, Debug, Default, clap::Args)]
pub struct StartupArgs {
    /// Do not touch nftables at all (no inbound enforcement, no startup security).
    #[arg(long)]
    pub no_firewall: bool,
    /// Firewall table left behind by a graceful stop.
    #[arg(long, value_enum, default_value_t = OnExit::Startup)]
    pub on_exit: OnExit,
}

/// Reads the persisted configuration. A missing file means the defaults; a file that does
/// not parse or holds out-of-range values also yields the defaults (stateful startup),
/// with the problem reported so it can be shown.
pub fn load_config(dir: &Path) -> (DynamicConfig, Option<String>) {
    let path = dir.join(CONFIG_FILE);
    match std::fs::read(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (DynamicConfig::default(), None),
        Err(e) => (
            DynamicConfig::default(),
            Some(format!("{}: {e}; using the defaults", path.display())),
        ),
        Ok(bytes) => match serde_json::from_slice::<DynamicConfig>(&bytes)
            .map_err(|e| e.to_string())
            .and_then(|c| c.validate().map(|_| c).map_err(|e| e.to_string()))
        {
            Ok(c) => (c, None),
            Err(e) => (
                DynamicConfig::default(),
                Some(format!("{}: {e}; using the defaults", path.display())),
            ),
        },
    }
}

/// Writes the configuration atomically (temp file, fsync, rename; mode 0600).
pub fn save_config(dir: &Path, cfg: &DynamicConfig) -> std::io::Result<()> {
    let json = serde_json::to_vec_pretty(cfg).map_err(std::io::Error::other)?;
    policy::store::write_atomically(&dir.join(CONFIG_FILE), &json)
}

/// The startup ruleset a configuration asks for.
pub fn startup_ruleset(cfg: &DynamicConfig) -> Ruleset {
    Ruleset::Startup {
        mode: cfg.boot_mode,
        exemptions: cfg.boot_exemptions.clone(),
    }
}

/// Policy as last compiled and applied.
#[derive(Clone, Debug, Default)]
pub struct PolicyState {
    pub compiled: Compiled,
    /// Quick mode filters as written (generic), for `show qmfilter type=generic`.
    pub generic_qm: Vec<control::QmFilterView>,
    /// Main mode filters as written, for `show mmfilter type=generic`.
    pub generic_mm: Vec<control::MmFilterView>,
    /// Authentication methods (redacted) by (policy, rule).
    pub auth: std::collections::HashMap<(String, String), Vec<String>>,
    /// `store: policy name`, highest precedence first.
    pub applied: Vec<String>,
    pub warnings: Vec<String>,
}

/// Computes the resultant set of policy of the given stores and compiles it.
pub fn compile_stores(
    dir: &Path,
    locations: &[StoreLocation],
    host: &dyn HostResolver,
) -> PolicyState {
    let stores: Vec<FileStore> = locations.iter().map(|l| FileStore::open(dir, *l)).collect();
    let sources: Vec<&dyn PolicySource> = stores.iter().map(|s| s as &dyn PolicySource).collect();
    let rsop = resultant(&sources);
    let mut warnings: Vec<String> = rsop
        .stores
        .iter()
        .filter_map(|r| match &r.state {
            policy::rsop::StoreState::Error { message } => Some(message.clone()),
            _ => None,
        })
        .collect();
    let compiled = compile_rsop(&rsop, host);
    warnings.extend(compiled.warnings.iter().cloned());
    let mut generic_qm = Vec::new();
    let mut generic_mm = Vec::new();
    let mut auth = std::collections::HashMap::new();
    for a in &rsop.applied {
        let p = a.policy();
        for r in p.rules.iter().filter(|r| r.active) {
            let methods: Vec<String> = r.auth.iter().map(|m| m.to_string()).collect();
            auth.insert((p.name.clone(), r.name.clone()), methods.clone());
            let (Some(list), Some(action)) = (
                a.store.filter_list(&r.filter_list),
                a.store.filter_action(&r.filter_action),
            ) else {
                continue;
            };
            for f in &list.filters {
                let name = format!("{}/{}", p.name, r.name);
                generic_qm.push(control::QmFilterView {
                    name: name.clone(),
                    negotiation_policy: action.name.clone(),
                    source: f.src.to_string(),
                    destination: f.dst.to_string(),
                    protocol: f.protocol.to_string(),
                    src_port: f.src_port,
                    dst_port: f.dst_port,
                    mirrored: Some(f.mirrored),
                    direction: None,
                    inbound_action: action.action.to_string(),
                    outbound_action: action.action.to_string(),
                    inpass: action.inpass,
                    soft: action.soft,
                    tunnel_endpoint: r.tunnel.as_ref().map(|t| t.to_string()),
                    connection_type: r.conn_type.to_string(),
                    weight: None,
                });
                if action.action == policy::ActionKind::Negotiate {
                    generic_mm.push(control::MmFilterView {
                        name,
                        source: f.src.to_string(),
                        destination: f.dst.to_string(),
                        authentication_methods: methods.clone(),
                        connection_type: r.conn_type.to_string(),
                        direction: None,
                        weight: None,
                    });
                }
            }
        }
    }
    PolicyState {
        generic_qm,
        generic_mm,
        auth,
        applied: rsop
            .applied
            .iter()
            .map(|a| format!("{}: {}", a.location, a.policy().name))
            .collect(),
        compiled,
        warnings,
    }
}

/// Where the firewall stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Phase {
    Off,
    Startup,
    Policy,
}

/// Owns the firewall table, the dynamic configuration and the compiled policy.
pub struct Enforcer {
    dir: PathBuf,
    firewall: Option<Firewall>,
    on_exit: OnExit,
    state: Mutex<EnforcerState>,
}

struct EnforcerState {
    config: DynamicConfig,
    phase: Phase,
    policy: PolicyState,
    config_warning: Option<String>,
}

/// Step 1: startup security, before anything else. Fails (and the daemon must not go on)
/// when nft refuses or is missing, unless the firewall is switched off.
pub fn begin(dir: &Path, args: &StartupArgs) -> Result<Enforcer, String> {
    let (config, config_warning) = load_config(dir);
    if let Some(w) = &config_warning {
        tracing::warn!("{w}");
        eprintln!("oakleyd: {w}");
    }
    let firewall = (!args.no_firewall).then(|| Firewall::new(Setup::default()));
    let phase = match &firewall {
        Some(fw) => {
            fw.apply(&startup_ruleset(&config))
                .map_err(|e| format!("startup security: {e}"))?;
            tracing::info!(mode = %config.boot_mode, "startup security in force");
            Phase::Startup
        }
        None => Phase::Off,
    };
    Ok(Enforcer {
        dir: dir.to_owned(),
        firewall,
        on_exit: args.on_exit,
        state: Mutex::new(EnforcerState {
            config,
            phase,
            policy: PolicyState::default(),
            config_warning,
        }),
    })
}

impl Enforcer {
    fn lock(&self) -> std::sync::MutexGuard<'_, EnforcerState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Tells the firewall where the data path is (TUN device, mark of our own packets).
    pub fn set_data_path(&mut self, tun: &str, mark: u32) {
        if let Some(fw) = &mut self.firewall {
            fw.setup.tun = Some(tun.to_owned());
            fw.setup.mark = Some(mark);
        }
    }

    pub fn state_dir(&self) -> &Path {
        &self.dir
    }

    /// Step 2: persistent policy alone, then the full resultant set. On a failure to
    /// install, the table in force (startup security or the previous policy) stays.
    pub fn apply_policy(&self) -> Result<(), String> {
        self.apply_policy_with(&SystemHost::default())
    }

    /// [`Enforcer::apply_policy`] with a given view of the host (tests, planning).
    pub fn apply_policy_with(&self, host: &dyn HostResolver) -> Result<(), String> {
        let exemptions = self.lock().config.exemptions();
        let persistent = compile_stores(&self.dir, &[StoreLocation::Persistent], host);
        if let Some(fw) = &self.firewall
            && !persistent.applied.is_empty()
        {
            fw.apply(&Ruleset::Policy(from_policy::rules(
                &persistent.compiled,
                exemptions,
            )))
            .map_err(|e| format!("persistent policy: {e}"))?;
            self.lock().phase = Phase::Policy;
            tracing::info!(policies = ?persistent.applied, "persistent policy in force");
        }
        let full = compile_stores(
            &self.dir,
            &[StoreLocation::Persistent, StoreLocation::Local],
            host,
        );
        if let Some(fw) = &self.firewall {
            fw.apply(&Ruleset::Policy(from_policy::rules(
                &full.compiled,
                exemptions,
            )))
            .map_err(|e| format!("policy: {e}"))?;
        }
        for w in &full.warnings {
            tracing::warn!("{w}");
        }
        tracing::info!(policies = ?full.applied, "policy in force");
        let mut st = self.lock();
        if self.firewall.is_some() {
            st.phase = Phase::Policy;
        }
        st.policy = full;
        Ok(())
    }

    /// The configuration in force.
    pub fn config(&self) -> DynamicConfig {
        self.lock().config.clone()
    }

    /// Changes one property, persists it, and re-applies the firewall when the change
    /// concerns it. Nothing changes when the value is refused or cannot be saved.
    pub fn set_config(
        &self,
        property: &str,
        value: &str,
    ) -> Result<(&'static str, DynamicConfig), SetConfigError> {
        let mut st = self.lock();
        let mut next = st.config.clone();
        let name = next.set(property, value).map_err(SetConfigError::Invalid)?;
        save_config(&self.dir, &next).map_err(|e| {
            SetConfigError::Failed(format!(
                "saving {}: {e}",
                self.dir.join(CONFIG_FILE).display()
            ))
        })?;
        let old = std::mem::replace(&mut st.config, next.clone());
        st.config_warning = None;
        // Exemption changes reach the running policy ruleset at once; startup security
        // changes reach the table while it is the startup ruleset, and the next start.
        if let Some(fw) = &self.firewall {
            let rs = match (&st.phase, name) {
                (Phase::Policy, "ipsecexempt") => Some(Ruleset::Policy(from_policy::rules(
                    &st.policy.compiled,
                    next.exemptions(),
                ))),
                (Phase::Startup, "bootmode" | "bootexemptions") => Some(startup_ruleset(&next)),
                _ => None,
            };
            if let Some(rs) = rs
                && let Err(e) = fw.apply(&rs)
            {
                st.config = old;
                let _ = save_config(&self.dir, &st.config);
                return Err(SetConfigError::Failed(e.to_string()));
            }
        }
        Ok((name, next))
    }

    /// The compiled policy in force.
    pub fn policy(&self) -> PolicyState {
        self.lock().policy.clone()
    }

    /// `startup (stateful)`, `policy` or `off`, and the warnings to show.
    pub fn describe(&self) -> (String, Vec<String>) {
        let st = self.lock();
        let phase = match st.phase {
            Phase::Off => "off".to_string(),
            Phase::Startup => format!("startup security ({})", st.config.boot_mode.keyword()),
            Phase::Policy if st.policy.applied.is_empty() => {
                "policy (no policy assigned: nothing filtered)".to_string()
            }
            Phase::Policy => "policy".to_string(),
        };
        let mut w = st.policy.warnings.clone();
        w.extend(st.config_warning.clone());
        (phase, w)
    }

    pub fn applied(&self) -> Vec<String> {
        self.lock().policy.applied.clone()
    }

    pub fn firewall(&self) -> Option<&Firewall> {
        self.firewall.as_ref()
    }

    /// Step 3, on a graceful stop.
    pub fn shutdown(&self) -> Result<(), String> {
        let Some(fw) = &self.firewall else {
            return Ok(());
        };
        let st = self.lock();
        let r = match self.on_exit {
            OnExit::Keep => Ok(()),
            OnExit::Remove => fw.remove(),
            OnExit::Startup => fw.apply(&startup_ruleset(&st.config)),
        };
        r.map_err(|e| format!("firewall on exit: {e}"))
    }
}

/// The daemon's live control plane: policy enforcement in force and the control socket
/// open. Dropping it closes the socket; [`Live::shutdown`] also settles the firewall.
pub struct Live {
    pub enforcer: std::sync::Arc<Enforcer>,
    pub service: std::sync::Arc<crate::control::service::Service>,
    server: Option<crate::control::Server>,
}

/// Step 2 for oakleyd: with the data path up (TUN device `manual.tun`, sealed packets
/// marked `mark`), applies policy (persistent first), records the manual SAs for the
/// control API and opens the control socket. On error the startup ruleset stays.
pub fn go_live(
    mut enforcer: Enforcer,
    dp: std::sync::Arc<crate::dataplane::Dataplane>,
    manual: &crate::manual::ManualConfig,
    mark: u32,
) -> Result<Live, String> {
    enforcer.set_data_path(&manual.tun, mark);
    let enforcer = std::sync::Arc::new(enforcer);
    enforcer.apply_policy()?;
    let service = std::sync::Arc::new(crate::control::service::Service::new(enforcer.clone(), dp));
    service.register_manual(manual);
    let server =
        crate::control::start(enforcer.state_dir(), service.clone()).map_err(|e| e.to_string())?;
    Ok(Live {
        enforcer,
        service,
        server: Some(server),
    })
}

impl Live {
    /// Step 3: closes the control socket and leaves the firewall as `--on-exit` says.
    pub fn shutdown(mut self) -> Result<(), String> {
        self.server.take();
        self.enforcer.shutdown()
    }
}

/// Why `set config` failed.
#[derive(Debug)]
pub enum SetConfigError {
    Invalid(control::config::ConfigError),
    Failed(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_round_trips_and_bad_files_fall_back_to_defaults() {
        let dir = std::env::temp_dir().join(format!("oakley-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(load_config(&dir), (DynamicConfig::default(), None));
        let mut c = DynamicConfig::default();
        c.set("bootmode", "block").unwrap();
        c.set("bootexemptions", "TCP:0:22:inbound").unwrap();
        save_config(&dir, &c).unwrap();
        assert_eq!(load_config(&dir).0, c);
        std::fs::write(dir.join(CONFIG_FILE), b"{not json").unwrap();
        let (d, w) = load_config(&dir);
        assert_eq!(d, DynamicConfig::default());
        assert!(w.unwrap().contains("config.json"));
        std::fs::write(
            dir.join(CONFIG_FILE),
            serde_json::to_vec(&DynamicConfig {
                ipsec_exempt: 9,
                ..DynamicConfig::default()
            })
            .unwrap(),
        )
        .unwrap();
        assert!(load_config(&dir).1.is_some(), "out-of-range value accepted");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn without_a_firewall_config_still_persists() {
        let dir = std::env::temp_dir().join(format!("oakley-cfg2-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let e = begin(
            &dir,
            &StartupArgs {
                no_firewall: true,
                on_exit: OnExit::Startup,
            },
        )
        .unwrap();
        let (name, c) = e.set_config("IPSECLOGINTERVAL", "120").unwrap();
        assert_eq!((name, c.ipsec_log_interval), ("ipsecloginterval", 120));
        assert!(matches!(
            e.set_config("ipsecloginterval", "1"),
            Err(SetConfigError::Invalid(_))
        ));
        assert_eq!(load_config(&dir).0.ipsec_log_interval, 120);
        assert_eq!(e.describe().0, "off");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
