//! Shared test scaffolding: a seeded RNG and peer configurations.
#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crypto::Secret;
use ike::{AuthMethod, ChildSuite, IkeSuite, Lifetime, Mode, PeerConfig};
use wire::ikev2::{Identification, TrafficSelector};

/// SplitMix64: a small, seedable generator. Test-only; the daemon passes a CSPRNG.
pub struct SeededRng(pub u64);

impl SeededRng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, n).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

impl ike::Rng for SeededRng {
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next().to_be_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

pub fn net(a: &str, b: &str) -> TrafficSelector {
    TrafficSelector::any_between(a.parse::<IpAddr>().unwrap(), b.parse::<IpAddr>().unwrap())
}

pub const GCM128: IkeSuite = IkeSuite {
    encr: 20,
    key_bits: Some(128),
    prf: 5,
    integ: None,
    dh: 19,
};
pub const CBC256: IkeSuite = IkeSuite {
    encr: 12,
    key_bits: Some(256),
    prf: 5,
    integ: Some(12),
    dh: 31,
};

pub fn esp_gcm(pfs: Option<u16>) -> ChildSuite {
    ChildSuite {
        encr: 20,
        key_bits: Some(128),
        integ: None,
        dh: pfs,
        esn: false,
    }
}

pub fn esp_cbc(pfs: Option<u16>) -> ChildSuite {
    ChildSuite {
        encr: 12,
        key_bits: Some(256),
        integ: Some(12),
        dh: pfs,
        esn: false,
    }
}

/// A peer configuration from `local` to `remote`, protecting `lnet` to `rnet`.
#[allow(clippy::too_many_arguments)]
pub fn peer(
    local: SocketAddr,
    remote: SocketAddr,
    lnet: TrafficSelector,
    rnet: TrafficSelector,
    ike: Vec<IkeSuite>,
    esp: Vec<ChildSuite>,
    child_rekey: Duration,
    ike_rekey: Duration,
) -> PeerConfig {
    PeerConfig {
        name: format!("{remote}"),
        local,
        remote,
        local_id: Identification::address(local.ip()),
        remote_id: Some(Identification::address(remote.ip())),
        auth: AuthMethod::Psk(Secret::from_slice(b"simulated shared secret")),
        ike_suites: ike,
        child_suites: esp,
        local_ts: vec![lnet],
        remote_ts: vec![rnet],
        mode: Mode::Tunnel,
        ike_lifetime: Lifetime {
            rekey: ike_rekey,
            jitter: ike_rekey / 4,
            hard: ike_rekey * 2,
        },
        child_lifetime: Lifetime {
            rekey: child_rekey,
            jitter: child_rekey / 4,
            hard: child_rekey * 2,
        },
        dpd: Some(Duration::from_secs(30)),
        force_encap: false,
    }
}

use ike::{ChildSaInstall, Endpoint, EndpointConfig, Event, Output, Time};

/// Two endpoints on a perfect network (unless `filter` drops), for scenario tests.
pub struct Pair {
    pub a: Endpoint,
    pub b: Endpoint,
    pub ra: SeededRng,
    pub rb: SeededRng,
    pub now: Time,
    pub events_a: Vec<Event>,
    pub events_b: Vec<Event>,
    pub installed_a: Vec<ChildSaInstall>,
    pub installed_b: Vec<ChildSaInstall>,
    pub deleted_a: Vec<u32>,
    pub deleted_b: Vec<u32>,
    pub wire: Vec<(bool, Vec<u8>)>,
    pub keys_exported: usize,
    pub a_addr: SocketAddr,
    pub b_addr: SocketAddr,
    /// A sits behind a NAT with this public IP (ports shifted by 10000).
    pub nat: Option<IpAddr>,
}

pub fn sock(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

impl Pair {
    pub fn new(cfg: EndpointConfig, pa: PeerConfig, pb: PeerConfig) -> Self {
        let mut ra = SeededRng(1);
        let mut rb = SeededRng(2);
        let (a_addr, b_addr) = (pa.local, pb.local);
        Self {
            a: Endpoint::new(cfg.clone(), vec![pa], &mut ra),
            b: Endpoint::new(cfg, vec![pb], &mut rb),
            ra,
            rb,
            now: Time::ZERO,
            events_a: Vec::new(),
            events_b: Vec::new(),
            installed_a: Vec::new(),
            installed_b: Vec::new(),
            deleted_a: Vec::new(),
            deleted_b: Vec::new(),
            wire: Vec::new(),
            keys_exported: 0,
            a_addr,
            b_addr,
            nat: None,
        }
    }

    /// Runs until `until`, delivering datagrams after 1 ms unless `drop(from_a, bytes)`.
    pub fn run(&mut self, until: Time, mut drop: impl FnMut(bool, &[u8]) -> bool) {
        let mut queue: Vec<(Time, bool, SocketAddr, SocketAddr, Vec<u8>)> = Vec::new();
        loop {
            for from_a in [true, false] {
                loop {
                    let o = if from_a {
                        self.a.poll_output()
                    } else {
                        self.b.poll_output()
                    };
                    let Some(o) = o else { break };
                    match o {
                        Output::Transmit(t) => {
                            self.wire.push((from_a, t.bytes.clone()));
                            if !drop(from_a, &t.bytes) {
                                let (mut f, mut to) = (t.from, t.to);
                                if let Some(ip) = self.nat {
                                    if from_a {
                                        f = SocketAddr::new(ip, f.port() + 10_000);
                                    } else {
                                        to = SocketAddr::new(self.a_addr.ip(), to.port() - 10_000);
                                    }
                                }
                                queue.push((
                                    self.now + std::time::Duration::from_millis(1),
                                    from_a,
                                    f,
                                    to,
                                    t.bytes,
                                ));
                            }
                        }
                        Output::InstallChild(c) => {
                            if from_a {
                                self.installed_a.push(*c)
                            } else {
                                self.installed_b.push(*c)
                            }
                        }
                        Output::DeleteChild(d) => {
                            if from_a {
                                self.deleted_a.push(d.inbound_spi)
                            } else {
                                self.deleted_b.push(d.inbound_spi)
                            }
                        }
                        Output::Event(e) => {
                            if from_a {
                                self.events_a.push(e)
                            } else {
                                self.events_b.push(e)
                            }
                        }
                        Output::KeyExport(_) => self.keys_exported += 1,
                    }
                }
            }
            let next = [
                queue.iter().map(|q| q.0).min(),
                self.a.next_timeout(),
                self.b.next_timeout(),
            ]
            .into_iter()
            .flatten()
            .min();
            let Some(next) = next else { return };
            if next > until {
                self.now = until;
                return;
            }
            self.now = self.now.max(next);
            if let Some(i) = queue.iter().position(|q| q.0 <= self.now) {
                let (_, from_a, from, to, bytes) = queue.remove(i);
                if from_a {
                    self.b
                        .handle_datagram(self.now, from, to, &bytes, &mut self.rb);
                } else {
                    self.a
                        .handle_datagram(self.now, from, to, &bytes, &mut self.ra);
                }
                continue;
            }
            self.a.handle_timeout(self.now, &mut self.ra);
            self.b.handle_timeout(self.now, &mut self.rb);
        }
    }

    /// Children alive at A (installed, not deleted) match those at B.
    pub fn live(&self) -> (Vec<&ChildSaInstall>, Vec<&ChildSaInstall>) {
        let a = self
            .installed_a
            .iter()
            .filter(|c| !self.deleted_a.contains(&c.inbound_spi))
            .collect();
        let b = self
            .installed_b
            .iter()
            .filter(|c| !self.deleted_b.contains(&c.inbound_spi))
            .collect();
        (a, b)
    }
}

/// The standard pair of peer configurations (A initiates to B).
pub fn pair_configs() -> (PeerConfig, PeerConfig) {
    let (a, b) = (sock("10.0.0.1:500"), sock("10.0.0.2:500"));
    let hour = Duration::from_secs(3600);
    (
        peer(
            a,
            b,
            net("10.1.0.0", "10.1.0.255"),
            net("10.2.0.0", "10.2.0.255"),
            vec![GCM128],
            vec![esp_gcm(None)],
            hour,
            hour,
        ),
        peer(
            b,
            a,
            net("10.2.0.0", "10.2.0.255"),
            net("10.1.0.0", "10.1.0.255"),
            vec![GCM128],
            vec![esp_gcm(None)],
            hour,
            hour,
        ),
    )
}
