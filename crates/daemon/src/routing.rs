//! Steering the host's traffic through the data plane: routes for protected prefixes in a
//! table of our own that points at the TUN device, a rule that consults that table, and a
//! higher-priority rule that sends packets carrying the daemon's firewall mark (its sealed
//! output) by the main table. Everything added is removed by [`Routing::teardown`]; the
//! routes disappear with the TUN device anyway.

use std::net::IpAddr;

use futures::TryStreamExt;
use ipnet::IpNet;
use rtnetlink::packet_route::route::{RouteMessage, RouteType};
use rtnetlink::packet_route::rule::{RuleAction, RuleMessage};
use rtnetlink::{Handle, RouteMessageBuilder, new_connection};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum RoutingError {
    #[error("netlink: {0}")]
    Netlink(#[from] rtnetlink::Error),
    #[error("netlink socket: {0}")]
    Io(#[from] std::io::Error),
    #[error("interface {0} not found")]
    NoInterface(String),
}

/// Priorities of our rules (below the main table's 32766, above the defaults users add).
pub const BYPASS_PRIORITY: u32 = 1000;
pub const LOOKUP_PRIORITY: u32 = 1001;

/// Rules installed (to remove on teardown).
pub struct Routing {
    rules: Vec<RuleMessage>,
}

/// One protected prefix and the source address local traffic into it should carry.
#[derive(Debug, Clone)]
pub struct ProtectedRoute {
    pub prefix: IpNet,
    pub source: Option<IpAddr>,
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
}

async fn connect() -> Result<Handle, RoutingError> {
    let (conn, handle, _) = new_connection()?;
    tokio::spawn(conn);
    Ok(handle)
}

async fn ifindex(h: &Handle, name: &str) -> Result<u32, RoutingError> {
    let mut links = h.link().get().match_name(name.to_owned()).execute();
    match links.try_next().await? {
        Some(l) => Ok(l.header.index),
        None => Err(RoutingError::NoInterface(name.to_owned())),
    }
}

impl Routing {
    /// Routes `routes` into `tun` through table `table`, with the bypass for `mark`.
    pub fn setup(
        tun: &str,
        table: u32,
        mark: u32,
        routes: &[ProtectedRoute],
    ) -> Result<Self, RoutingError> {
        runtime()?.block_on(async {
            let h = connect().await?;
            let idx = ifindex(&h, tun).await?;
            for r in routes {
                let msg = route_message(r, table, idx);
                h.route().add(msg).replace().execute().await?;
            }
            let mut rules = Vec::new();
            for v6 in [false, true] {
                let bypass = h
                    .rule()
                    .add()
                    .priority(BYPASS_PRIORITY)
                    .fw_mark(mark)
                    .table_id(254)
                    .action(RuleAction::ToTable);
                let lookup = h
                    .rule()
                    .add()
                    .priority(LOOKUP_PRIORITY)
                    .table_id(table)
                    .action(RuleAction::ToTable);
                if v6 {
                    for mut r in [bypass.v6(), lookup.v6()] {
                        rules.push(r.message_mut().clone());
                        r.replace().execute().await?;
                    }
                } else {
                    for mut r in [bypass.v4(), lookup.v4()] {
                        rules.push(r.message_mut().clone());
                        r.replace().execute().await?;
                    }
                }
            }
            Ok(Self { rules })
        })
    }

    /// Removes the rules (best effort: each is tried even if one fails).
    pub fn teardown(self) -> Result<(), RoutingError> {
        runtime()?.block_on(async {
            let h = connect().await?;
            let mut first_err = None;
            for r in self.rules {
                if let Err(e) = h.rule().del(r).execute().await {
                    first_err.get_or_insert(e);
                }
            }
            match first_err {
                Some(e) => Err(e.into()),
                None => Ok(()),
            }
        })
    }
}

/// The route message for a protected prefix into the TUN device (`ifindex`).
fn route_message(r: &ProtectedRoute, table: u32, ifindex: u32) -> RouteMessage {
    match (r.prefix, r.source) {
        (IpNet::V4(p), src) => {
            let mut b = RouteMessageBuilder::<std::net::Ipv4Addr>::new()
                .destination_prefix(p.network(), p.prefix_len())
                .output_interface(ifindex)
                .table_id(table);
            if let Some(IpAddr::V4(s)) = src {
                b = b.pref_source(s);
            }
            b.build()
        }
        (IpNet::V6(p), src) => {
            let mut b = RouteMessageBuilder::<std::net::Ipv6Addr>::new()
                .destination_prefix(p.network(), p.prefix_len())
                .output_interface(ifindex)
                .table_id(table);
            if let Some(IpAddr::V6(s)) = src {
                b = b.pref_source(s);
            }
            b.build()
        }
    }
}

/// A "throw" route: lookups in our table for this prefix continue with the next rule
/// (the main table), so it never enters the TUN device.
fn throw_message(prefix: IpNet, table: u32) -> RouteMessage {
    match prefix {
        IpNet::V4(p) => RouteMessageBuilder::<std::net::Ipv4Addr>::new()
            .destination_prefix(p.network(), p.prefix_len())
            .table_id(table)
            .kind(RouteType::Throw)
            .build(),
        IpNet::V6(p) => RouteMessageBuilder::<std::net::Ipv6Addr>::new()
            .destination_prefix(p.network(), p.prefix_len())
            .table_id(table)
            .kind(RouteType::Throw)
            .build(),
    }
}

/// Prefixes that policy never routes into the TUN device even under an "any" filter:
/// multicast, limited broadcast and link-local traffic is never negotiated (MISSION Q8),
/// and neighbour discovery (and link-local services) must keep working.
pub fn never_protected() -> Vec<IpNet> {
    [
        "224.0.0.0/4",
        "255.255.255.255/32",
        "169.254.0.0/16",
        "ff00::/8",
        "fe80::/10",
    ]
    .iter()
    .filter_map(|p| p.parse().ok())
    .collect()
}

/// Our routing table at run time, for routes that come and go while the daemon runs
/// (policy routes, routes of SAs negotiated by peers). Used from inside a tokio runtime:
/// the netlink connection runs as a task of that runtime.
pub struct RouteTable {
    handle: Handle,
    table: u32,
    ifindex: u32,
    throws: std::sync::Mutex<Vec<IpNet>>,
}

impl RouteTable {
    /// Connects to netlink and finds the TUN device.
    pub async fn open(tun: &str, table: u32) -> Result<Self, RoutingError> {
        let handle = connect().await?;
        let ifindex = ifindex(&handle, tun).await?;
        Ok(Self {
            handle,
            table,
            ifindex,
            throws: std::sync::Mutex::new(Vec::new()),
        })
    }

    /// Routes a prefix into the TUN device (replacing a route for the same prefix).
    pub async fn add(&self, r: &ProtectedRoute) -> Result<(), RoutingError> {
        let msg = route_message(r, self.table, self.ifindex);
        self.handle.route().add(msg).replace().execute().await?;
        Ok(())
    }

    /// Removes a prefix's route into the TUN device.
    pub async fn del(&self, r: &ProtectedRoute) -> Result<(), RoutingError> {
        let msg = route_message(r, self.table, self.ifindex);
        self.handle.route().del(msg).execute().await?;
        Ok(())
    }

    /// Adds a throw route (lookups for the prefix continue in the main table); removed by
    /// [`RouteTable::teardown`].
    pub async fn throw(&self, prefix: IpNet) -> Result<(), RoutingError> {
        let msg = throw_message(prefix, self.table);
        self.handle.route().add(msg).replace().execute().await?;
        let mut t = self.throws.lock().unwrap_or_else(|p| p.into_inner());
        if !t.contains(&prefix) {
            t.push(prefix);
        }
        Ok(())
    }

    /// Removes the throw routes (routes into the TUN device go with the device).
    pub async fn teardown(&self) {
        let throws = std::mem::take(&mut *self.throws.lock().unwrap_or_else(|p| p.into_inner()));
        for p in throws {
            let _ = self
                .handle
                .route()
                .del(throw_message(p, self.table))
                .execute()
                .await;
        }
    }
}
