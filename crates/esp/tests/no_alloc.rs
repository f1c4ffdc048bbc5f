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
    let mut tx = Outbound::new(0x3000, false, mk());
    let mut rx = Inbound::new(0x3000, ReplayWindow::new(1024, false).unwrap(), mk());
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
        check(encr::TRIPLE_DES, None, Some(integ::HMAC_MD5_96)),
        0,
        "3DES + MD5"
    );
}
