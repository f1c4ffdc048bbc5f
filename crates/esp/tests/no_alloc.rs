//! No heap allocation per packet: a counting global allocator around seal + open of many
//! packets in caller buffers. (It counts Rust allocations; aws-lc's C code is judged by
//! its own design: keys are expanded once, contexts live on the stack.)

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use crypto::registry::{self, encr, integ};
use esp::replay::ReplayWindow;
use esp::{Inbound, Outbound, Transform};

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.with(|a| a.set(a.get() + 1));
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations<F: FnMut()>(mut f: F) -> u64 {
    let before = ALLOCS.with(Cell::get);
    f();
    ALLOCS.with(Cell::get) - before
}

fn check(e: u16, bits: Option<u16>, i: Option<u16>) -> u64 {
    let e = registry::encryption(e, bits).unwrap();
    let key = vec![0x33u8; e.keymat_len];
    let ia = i.map(|id| registry::integrity(id).unwrap());
    let ikey = ia.map(|a| vec![0x44u8; a.key_len]).unwrap_or_default();
    let mk = || Transform::new(e, &key, ia.map(|a| (a, ikey.as_slice()))).unwrap();
    // GMAC's ESN path shifts bytes in place; run it with ESN to hold that to no allocation.
    let esn = e.is_auth_only();
    let mut tx = Outbound::new(0x3000, esn, mk());
    let mut rx = Inbound::new(0x3000, ReplayWindow::new(1024, esn).unwrap(), mk());
    let payload = vec![0x5au8; 1400];
    let mut buf = vec![0u8; 1400 + tx.overhead(1400)];
    // Warm up once outside the measurement (lazy statics, CPU feature detection).
    let n = tx.seal(4, &payload, &mut buf).unwrap();
    rx.open(&mut buf[..n]).unwrap();
    allocations(|| {
        for _ in 0..1000 {
            let n = tx.seal(4, &payload, &mut buf).unwrap();
            let o = rx.open(&mut buf[..n]).unwrap();
            assert_eq!(o.payload.len(), 1400);
        }
    })
}

#[test]
fn seal_and_open_do_not_allocate() {
    // The counter sees allocations at all (so a zero below means something).
    assert!(allocations(|| drop(std::hint::black_box(vec![1u8; 64]))) >= 1);
    assert_eq!(check(encr::AES_GCM_16, Some(128), None), 0, "AES-128-GCM");
    assert_eq!(check(encr::AES_GCM_16, Some(256), None), 0, "AES-256-GCM");
    assert_eq!(
        check(encr::CHACHA20_POLY1305, None, None),
        0,
        "ChaCha20-Poly1305"
    );
    assert_eq!(check(encr::AES_GCM_12, Some(128), None), 0, "AES-GCM-12");
    assert_eq!(
        check(encr::AES_CBC, Some(128), Some(integ::HMAC_SHA1_96)),
        0,
        "AES-CBC + SHA1"
    );
    assert_eq!(
        check(encr::AES_CTR, Some(256), Some(integ::HMAC_SHA2_256_128)),
        0,
        "AES-CTR + SHA256"
    );
    assert_eq!(
        check(encr::NULL_AUTH_AES_GMAC, Some(128), None),
        0,
        "AES-GMAC with ESN"
    );
    assert_eq!(
        check(encr::TRIPLE_DES, None, Some(integ::HMAC_MD5_96)),
        0,
        "3DES + MD5"
    );
}

/// IPv6 with a hop-by-hop header holding a mutable option (the case AH must zero), over UDP.
fn v6_hbh_datagram(payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; 40];
    let l4_len = 8 + payload.len();
    p[0] = 0x60;
    p[4..6].copy_from_slice(&((8 + l4_len) as u16).to_be_bytes());
    p[6] = wire::ip::HOPOPT;
    p[7] = 64;
    p[8..24].copy_from_slice(
        &"2001:db8::1"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    p[24..40].copy_from_slice(
        &"2001:db8::2"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    p.extend_from_slice(&[wire::ip::UDP, 0, 0x3e, 4, 9, 9, 9, 9]);
    p.extend_from_slice(&1u16.to_be_bytes());
    p.extend_from_slice(&2u16.to_be_bytes());
    p.extend_from_slice(&(l4_len as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(payload);
    p
}

#[test]
fn whole_packet_paths_do_not_allocate() {
    use esp::ah::{AhInbound, AhOutbound};
    use esp::framing::{Outer, Received, open, seal_tunnel};

    let inner = v6_hbh_datagram(&[0x77u8; 1200]);
    let mut buf = vec![0u8; 2048];
    // AH transport over IPv6 with a mutable option to zero.
    let alg = registry::integrity(integ::HMAC_SHA2_256_128).unwrap();
    let key = [0x55u8; 32];
    let mut ah_tx = AhOutbound::new(0x4000, false, alg, &key).unwrap();
    let mut ah_rx =
        AhInbound::new(0x4000, ReplayWindow::new(1024, false).unwrap(), alg, &key).unwrap();
    let n = ah_tx.seal_transport(&inner, &mut buf).unwrap();
    ah_rx.open(&mut buf[..n], true).unwrap();
    let ah = allocations(|| {
        for _ in 0..500 {
            let n = ah_tx.seal_transport(&inner, &mut buf).unwrap();
            assert!(matches!(
                ah_rx.open(&mut buf[..n], true),
                Ok(Received::Packet { .. })
            ));
        }
    });
    assert_eq!(ah, 0, "AH transport, IPv6 with options");

    // ESP tunnel, IPv6 inner in IPv4 outer, UDP-encapsulated.
    let e = registry::encryption(encr::AES_GCM_16, Some(128)).unwrap();
    let k = vec![0x33u8; e.keymat_len];
    let mut tx = Outbound::new(0x3001, false, Transform::new(e, &k, None).unwrap());
    let mut rx = Inbound::new(
        0x3001,
        ReplayWindow::new(1024, false).unwrap(),
        Transform::new(e, &k, None).unwrap(),
    );
    let outer = Outer::V4([10, 0, 0, 1].into(), [10, 0, 0, 2].into());
    let n = seal_tunnel(&mut tx, &inner, outer, Some((4500, 4500)), &mut buf).unwrap();
    open(&mut rx, &mut buf[..n], false).unwrap();
    let esp = allocations(|| {
        for _ in 0..500 {
            let n = seal_tunnel(&mut tx, &inner, outer, Some((4500, 4500)), &mut buf).unwrap();
            assert!(matches!(
                open(&mut rx, &mut buf[..n], false),
                Ok(Received::Packet { .. })
            ));
        }
    });
    assert_eq!(esp, 0, "ESP tunnel in UDP");
}
