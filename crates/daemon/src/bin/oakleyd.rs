//! oakleyd: Oakley's IPsec service. By default it applies the IPsec policy of its state
//! directory and negotiates SAs with IKEv2 (`daemon::service`); with `--manual` it runs
//! manually keyed SAs from a file instead (labs, benchmarks; see `daemon::manual`).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use daemon::dataplane::Dataplane;
use daemon::dataplane::io::{self, Path as RxPath};
use daemon::manual::{ManualConfig, Suite};
use daemon::routing::{ProtectedRoute, Routing};

/// Firewall mark on the daemon's own packets ("OK" in ASCII), and its routing table.
const DEFAULT_MARK: u32 = 0x4f4b;

#[derive(Parser, Debug)]
#[command(name = "oakleyd", about = "Oakley IPsec service")]
struct Args {
    /// Manually keyed SAs (TOML) instead of policy and IKE.
    #[arg(long)]
    manual: Option<PathBuf>,
    /// Where the daemon writes its state (counters, exported keys). Defaults to
    /// $OAKLEY_STATE_DIR, then /var/lib/oakley.
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// MTU of the TUN device (room is left for ESP overhead on a 1500-byte path).
    #[arg(long, default_value_t = 1400)]
    mtu: u16,
    /// Firewall mark of sealed packets; also the number of the routing table used.
    #[arg(long, default_value_t = DEFAULT_MARK)]
    mark: u32,
    /// Write the SAs' keys in Wireshark's esp_sa format to <state-dir>/esp_sa and the IKE
    /// SAs' keys to <state-dir>/ikev2_decryption_table (debugging only: these are secrets).
    #[arg(long)]
    export_keys: bool,
    /// Firewall and startup security (issue 6).
    #[command(flatten)]
    startup: daemon::startup::StartupArgs,
    /// TUN device name (with --manual, the file's `tun` wins).
    #[arg(long, default_value = daemon::manual::DEFAULT_TUN)]
    tun: String,
    /// UDP-encapsulate ESP (port 4500) even when no NAT is detected.
    #[arg(long)]
    force_encap: bool,
    /// Write the Oakley log (IKE negotiation steps, never keys) to <state-dir>/oakley.log.
    #[arg(long)]
    ike_log: bool,
    /// Seconds between NAT keepalives sent from behind a NAT (RFC 3948 §2.3).
    #[arg(long, default_value_t = 20)]
    nat_keepalive: u64,
    /// Outbound workers (TUN queues); 0 means one per core.
    #[arg(long, default_value_t = 0)]
    workers: usize,
    /// Plain TUN packets: no virtio-net header, TSO/USO or GRO (for comparisons).
    #[arg(long)]
    no_offload: bool,
}

fn state_dir(arg: Option<PathBuf>) -> PathBuf {
    arg.or_else(|| std::env::var_os("OAKLEY_STATE_DIR").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("/var/lib/oakley"))
}

/// Writes `contents` to `path` atomically (temp file, then rename).
fn write_atomic(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, contents)?;
    std::fs::rename(&tmp, path)
}

fn export_keys(cfg: &ManualConfig) -> String {
    let mut out = String::new();
    for sa in &cfg.sas {
        let Suite::Esp(s) = sa.suite else { continue };
        let split = s.encryption.keymat_len;
        for (src, dst, spi, key) in [
            (sa.local, sa.remote, sa.out_spi, &sa.out_key),
            (sa.remote, sa.local, sa.in_spi, &sa.in_key),
        ] {
            let (e, i) = key.split_at(split);
            if let Some(line) = esp::keyexport::wireshark_esp_sa(
                src,
                dst,
                spi,
                &s.encryption,
                e,
                s.integrity.as_ref().map(|a| (a, i)),
            ) {
                out.push_str(&line);
                out.push('\n');
            }
        }
    }
    out
}

fn run(args: Args) -> Result<(), String> {
    let dir = state_dir(args.state_dir.clone());
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    // Startup security before anything else: the boot-mode ruleset is in force from here
    // until policy replaces it.
    let mut enforcer = daemon::startup::begin(&dir, &args.startup)?;
    let tun_options = io::TunOptions {
        queues: match args.workers {
            0 => io::workers_default(),
            n => n,
        },
        offload: !args.no_offload,
    };
    let Some(manual) = args.manual.clone() else {
        // IKE mode: enforce the policy's firewall rules, then negotiate and carry traffic.
        enforcer.set_data_path(&args.tun, args.mark);
        enforcer.apply_policy()?;
        let served = daemon::service::run(daemon::service::ServiceArgs {
            state_dir: dir,
            tun: args.tun,
            mtu: args.mtu,
            mark: args.mark,
            export_keys: args.export_keys,
            force_encap: args.force_encap,
            ike_log: args.ike_log,
            nat_keepalive: Duration::from_secs(args.nat_keepalive.max(1)),
            tun_options,
        });
        return served.and(enforcer.shutdown());
    };
    run_manual(args, dir, &manual, enforcer, tun_options)
}

fn run_manual(
    args: Args,
    dir: PathBuf,
    manual: &Path,
    enforcer: daemon::startup::Enforcer,
    tun_opts: io::TunOptions,
) -> Result<(), String> {
    let cfg = ManualConfig::load(manual).map_err(|e| e.to_string())?;
    let dp = Arc::new(Dataplane::new());
    for (i, sa) in cfg.sas.iter().enumerate() {
        dp.install_manual(sa, i as u64 + 1)
            .map_err(|e| format!("sa '{}': {e}", sa.name))?;
    }
    if args.export_keys {
        write_atomic(&dir.join("esp_sa"), export_keys(&cfg).as_bytes())
            .map_err(|e| format!("key export: {e}"))?;
    }
    let tun =
        io::Tun::open(&cfg.tun, args.mtu, tun_opts).map_err(|e| format!("tun {}: {e}", cfg.tun))?;
    let routes: Vec<ProtectedRoute> = cfg
        .sas
        .iter()
        .map(|sa| ProtectedRoute {
            prefix: sa.selector.remote,
            source: sa.selector.local.contains(&sa.local).then_some(sa.local),
        })
        .collect();
    let routing = Routing::setup(&cfg.tun, args.mark, args.mark, &routes)
        .map_err(|e| format!("routing: {e}"))?;
    let result = (|| -> Result<(), String> {
        let mut paths: Vec<RxPath> = Vec::new();
        for sa in &cfg.sas {
            let p = match (sa.suite, sa.encap) {
                (_, Some((_, port))) => RxPath::Udp {
                    local: sa.local,
                    port,
                },
                (Suite::Esp(_), None) => RxPath::Raw {
                    local: sa.local,
                    protocol: wire::ip::ESP,
                },
                (Suite::Ah(_), None) => RxPath::Raw {
                    local: sa.local,
                    protocol: wire::ip::AH,
                },
            };
            if !paths.contains(&p) {
                paths.push(p);
            }
        }
        let mut sender = io::Sender::new(args.mark).map_err(|e| format!("raw socket: {e}"))?;
        for p in paths {
            let sock = io::open_path(p).map_err(|e| format!("socket {p:?}: {e}"))?;
            io::spawn_receiver(dp.clone(), &tun, p, sock, &mut sender)
                .map_err(|e| format!("socket {p:?}: {e}"))?;
        }
        io::spawn_senders(dp.clone(), &tun, sender).map_err(|e| e.to_string())?;
        // Policy enforcement and the control socket (issue 6: firewall and control API).
        let live = daemon::startup::go_live(enforcer, dp.clone(), &cfg, args.mark)?;
        let locals: Vec<IpAddr> = cfg.sas.iter().map(|s| s.local).collect();
        tracing::info!(
            sas = cfg.sas.len(),
            ?locals,
            queues = tun.queues(),
            offload = tun.offload(),
            "oakleyd ready"
        );
        eprintln!("oakleyd: ready ({} SAs on {})", cfg.sas.len(), cfg.tun);
        wait_for_shutdown(&dir, &dp);
        live.shutdown()
    })();
    let torn = routing
        .teardown()
        .map_err(|e| format!("routing teardown: {e}"));
    write_stats(&dir, &dp);
    result.and(torn)
}

fn write_stats(dir: &Path, dp: &Dataplane) {
    if let Ok(json) = serde_json::to_vec_pretty(&dp.stats.snapshot()) {
        let _ = write_atomic(&dir.join("dataplane.json"), &json);
    }
}

/// Writes the counters every half second until SIGINT or SIGTERM.
fn wait_for_shutdown(dir: &Path, dp: &Dataplane) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("oakleyd: runtime: {e}");
            return;
        }
    };
    rt.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            return;
        };
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tokio::select! {
                _ = term.recv() => break,
                _ = int.recv() => break,
                _ = tick.tick() => write_stats(dir, dp),
            }
        }
    });
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("oakleyd: {e}");
            ExitCode::from(2)
        }
    }
}
