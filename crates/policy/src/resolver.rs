//! The host facts compilation needs: this computer's addresses ("me"), its DNS, WINS and
//! DHCP servers and default gateways (the logical filter addresses), and DNS names.
//!
//! Behind a trait so tests (and RSoP planning mode) supply a fixed [`HostConfig`], while
//! [`SystemHost`] reads the running Linux host: /proc/net/fib_trie and /proc/net/if_inet6
//! for local addresses, /etc/resolv.conf for DNS servers, /proc/net/route and
//! /proc/net/ipv6_route for default gateways, dhclient and systemd-networkd lease files for
//! the DHCP server and WINS (NetBIOS name) servers, and the system resolver for names.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::address::ServerKind;

/// Host facts used to expand generic filters.
pub trait HostResolver {
    /// This computer's unicast addresses (loopback excluded).
    fn local_addresses(&self) -> Vec<IpAddr>;
    /// Addresses of one kind of logical server.
    fn servers(&self, kind: ServerKind) -> Vec<IpAddr>;
    /// Resolves a DNS name; the error says why not.
    fn resolve(&self, name: &str) -> Result<Vec<IpAddr>, String>;
}

/// A fixed description of a host: for tests and for RSoP planning mode ("what would apply
/// on a host like this"). Also readable from a JSON file (`--host FILE` in the CLI).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HostConfig {
    pub me: Vec<IpAddr>,
    pub dns: Vec<IpAddr>,
    pub wins: Vec<IpAddr>,
    pub dhcp: Vec<IpAddr>,
    pub gateway: Vec<IpAddr>,
    /// DNS names and their addresses.
    pub names: BTreeMap<String, Vec<IpAddr>>,
}

impl HostResolver for HostConfig {
    fn local_addresses(&self) -> Vec<IpAddr> {
        self.me.clone()
    }
    fn servers(&self, kind: ServerKind) -> Vec<IpAddr> {
        match kind {
            ServerKind::Dns => self.dns.clone(),
            ServerKind::Wins => self.wins.clone(),
            ServerKind::Dhcp => self.dhcp.clone(),
            ServerKind::Gateway => self.gateway.clone(),
        }
    }
    fn resolve(&self, name: &str) -> Result<Vec<IpAddr>, String> {
        self.names
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .ok_or_else(|| format!("{name} is not in the host description"))
    }
}

/// The running host, read from files under `root` (normally `/`; tests point it at a
/// prepared directory tree).
#[derive(Clone, Debug)]
pub struct SystemHost {
    root: PathBuf,
}

impl Default for SystemHost {
    fn default() -> SystemHost {
        SystemHost {
            root: PathBuf::from("/"),
        }
    }
}

impl SystemHost {
    pub fn with_root(root: &Path) -> SystemHost {
        SystemHost {
            root: root.to_path_buf(),
        }
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.root.join(rel)).unwrap_or_default()
    }

    /// Every lease file we know of, concatenated per format.
    fn leases(&self) -> (String, String) {
        let mut dhclient = String::new();
        for dir in ["var/lib/dhcp", "var/lib/dhclient"] {
            for text in read_dir_files(&self.root.join(dir), "lease") {
                dhclient.push_str(&text);
            }
        }
        let mut networkd = String::new();
        for text in read_dir_files(&self.root.join("run/systemd/netif/leases"), "") {
            networkd.push_str(&text);
            networkd.push('\n');
        }
        (dhclient, networkd)
    }

    /// This host as a fixed [`HostConfig`] (names are not listed; they resolve on demand).
    pub fn snapshot(&self) -> HostConfig {
        HostConfig {
            me: self.local_addresses(),
            dns: self.servers(ServerKind::Dns),
            wins: self.servers(ServerKind::Wins),
            dhcp: self.servers(ServerKind::Dhcp),
            gateway: self.servers(ServerKind::Gateway),
            names: BTreeMap::new(),
        }
    }
}

fn read_dir_files(dir: &Path, contains: &str) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().contains(contains))
        })
        .collect();
    paths.sort();
    paths
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .collect()
}

impl HostResolver for SystemHost {
    fn local_addresses(&self) -> Vec<IpAddr> {
        let mut v = parse_fib_trie_local(&self.read("proc/net/fib_trie"));
        v.extend(parse_if_inet6(&self.read("proc/net/if_inet6")));
        dedup(v)
    }
    fn servers(&self, kind: ServerKind) -> Vec<IpAddr> {
        match kind {
            ServerKind::Dns => parse_resolv_conf(&self.read("etc/resolv.conf")),
            ServerKind::Gateway => {
                let mut v = parse_proc_route_gateways(&self.read("proc/net/route"));
                v.extend(parse_ipv6_route_gateways(&self.read("proc/net/ipv6_route")));
                dedup(v)
            }
            ServerKind::Dhcp => {
                let (dhclient, networkd) = self.leases();
                let mut v = parse_dhclient_option(&dhclient, "dhcp-server-identifier");
                v.extend(parse_networkd_lease(&networkd, "SERVER_ADDRESS"));
                dedup(v)
            }
            ServerKind::Wins => {
                let (dhclient, _) = self.leases();
                dedup(parse_dhclient_option(&dhclient, "netbios-name-servers"))
            }
        }
    }
    fn resolve(&self, name: &str) -> Result<Vec<IpAddr>, String> {
        let addrs = (name, 0u16)
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {name}: {e}"))?;
        Ok(dedup(addrs.map(|a| a.ip()).collect()))
    }
}

fn dedup(mut v: Vec<IpAddr>) -> Vec<IpAddr> {
    let mut seen = std::collections::HashSet::new();
    v.retain(|a| seen.insert(*a));
    v
}

/// `nameserver` lines of resolv.conf(5).
pub fn parse_resolv_conf(text: &str) -> Vec<IpAddr> {
    let v = text
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some("nameserver")).then(|| w.next()).flatten()
        })
        // A scoped IPv6 server ("fe80::1%eth0") keeps its address part.
        .filter_map(|a| a.split('%').next()?.parse().ok())
        .collect();
    dedup(v)
}

/// Default routes (destination and mask 0) with a gateway in /proc/net/route, whose
/// addresses are little-endian hex.
pub fn parse_proc_route_gateways(text: &str) -> Vec<IpAddr> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 8 || f[1] != "00000000" || f[7] != "00000000" {
                return None;
            }
            let gw = u32::from_str_radix(f[2], 16).ok()?;
            (gw != 0).then(|| IpAddr::V4(Ipv4Addr::from(gw.swap_bytes())))
        })
        .collect()
}

/// Default routes (::/0) with a gateway in /proc/net/ipv6_route.
pub fn parse_ipv6_route_gateways(text: &str) -> Vec<IpAddr> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 10 || f[0] != "0".repeat(32) || f[1] != "00" {
                return None;
            }
            let gw = u128::from_str_radix(f[4], 16).ok()?;
            (gw != 0).then(|| IpAddr::V6(Ipv6Addr::from(gw)))
        })
        .collect()
}

/// Local IPv4 addresses: the "/32 host LOCAL" leaves of /proc/net/fib_trie.
pub fn parse_fib_trie_local(text: &str) -> Vec<IpAddr> {
    let mut out = Vec::new();
    let mut last: Option<Ipv4Addr> = None;
    for l in text.lines() {
        let t = l.trim_start();
        if let Some(rest) = t.strip_prefix("|-- ") {
            last = rest.trim().parse().ok();
        } else if t.starts_with("/32 host LOCAL")
            && let Some(a) = last
            && !a.is_loopback()
        {
            out.push(IpAddr::V4(a));
        }
    }
    dedup(out)
}

/// Addresses in /proc/net/if_inet6 (32 hex digits first), without loopback.
pub fn parse_if_inet6(text: &str) -> Vec<IpAddr> {
    text.lines()
        .filter_map(|l| {
            let hex = l.split_whitespace().next()?;
            let a = Ipv6Addr::from(u128::from_str_radix(hex, 16).ok()?);
            (!a.is_loopback()).then_some(IpAddr::V6(a))
        })
        .collect()
}

/// `option NAME a.b.c.d[, e.f.g.h];` lines of dhclient.leases(5).
pub fn parse_dhclient_option(text: &str, option: &str) -> Vec<IpAddr> {
    let v = text
        .lines()
        .filter_map(|l| {
            let rest = l
                .trim()
                .strip_prefix("option ")?
                .trim_start()
                .strip_prefix(option)?;
            Some(rest.trim().trim_end_matches(';').to_string())
        })
        .flat_map(|list| {
            list.split(',')
                .filter_map(|a| a.trim().parse().ok())
                .collect::<Vec<IpAddr>>()
        })
        .collect();
    dedup(v)
}

/// `KEY=a b c` lines of systemd-networkd lease files.
pub fn parse_networkd_lease(text: &str, key: &str) -> Vec<IpAddr> {
    text.lines()
        .filter_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .flat_map(|v| {
            v.split_whitespace()
                .filter_map(|a| a.parse().ok())
                .collect::<Vec<IpAddr>>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf() {
        let t = "# comment\nsearch example.com\nnameserver 10.0.0.53\nnameserver fe80::1%eth0\nnameserver bogus\nnameserver 10.0.0.53\n";
        assert_eq!(
            parse_resolv_conf(t),
            vec![
                "10.0.0.53".parse::<IpAddr>().unwrap(),
                "fe80::1".parse().unwrap()
            ]
        );
    }

    #[test]
    fn default_route() {
        let t = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                 eth0\t00000000\t0100000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
                 eth0\t0000000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
        assert_eq!(
            parse_proc_route_gateways(t),
            vec!["10.0.0.1".parse::<IpAddr>().unwrap()]
        );
        let t6 = "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003 eth0\n";
        assert_eq!(
            parse_ipv6_route_gateways(t6),
            vec!["fe80::1".parse::<IpAddr>().unwrap()]
        );
    }

    #[test]
    fn fib_trie_and_if_inet6() {
        let t = "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 10.0.0.5\n        /32 host LOCAL\n     |-- 10.0.0.255\n        /32 link BROADCAST\n     |-- 127.0.0.1\n        /32 host LOCAL\nLocal:\n     |-- 10.0.0.5\n        /32 host LOCAL\n";
        assert_eq!(
            parse_fib_trie_local(t),
            vec!["10.0.0.5".parse::<IpAddr>().unwrap()]
        );
        let t6 = "20010db8000000000000000000000005 02 40 00 80 eth0\n00000000000000000000000000000001 01 80 10 80 lo\n";
        assert_eq!(
            parse_if_inet6(t6),
            vec!["2001:db8::5".parse::<IpAddr>().unwrap()]
        );
    }

    #[test]
    fn leases() {
        let t = "lease {\n  interface \"eth0\";\n  option dhcp-server-identifier 10.0.0.2;\n  option netbios-name-servers 10.0.0.7, 10.0.0.8;\n}\n";
        assert_eq!(
            parse_dhclient_option(t, "dhcp-server-identifier"),
            vec!["10.0.0.2".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(parse_dhclient_option(t, "netbios-name-servers").len(), 2);
        assert_eq!(
            parse_networkd_lease(
                "ADDRESS=10.0.0.5\nSERVER_ADDRESS=10.0.0.3\n",
                "SERVER_ADDRESS"
            ),
            vec!["10.0.0.3".parse::<IpAddr>().unwrap()]
        );
    }

    #[test]
    fn system_host_reads_a_prepared_root() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        std::fs::create_dir_all(r.join("etc")).unwrap();
        std::fs::create_dir_all(r.join("var/lib/dhcp")).unwrap();
        std::fs::write(r.join("etc/resolv.conf"), "nameserver 192.0.2.53\n").unwrap();
        std::fs::write(
            r.join("var/lib/dhcp/dhclient.eth0.leases"),
            "option dhcp-server-identifier 192.0.2.2;\noption netbios-name-servers 192.0.2.7;\n",
        )
        .unwrap();
        let h = SystemHost::with_root(r).snapshot();
        assert_eq!(h.dns, vec!["192.0.2.53".parse::<IpAddr>().unwrap()]);
        assert_eq!(h.dhcp, vec!["192.0.2.2".parse::<IpAddr>().unwrap()]);
        assert_eq!(h.wins, vec!["192.0.2.7".parse::<IpAddr>().unwrap()]);
        assert!(h.me.is_empty() && h.gateway.is_empty());
    }
}
