//! oakleyd negotiating with IKE from policy (the default mode; `--manual` runs manually
//! keyed SAs instead): loads and compiles the policy, opens the TUN device, the routing
//! rules, the ESP and UDP sockets on every local address, starts the data plane threads
//! and runs the IKE task on a tokio runtime until SIGTERM/SIGINT.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use policy::resolver::{HostResolver, SystemHost};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::sync::mpsc;

use crate::acquire::PolicyState;
use crate::dataplane::Dataplane;
use crate::dataplane::io::{self, Path as RxPath};
use crate::ike_task::{IkeTask, Settings, Sockets};
use crate::oakley_log::OakleyLog;
use crate::policy_map::{self, PolicyMap};
use crate::routing::Routing;

/// How the service runs.
#[derive(Debug, Clone)]
pub struct ServiceArgs {
    pub state_dir: PathBuf,
    pub tun: String,
    pub mtu: u16,
    pub mark: u32,
    /// Write Wireshark key tables (`esp_sa`, `ikev2_decryption_table`) to the state dir.
    pub export_keys: bool,
    /// UDP-encapsulate ESP even without a NAT.
    pub force_encap: bool,
    /// Write the Oakley log to `oakley.log` in the state dir.
    pub ike_log: bool,
    /// NAT keepalive interval from behind a NAT.
    pub nat_keepalive: std::time::Duration,
    /// TUN queues and offloads (outbound workers: one per queue).
    pub tun_options: io::TunOptions,
}

/// Addresses the daemon serves: unicast, not loopback, not IPv6 link-local (those need a
/// scope and policy never negotiates on them).
fn usable(a: &IpAddr) -> bool {
    match a {
        IpAddr::V4(v) => !v.is_loopback() && !v.is_unspecified() && !v.is_multicast(),
        IpAddr::V6(v) => {
            !v.is_loopback()
                && !v.is_unspecified()
                && !v.is_multicast()
                && (v.segments()[0] & 0xffc0) != 0xfe80
        }
    }
}

fn bind_ike(ip: IpAddr, mark: u32) -> std::io::Result<std::net::UdpSocket> {
    let domain = if ip.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    };
    let s = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    s.set_reuse_address(true)?;
    // Our IKE packets must never enter the TUN route.
    s.set_mark(mark)?;
    s.bind(&SockAddr::from(SocketAddr::new(ip, 500)))?;
    s.set_nonblocking(true)?;
    Ok(s.into())
}

/// Runs the service until SIGTERM or SIGINT.
pub fn run(args: ServiceArgs) -> Result<(), String> {
    let dir = &args.state_dir;
    let host = SystemHost::default();
    let local: Vec<IpAddr> = host.local_addresses().into_iter().filter(usable).collect();
    let (rsop, compiled) = policy_map::load(dir, &host);
    for s in &rsop.stores {
        tracing::info!(target: "oakley", store = %s.location, origin = %s.origin, state = ?s.state, "policy store");
    }
    let map = PolicyMap::new(&rsop, compiled, local.clone());
    for w in &map.warnings {
        tracing::warn!(target: "oakley", "policy: {w}");
    }
    let applied = map.applied.clone();
    let log = Arc::new(OakleyLog::new(dir, args.ike_log));
    let dp = Arc::new(Dataplane::new());
    let (tx, rx) = mpsc::channel(4096);
    let hook = Arc::new(PolicyState::new(map, tx.clone()));
    dp.set_policy(hook.clone());
    let tun = io::Tun::open(&args.tun, args.mtu, args.tun_options)
        .map_err(|e| format!("tun {}: {e}", args.tun))?;
    let routing = Routing::setup(&args.tun, args.mark, args.mark, &[])
        .map_err(|e| format!("routing: {e}"))?;
    let result = (|| -> Result<(), String> {
        let mut sockets = Sockets {
            v500: Default::default(),
            v4500: Default::default(),
        };
        // Receivers first: each UDP 4500 socket also becomes a way out for the workers.
        let mut sender = io::Sender::new(args.mark).map_err(|e| format!("raw socket: {e}"))?;
        for ip in &local {
            let opened = (|| -> std::io::Result<()> {
                let esp = RxPath::Raw {
                    local: *ip,
                    protocol: wire::ip::ESP,
                };
                let udp = RxPath::Udp {
                    local: *ip,
                    port: wire::natt::NATT_PORT,
                };
                let s500 = bind_ike(*ip, args.mark)?;
                let s4500 = io::open_path(udp)?;
                s4500.set_mark(args.mark)?;
                // The IKE task sends on a duplicate (the same socket: marked, and made
                // non-blocking by the receive path, so it sends with `io::send_udp`).
                let send4500 = s4500.try_clone()?;
                let sesp = io::open_path(esp)?;
                io::spawn_receiver(dp.clone(), &tun, esp, sesp, &mut sender)?;
                io::spawn_receiver(dp.clone(), &tun, udp, s4500, &mut sender)?;
                sockets.v500.insert(*ip, s500);
                sockets.v4500.insert(*ip, send4500);
                Ok(())
            })();
            if let Err(e) = opened {
                tracing::warn!(address = %ip, "not serving this address: {e}");
            }
        }
        io::spawn_senders(dp.clone(), &tun, sender).map_err(|e| e.to_string())?;
        tracing::info!(
            queues = tun.queues(),
            offload = tun.offload(),
            "data plane workers"
        );
        let settings = Settings {
            state_dir: args.state_dir.clone(),
            tun: args.tun.clone(),
            mark: args.mark,
            export_keys: args.export_keys,
            force_encap: args.force_encap,
            ike_log: args.ike_log,
            nat_keepalive: args.nat_keepalive,
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("runtime: {e}"))?;
        let served = sockets.v500.len();
        rt.block_on(async {
            let task = IkeTask::new(settings, dp.clone(), hook.clone(), sockets, log).await?;
            task.run(tx, rx, || {
                tracing::info!(target: "oakley", addresses = served, policies = ?applied, "oakleyd ready");
                eprintln!(
                    "oakleyd: ready (IKEv2 on {served} addresses; policy: {})",
                    if applied.is_empty() {
                        "none".to_string()
                    } else {
                        applied.join(", ")
                    }
                );
            })
            .await
        })
    })();
    let torn = routing
        .teardown()
        .map_err(|e| format!("routing teardown: {e}"));
    result.and(torn)
}
