//! Steering the host's traffic through the data plane: routes for protected prefixes in a
//! table of our own that points at the TUN device, a rule that consults that table, and a
//! higher-priority rule that sends packets carrying the daemon's firewall mark (its sealed
//! output) by the main table. Everything added is removed by [`Routing::teardown`]; the
//! routes disappear with the TUN device anyway.

use std::net::IpAddr;

use futures::TryStreamExt;
use ipnet::IpNet;
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
                let msg = match (r.prefix, r.source) {
                    (IpNet::V4(p), src) => {
                        let mut b = RouteMessageBuilder::<std::net::Ipv4Addr>::new()
                            .destination_prefix(p.network(), p.prefix_len())
                            .output_interface(idx)
                            .table_id(table);
                        if let Some(IpAddr::V4(s)) = src {
                            b = b.pref_source(s);
                        }
                        b.build()
                    }
                    (IpNet::V6(p), src) => {
                        let mut b = RouteMessageBuilder::<std::net::Ipv6Addr>::new()
                            .destination_prefix(p.network(), p.prefix_len())
                            .output_interface(idx)
                            .table_id(table);
                        if let Some(IpAddr::V6(s)) = src {
                            b = b.pref_source(s);
                        }
                        b.build()
                    }
                };
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
