//! oakleyd end to end with manually keyed SAs: two hosts in network namespaces, real
//! traffic (ping, TCP, UDP), a capture on the link between them, and tshark decrypting the
//! capture with the keys the daemons exported. Proves that what crosses the wire is ESP (or
//! AH) and that the peer's data plane accepted it. IKE-negotiated SAs replace the manual
//! keys when the daemon learns IKE.

mod common;

use common::{Capture, Daemon, Pair, Scratch, can_run, tshark};

/// A manual-keying entry for one side; keys are derived from `seed` at the length the
/// proposal needs, so both sides agree.
#[allow(clippy::too_many_arguments)]
fn sa(
    name: &str,
    mode: &str,
    local: &str,
    remote: &str,
    ts: Option<(&str, &str)>,
    protocol: &str,
    proposal: &str,
    encap: bool,
    spis: (u32, u32),
    seeds: (u8, u8),
) -> String {
    let len = if protocol == "ah" {
        daemon::algorithms::integrity(proposal).unwrap().key_len
    } else {
        let s = daemon::algorithms::esp_suite(proposal).unwrap();
        s.encryption.keymat_len + s.integrity.map_or(0, |i| i.key_len)
    };
    let key = |seed: u8| -> String {
        (0..len)
            .map(|i| format!("{:02x}", (i as u8).wrapping_mul(7).wrapping_add(seed)))
            .collect()
    };
    let ts = ts
        .map(|(l, r)| format!("local_ts = \"{l}\"\nremote_ts = \"{r}\"\n"))
        .unwrap_or_default();
    format!(
        "[[sa]]\nname = \"{name}\"\nmode = \"{mode}\"\nlocal = \"{local}\"\nremote = \"{remote}\"\n{ts}\
         protocol = \"{protocol}\"\nproposal = \"{proposal}\"\nencap = {encap}\n\
         out_spi = {}\nin_spi = {}\nout_key = \"{}\"\nin_key = \"{}\"\n",
        spis.0,
        spis.1,
        key(seeds.0),
        key(seeds.1)
    )
}

struct Lab {
    pair: Pair,
    a: Daemon,
    b: Daemon,
    dir: Scratch,
}

/// Two hosts, each with the mirror image of one SA pair.
#[allow(clippy::too_many_arguments)]
fn lab(
    tag: &str,
    addrs: (&str, &str),
    prefix: u8,
    mode: &str,
    ts: Option<(&str, &str)>,
    protocol: &str,
    proposal: &str,
    encap: bool,
) -> Lab {
    let (a_ip, b_ip) = addrs;
    let pair = Pair::new(
        &[&format!("{a_ip}/{prefix}")],
        &[&format!("{b_ip}/{prefix}")],
    );
    if let Some((l, r)) = ts {
        // The tunnel's inner hosts live on each side's loopback.
        let host = |net: &str| net.replace(".0/24", ".1/32");
        pair.exec(&pair.a, &format!("ip addr add {} dev lo", host(l)));
        pair.exec(&pair.b, &format!("ip addr add {} dev lo", host(r)));
    }
    let dir = Scratch::new(tag);
    let cfg_a = sa(
        tag,
        mode,
        a_ip,
        b_ip,
        ts,
        protocol,
        proposal,
        encap,
        (0x1100, 0x2200),
        (1, 2),
    );
    let cfg_b = sa(
        tag,
        mode,
        b_ip,
        a_ip,
        ts.map(|(l, r)| (r, l)),
        protocol,
        proposal,
        encap,
        (0x2200, 0x1100),
        (2, 1),
    );
    let a = Daemon::start(&pair.a, &cfg_a, &dir.0.join("a"));
    let b = Daemon::start(&pair.b, &cfg_b, &dir.0.join("b"));
    Lab { pair, a, b, dir }
}

fn count(pcap: &std::path::Path, keys: &str, filter: &str) -> usize {
    tshark(pcap, keys, filter, &["frame.number"]).len()
}

fn keys(l: &Lab) -> String {
    std::fs::read_to_string(l.a.state.join("esp_sa")).unwrap_or_default()
}

#[test]
fn transport_esp_gcm_ipv4_ping_tcp_udp() {
    if !can_run() {
        return;
    }
    let l = lab(
        "tgcm",
        ("10.61.0.1", "10.61.0.2"),
        24,
        "transport",
        None,
        "esp",
        "aes128gcm16",
        false,
    );
    let cap = Capture::start(&l.pair.b, "vb", &l.dir.0.join("wire.pcap"));
    l.pair.exec(&l.pair.a, "ping -c 4 -i 0.2 -W 2 10.61.0.2");
    // TCP both ways through iperf3 (a short fixed-size transfer), UDP through socat.
    l.pair.exec(&l.pair.b, "iperf3 -s -1 -D -B 10.61.0.2");
    std::thread::sleep(std::time::Duration::from_millis(300));
    l.pair.exec(
        &l.pair.a,
        "iperf3 -c 10.61.0.2 -n 2M --connect-timeout 3000",
    );
    let got = common::udp_roundtrip(&l.pair.a, &l.pair.b, "10.61.0.2", 7777, "oakley-udp");
    assert_eq!(got, "oakley-udp");
    let pcap = cap.stop();
    let k = keys(&l);
    let esp = count(&pcap, &k, "esp");
    assert!(esp >= 8, "expected ESP frames, saw {esp}");
    assert_eq!(count(&pcap, &k, "esp.icv_good == 1"), esp, "every ICV good");
    // ICMP and TCP cross the wire only inside ESP.
    assert_eq!(
        count(&pcap, &k, "(icmp || tcp || udp.port == 7777) && !esp"),
        0,
        "cleartext on the wire"
    );
    assert_eq!(
        count(&pcap, &k, "esp && udp.dstport == 7777"),
        1,
        "the UDP datagram decrypted"
    );
    assert_eq!(
        count(&pcap, &k, "esp && icmp.type == 8"),
        4,
        "4 echo requests decrypted"
    );
    assert!(
        count(&pcap, &k, "esp && tcp.dstport == 5201") > 10,
        "iperf3 TCP decrypted"
    );
    let (sa, sb) = (l.a.stop(), l.b.stop());
    assert!(sa["sealed"].as_u64().unwrap() >= 4, "{sa}");
    assert!(sb["opened"].as_u64().unwrap() >= 4, "{sb}");
    assert_eq!(sb["esp_errors"], 0, "{sb}");
    assert_eq!(sb["selector"], 0, "{sb}");
}
