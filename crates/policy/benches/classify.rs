//! Per-packet classification cost with 10, 1,000 and 100,000 generic filters (each
//! mirrored, so twice as many specific filters per direction). Target: the cost at
//! 100,000 within 3x of the cost at 10.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use policy::resolver::HostConfig;
use policy::{
    Address, AuthMethod, Classifier, ConnectionType, Direction, Filter, FilterAction, FilterList,
    Packet, Policy, Protocol, Rule, Store, StoreLocation, compile,
};

const ME: [u8; 4] = [10, 0, 0, 5];

fn ip(a: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(a))
}

/// Deterministic pseudo-random numbers (xorshift64).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// `n` filters in four shapes an administrator writes: this host to a server port, this
/// host to a subnet, host to host (gateway or monitoring rules), and a subnet pair.
fn store(n: usize, rng: &mut Rng) -> Store {
    let mut filters = Vec::with_capacity(n);
    for i in 0..n {
        let r = rng.next();
        let a = 0xac10_0000 | (r as u32 & 0xffff); // 172.16.0.0/16
        let mut f = match i % 4 {
            0 => {
                let mut f = Filter::new(Address::Me, Address::host(ip(a)));
                f.protocol = Protocol::Number(Protocol::TCP);
                f.dst_port = 1 + (r >> 20) as u16 % 60_000;
                f
            }
            1 => Filter::new(
                Address::Me,
                Address::Ip {
                    addr: ip(0x0b00_0000 | (r as u32 & 0xffff00)),
                    prefix: 24,
                },
            ),
            2 => Filter::new(
                Address::host(ip(0xc0a8_0000 | (r as u32 & 0xffff))),
                Address::host(ip(a)),
            ),
            _ => Filter::new(
                Address::Ip {
                    addr: ip(0x0c00_0000 | (r as u32 & 0xffff0000) >> 8),
                    prefix: 16,
                },
                Address::Ip {
                    addr: ip(0x0d00_0000 | (r as u32 & 0xffff) << 8),
                    prefix: 16,
                },
            ),
        };
        f.mirrored = true;
        filters.push(f);
    }
    let mut s = Store::default();
    s.filter_lists.push(FilterList {
        name: "L".into(),
        description: String::new(),
        filters,
        last_modified: 0,
    });
    s.filter_actions.push(FilterAction::new("A", 0));
    let mut p = Policy::new("P", 0);
    p.rules.push(Rule {
        name: "R".into(),
        description: String::new(),
        filter_list: "L".into(),
        filter_action: "A".into(),
        auth: vec![AuthMethod::Kerberos],
        tunnel: None,
        conn_type: ConnectionType::All,
        active: true,
    });
    s.policies.push(p);
    s.assigned = Some("P".into());
    s
}

/// Half the packets hit a filter of the store (chosen at random), half miss everything.
fn packets(c: &Classifier, rng: &mut Rng, count: usize) -> Vec<Packet> {
    let filters = &c.compiled().filters;
    (0..count)
        .map(|i| {
            let r = rng.next();
            if i % 2 == 0 {
                let f = &filters[8 + (r as usize % (filters.len() - 8))];
                let pick = |p: &policy::Prefix| match p.ip() {
                    IpAddr::V4(v4) => ip(u32::from(v4)
                        | (r as u32
                            & !(u32::MAX
                                .checked_shl(32 - u32::from(p.family_len()))
                                .unwrap_or(0)))),
                    v6 => v6,
                };
                Packet {
                    src: pick(&f.src),
                    dst: pick(&f.dst),
                    protocol: f.protocol.unwrap_or(Protocol::TCP),
                    src_port: f.src_port.unwrap_or(40_000),
                    dst_port: f.dst_port.unwrap_or(443),
                    direction: f.direction,
                }
            } else {
                Packet {
                    src: ip(0x0a00_0005),
                    dst: ip(0xc633_6400 | (r as u32 & 0xff)),
                    protocol: Protocol::UDP,
                    src_port: 40_000,
                    dst_port: (r >> 16) as u16,
                    direction: if r & 1 == 0 {
                        Direction::Outbound
                    } else {
                        Direction::Inbound
                    },
                }
            }
        })
        .collect()
}

fn classify(c: &mut Criterion) {
    let mut g = c.benchmark_group("classify");
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(2));
    let host = HostConfig {
        me: vec![IpAddr::from(ME)],
        ..HostConfig::default()
    };
    for n in [10usize, 1_000, 100_000] {
        let mut rng = Rng(0x0a4b_1e75_eed5 ^ n as u64);
        let s = store(n, &mut rng);
        let classifier = Classifier::new(compile(&[(Some(StoreLocation::Local), &s)], &host));
        let batch = packets(&classifier, &mut rng, 1024);
        eprintln!(
            "{n} generic filters: {} specific, {} shapes",
            classifier.compiled().filters.len(),
            classifier.shapes()
        );
        g.throughput(Throughput::Elements(batch.len() as u64));
        g.bench_with_input(BenchmarkId::new("filters", n), &batch, |b, batch| {
            b.iter(|| {
                let mut hits = 0usize;
                for p in batch {
                    hits += usize::from(classifier.classify(black_box(p)).is_some());
                }
                hits
            })
        });
    }
    g.finish();
}

criterion_group!(benches, classify);
criterion_main!(benches);
