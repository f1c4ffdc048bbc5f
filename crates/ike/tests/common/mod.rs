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
