//! No heap allocation per packet in the data plane's batch work: a counting global
//! allocator around `Dataplane::outbound_batch` (48 segments, as one TSO super packet
//! gives) and `Dataplane::inbound_batch` opening them on the peer, for transport and tunnel
//! mode, raw and UDP-encapsulated, and the receive coalescer framing what was opened.
//! (The I/O threads reuse the buffers they start with.)

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::Ipv4Addr;

use daemon::dataplane::Dataplane;
use daemon::dataplane::batch::SealedBatch;
use daemon::dataplane::gro::Coalescer;
use daemon::manual::ManualConfig;
use wire::{ip, ipv4, udp};

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

fn side(a_side: bool, mode: &str, encap: bool) -> Dataplane {
    let (l, r, o, i, ok, ik) = if a_side {
        ("10.90.0.1", "10.90.0.2", 0x1001, 0x2002, "11", "22")
    } else {
        ("10.90.0.2", "10.90.0.1", 0x2002, 0x1001, "22", "11")
    };
    let ts = match (mode, a_side) {
        ("tunnel", true) => "local_ts = \"10.91.0.0/16\"\nremote_ts = \"10.92.0.0/16\"\n",
        ("tunnel", false) => "local_ts = \"10.92.0.0/16\"\nremote_ts = \"10.91.0.0/16\"\n",
        _ => "",
    };
    let text = format!(
        "[[sa]]\nname = \"t\"\nmode = \"{mode}\"\nlocal = \"{l}\"\nremote = \"{r}\"\n{ts}\
         proposal = \"aes128gcm16\"\nencap = {encap}\nout_spi = {o}\nin_spi = {i}\n\
         out_key = \"{}\"\nin_key = \"{}\"\n",
        ok.repeat(20),
        ik.repeat(20)
    );
    let cfg = ManualConfig::parse(&text, "test").unwrap();
    let dp = Dataplane::new();
    dp.install_manual(&cfg.sas[0], 1).unwrap();
    dp
}

fn packet(src: Ipv4Addr, dst: Ipv4Addr) -> Vec<u8> {
    let mut p = vec![0x5a; 1400];
    ipv4::Repr {
        src,
        dst,
        protocol: ip::UDP,
        payload_len: 1380,
        ttl: 64,
        dscp_ecn: 0,
        ident: 1,
        dont_frag: true,
    }
    .emit(&mut p[..20])
    .unwrap();
    udp::Repr {
        src_port: 999,
        dst_port: 5201,
        payload_len: 1372,
    }
    .emit(&mut p[20..])
    .unwrap();
    p
}

fn check(mode: &str, encap: bool) -> u64 {
    let (tx, rx) = (side(true, mode, encap), side(false, mode, encap));
    let (src, dst) = if mode == "tunnel" {
        (Ipv4Addr::new(10, 91, 0, 1), Ipv4Addr::new(10, 92, 0, 1))
    } else {
        (Ipv4Addr::new(10, 90, 0, 1), Ipv4Addr::new(10, 90, 0, 2))
    };
    let bufs = vec![packet(src, dst); 48];
    let sizes = vec![1400usize; 48];
    let mut sealed = SealedBatch::new(128, 2048);
    let mut scratch = vec![0u8; 2048];
    let mut gro = Coalescer::new();
    let mut frames = 0usize;
    let mut round = || {
        tx.outbound_batch(&bufs, &sizes, 0, &mut sealed);
        assert_eq!(sealed.len(), 48);
        let mut opener = rx.inbound_batch();
        for i in 0..sealed.len() {
            let p = sealed.packet(i);
            scratch[..p.len()].copy_from_slice(p);
            let r = opener.open(&mut scratch[..p.len()]).unwrap();
            assert_eq!(r.len(), 1400);
            gro.push(&scratch[r], &mut |f: &[u8]| frames += f.len());
        }
        gro.flush(&mut |f: &[u8]| frames += f.len());
    };
    round(); // warm-up: lazy statics, CPU feature detection
    allocations(|| {
        for _ in 0..50 {
            round();
        }
    })
}

#[test]
fn batches_allocate_nothing() {
    for (mode, encap) in [
        ("transport", false),
        ("transport", true),
        ("tunnel", false),
        ("tunnel", true),
    ] {
        assert_eq!(check(mode, encap), 0, "{mode}, encap {encap}");
    }
}
