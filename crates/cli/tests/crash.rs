//! Crash test: a writer (`oakley -f`, one atomic store write per command) is SIGKILLed at
//! random points, many times. The store must always load, and never lose a write that
//! completed (the filter count never goes down).

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::Oakley;
use policy::store::{FileStore, PolicySource, StoreLocation};

/// xorshift64: a fixed seed makes a failure reproducible; the seed is printed.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn sigkilled_writer_never_leaves_a_broken_store() {
    let o = Oakley::new();
    o.ok(&["static", "add", "policy", "name=P", "assign=yes"]);
    o.ok(&[
        "static",
        "add",
        "filteraction",
        "name=F",
        "action=negotiate",
    ]);
    // Only commands that cannot fail when repeated, so every run writes from line 1.
    let mut script = String::new();
    for i in 0..300u32 {
        script.push_str(&format!(
            "add filter filterlist=L srcaddr=10.{}.{}.1 dstaddr=any protocol=TCP dstport={}\n",
            i / 200,
            i % 200,
            1000 + i
        ));
        if i % 50 == 0 {
            script.push_str(&format!(
                "set filteraction name=F description=\"pass {i}\" qmpfs={}\n",
                if i % 100 == 0 { "yes" } else { "no" }
            ));
        }
    }
    let path = o.write("writer.netsh", &script);
    let store = FileStore::open(o.dir.path(), StoreLocation::Local);

    let seed = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x05ee_d0a4_b1e7_u64);
    println!("CRASH_SEED={seed}");
    let mut rng = seed;
    let iterations = std::env::var("CRASH_ITERATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    let start = Instant::now();
    let mut last = 0usize;
    let mut killed_mid_run = 0;
    for i in 0..iterations {
        let mut child = o
            .cmd()
            .arg("-f")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Anywhere from process start-up to well into the run of writes.
        std::thread::sleep(Duration::from_micros(next(&mut rng) % 250_000));
        // Child::kill sends SIGKILL on Unix: no destructor or signal handler runs.
        if child.try_wait().unwrap().is_none() {
            killed_mid_run += 1;
        }
        let _ = child.kill();
        child.wait().unwrap();

        let s = store
            .load()
            .unwrap_or_else(|e| panic!("iteration {i} (seed {seed}): store does not load: {e}"));
        let n = s.filter_list("L").map_or(0, |l| l.filters.len());
        assert!(
            n >= last,
            "iteration {i}: {n} filters after {last}: a completed write was lost"
        );
        last = n;
        // Keep the store small so a run stays long compared with the kill window.
        if n > 500 {
            o.ok(&["static", "delete", "filterlist", "name=L"]);
            last = 0;
        }
        if start.elapsed() > Duration::from_secs(50) {
            println!("stopping after {} iterations (time budget)", i + 1);
            break;
        }
    }
    println!(
        "killed mid-run {killed_mid_run} times, {:?}",
        start.elapsed()
    );
    assert!(
        killed_mid_run > iterations / 4,
        "the writer finished before most kills; the test proves little"
    );
    // The CLI reads the survivor too.
    o.ok(&["static", "show", "all"]);
    // Killed writers' temporary files are cleaned up by the next successful write.
    o.ok(&["static", "add", "filterlist", "name=final"]);
    let leftovers: Vec<_> = std::fs::read_dir(o.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp."))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
