#![no_main]
//! The IKEv2 engine's message handling against live state: two endpoints establish an IKE
//! SA and a child SA, then the input becomes datagrams to the responder: raw bytes on port
//! 500 or 4500, real messages of the exchange, or arbitrary inner payload chains wrapped
//! in a correctly encrypted SK payload (keys from the engine's Wireshark key export), so
//! the handlers behind decryption see hostile payloads too. Nothing may panic.
use std::net::SocketAddr;
use std::time::Duration;

use crypto::registry::{self, Keyed};
use crypto::Secret;
use ike::{AuthMethod, ChildSuite, Endpoint, EndpointConfig, IkeSuite, Lifetime, Mode, Output, PeerConfig, Time};
use libfuzzer_sys::fuzz_target;
use wire::ikev2::{Encrypted, Header, Identification, Message, Payload, TrafficSelector};

struct Counter(u64);
impl ike::Rng for Counter {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            *b = (self.0 >> 33) as u8;
        }
    }
}

fn peer(local: &str, remote: &str, l: &str, r: &str) -> PeerConfig {
    let (local, remote): (SocketAddr, SocketAddr) = (local.parse().unwrap(), remote.parse().unwrap());
    let ts = |s: &str| TrafficSelector::any_between(s.parse().unwrap(), s.parse().unwrap());
    PeerConfig {
        name: "fuzz".into(),
        local,
        remote,
        local_id: Identification::address(local.ip()),
        remote_id: None,
        auth: AuthMethod::Psk(Secret::from_slice(b"fuzz")),
        ike_suites: vec![IkeSuite { encr: 20, key_bits: Some(128), prf: 5, integ: None, dh: 31 }],
        child_suites: vec![ChildSuite { encr: 20, key_bits: Some(128), integ: None, dh: Some(31), esn: false }],
        local_ts: vec![ts(l)],
        remote_ts: vec![ts(r)],
        mode: Mode::Tunnel,
        ike_lifetime: Lifetime::around(Duration::from_secs(3600)),
        child_lifetime: Lifetime::around(Duration::from_secs(3600)),
        dpd: Some(Duration::from_secs(30)),
        force_encap: false,
    }
}

/// A live pair: returns the responder, its rng, the messages exchanged and the
/// initiator-to-responder SK_ei (key and salt) with the SPIs.
fn live() -> (Endpoint, Counter, Vec<Vec<u8>>, Vec<u8>, u64, u64) {
    let cfg = EndpointConfig { export_keys: true, ..EndpointConfig::default() };
    let (mut ra, mut rb) = (Counter(1), Counter(2));
    let mut a = Endpoint::new(cfg.clone(), vec![peer("10.0.0.1:500", "10.0.0.2:500", "10.1.0.1", "10.2.0.1")], &mut ra);
    let mut b = Endpoint::new(cfg, vec![peer("10.0.0.2:500", "10.0.0.1:500", "10.2.0.1", "10.1.0.1")], &mut rb);
    a.acquire(Time::ZERO, 0, None, &mut ra);
    let (mut wire, mut key) = (Vec::new(), String::new());
    for _ in 0..8 {
        let mut moved = false;
        while let Some(o) = a.poll_output() {
            if let Output::Transmit(t) = o {
                wire.push(t.bytes.clone());
                b.handle_datagram(Time::ZERO, t.from, t.to, &t.bytes, &mut rb);
                moved = true;
            }
        }
        while let Some(o) = b.poll_output() {
            match o {
                Output::Transmit(t) => {
                    wire.push(t.bytes.clone());
                    a.handle_datagram(Time::ZERO, t.from, t.to, &t.bytes, &mut ra);
                    moved = true;
                }
                Output::KeyExport(line) => key = line,
                _ => {}
            }
        }
        if !moved {
            break;
        }
    }
    let f: Vec<&str> = key.split(',').collect();
    let spi = |s: &str| u64::from_str_radix(s, 16).unwrap_or(0);
    let sk_ei = f.get(2).and_then(|h| hex_decode(h)).unwrap_or_default();
    (b, rb, wire, sk_ei, spi(f.first().copied().unwrap_or("0")), spi(f.get(1).copied().unwrap_or("0")))
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// An initiator request carrying `inner` (a payload chain starting with `first`) in a
/// valid AES-GCM SK payload.
fn sealed(sk_ei: &[u8], spi_i: u64, spi_r: u64, exchange: u8, id: u32, first: u8, inner: &[u8]) -> Option<Vec<u8>> {
    let e = registry::encryption(20, Some(128)).ok()?;
    if sk_ei.len() != e.keymat_len {
        return None;
    }
    let Keyed::Aead(aead) = e.key(sk_ei).ok()? else { return None };
    let header = Header { spi_i, spi_r, next_payload: 0, version: 0x20, exchange, flags: 0x08, message_id: id, length: 0 };
    let body = 8 + inner.len() + 1 + 16;
    let mut out = Message { header, payloads: vec![Payload::Sk(Encrypted { first_inner: first, data: vec![0; body] })] }
        .emit()
        .ok()?;
    let off = Message::encrypted_offset(&out).ok()??;
    let iv = (u64::from(id) + 1000).to_be_bytes();
    out[off..off + 8].copy_from_slice(&iv);
    let end = out.len();
    out[off + 8..off + 8 + inner.len()].copy_from_slice(inner);
    let mut nonce = [0u8; 12];
    nonce[..4].copy_from_slice(&sk_ei[16..20]);
    nonce[4..].copy_from_slice(&iv);
    let (head, tail) = out.split_at_mut(off + 8);
    let (ct, icv) = tail.split_at_mut(end - off - 8 - 16);
    aead.seal(&nonce, &head[..off], ct, icv).ok()?;
    Some(out)
}

fuzz_target!(|data: &[u8]| {
    let (mut b, mut rng, wire, sk_ei, spi_i, spi_r) = live();
    let from500: SocketAddr = "10.0.0.1:500".parse().unwrap();
    let to500: SocketAddr = "10.0.0.2:500".parse().unwrap();
    let (mut from, mut to) = (from500, to500);
    let mut rest = data;
    let mut id = 2u32;
    let mut now = Time::ZERO;
    while rest.len() >= 3 {
        let kind = rest[0];
        let len = usize::from(u16::from_be_bytes([rest[1], rest[2]])).min(rest.len() - 3);
        let chunk = &rest[3..3 + len];
        rest = &rest[3 + len..];
        match kind % 4 {
            0 => b.handle_datagram(now, from500, to500, chunk, &mut rng),
            1 => {
                from.set_port(4500);
                to.set_port(4500);
                b.handle_datagram(now, from, to, chunk, &mut rng)
            }
            2 if !chunk.is_empty() => {
                let exchange = 34 + (kind >> 2) % 4;
                if let Some(m) = sealed(&sk_ei, spi_i, spi_r, exchange, id, chunk[0], &chunk[1..]) {
                    b.handle_datagram(now, from500, to500, &m, &mut rng);
                    id += 1;
                }
            }
            3 if !wire.is_empty() => {
                let m = &wire[usize::from(kind >> 2) % wire.len()];
                b.handle_datagram(now, from500, to500, m, &mut rng);
            }
            _ => {}
        }
        now = now + Duration::from_millis(u64::from(kind) * 100);
        b.handle_timeout(now, &mut rng);
        while b.poll_output().is_some() {}
    }
});
