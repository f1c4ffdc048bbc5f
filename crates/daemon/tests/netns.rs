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

#[test]
fn tunnel_esp_cbc_sha256_between_subnets() {
    if !can_run() {
        return;
    }
    let ts = Some(("10.63.1.0/24", "10.63.2.0/24"));
    let l = lab(
        "tun",
        ("10.62.0.1", "10.62.0.2"),
        24,
        "tunnel",
        ts,
        "esp",
        "aes256-sha256",
        false,
    );
    let cap = Capture::start(&l.pair.b, "vb", &l.dir.0.join("wire.pcap"));
    l.pair
        .exec(&l.pair.a, "ping -c 3 -i 0.2 -W 2 -I 10.63.1.1 10.63.2.1");
    let got = common::udp_roundtrip(
        &l.pair.a,
        &l.pair.b,
        "10.63.2.1",
        7001,
        "through-the-tunnel",
    );
    assert_eq!(got, "through-the-tunnel");
    // Traffic between the gateways themselves is not covered by the tunnel's selectors.
    assert!(l.pair.try_exec(&l.pair.a, "ping -c 1 -W 2 10.62.0.2"));
    let pcap = cap.stop();
    let k = keys(&l);
    let esp = count(&pcap, &k, "esp");
    assert!(esp >= 7, "{esp}");
    assert_eq!(count(&pcap, &k, "esp.icv_good == 1"), esp);
    // Outer header: gateway to gateway; inner: subnet to subnet.
    assert_eq!(
        count(
            &pcap,
            &k,
            "esp && ip.src == 10.62.0.1 && ip.src == 10.63.1.1 && icmp.type == 8"
        ),
        3
    );
    assert_eq!(
        count(&pcap, &k, "ip.addr == 10.63.2.1 && !esp"),
        0,
        "inner hosts in clear"
    );
}

#[test]
fn esp_in_udp_4500_transport() {
    if !can_run() {
        return;
    }
    let l = lab(
        "encap",
        ("10.64.0.1", "10.64.0.2"),
        24,
        "transport",
        None,
        "esp",
        "aes128gcm16",
        true,
    );
    let cap = Capture::start(&l.pair.b, "vb", &l.dir.0.join("wire.pcap"));
    l.pair.exec(&l.pair.a, "ping -c 3 -i 0.2 -W 2 10.64.0.2");
    let got = common::udp_roundtrip(&l.pair.b, &l.pair.a, "10.64.0.1", 7002, "back-over-4500");
    assert_eq!(got, "back-over-4500");
    let pcap = cap.stop();
    let k = keys(&l);
    let esp = count(&pcap, &k, "esp");
    assert!(esp >= 7, "{esp}");
    assert_eq!(
        count(
            &pcap,
            &k,
            "esp && udp.srcport == 4500 && udp.dstport == 4500"
        ),
        esp
    );
    assert_eq!(
        count(&pcap, &k, "ip.proto == 50"),
        0,
        "no raw ESP when encapsulating"
    );
    assert_eq!(count(&pcap, &k, "esp.icv_good == 1"), esp);
    assert_eq!(count(&pcap, &k, "esp && icmp.type == 8"), 3);
}

#[test]
fn ah_transport_sha256() {
    if !can_run() {
        return;
    }
    let l = lab(
        "ah",
        ("10.65.0.1", "10.65.0.2"),
        24,
        "transport",
        None,
        "ah",
        "sha256",
        false,
    );
    let cap = Capture::start(&l.pair.b, "vb", &l.dir.0.join("wire.pcap"));
    l.pair.exec(&l.pair.a, "ping -c 3 -i 0.2 -W 2 10.65.0.2");
    let pcap = cap.stop();
    // AH authenticates without encrypting: the ICMP is readable, but only behind AH.
    let ah = count(&pcap, "", "ah");
    assert_eq!(ah, 6, "3 requests and 3 replies under AH");
    assert_eq!(count(&pcap, "", "icmp && !ah"), 0);
    assert_eq!(
        count(&pcap, "", "ah.spi == 0x00001100 && icmp.type == 8"),
        3
    );
    let sb = l.b.stop();
    assert_eq!(sb["opened"], 3, "{sb}");
}

#[test]
/// (AES-GCM: Debian 12's tshark, Wireshark 4.0, cannot decrypt ChaCha20-Poly1305 ESP; the esp
/// crate checks ChaCha20 against RFC 7634's packet instead.)
fn ipv6_transport_esp_aes256gcm() {
    if !can_run() {
        return;
    }
    let l = lab(
        "v6",
        ("fd00:66::1", "fd00:66::2"),
        64,
        "transport",
        None,
        "esp",
        "aes256gcm16",
        false,
    );
    let cap = Capture::start(&l.pair.b, "vb", &l.dir.0.join("wire.pcap"));
    l.pair
        .exec(&l.pair.a, "ping -6 -c 3 -i 0.2 -W 2 fd00:66::2");
    let got = common::udp_roundtrip(&l.pair.a, &l.pair.b, "fd00:66::2", 7003, "v6-datagram");
    assert_eq!(got, "v6-datagram");
    let pcap = cap.stop();
    let k = keys(&l);
    let esp = count(&pcap, &k, "esp");
    assert!(esp >= 7, "{esp}");
    assert_eq!(count(&pcap, &k, "esp.icv_good == 1"), esp);
    assert_eq!(count(&pcap, &k, "esp && icmpv6.type == 128"), 3);
    assert_eq!(
        count(
            &pcap,
            &k,
            "(icmpv6.type == 128 || udp.port == 7003) && !esp"
        ),
        0
    );
}

#[test]
fn a_wrong_key_passes_nothing_and_is_counted() {
    if !can_run() {
        return;
    }
    let pair = Pair::new(&["10.67.0.1/24"], &["10.67.0.2/24"]);
    let dir = Scratch::new("wrongkey");
    let cfg_a = sa(
        "wk",
        "transport",
        "10.67.0.1",
        "10.67.0.2",
        None,
        "esp",
        "aes128gcm16",
        false,
        (0x1100, 0x2200),
        (1, 2),
    );
    // b expects a different key for what a sends.
    let cfg_b = sa(
        "wk",
        "transport",
        "10.67.0.2",
        "10.67.0.1",
        None,
        "esp",
        "aes128gcm16",
        false,
        (0x2200, 0x1100),
        (2, 9),
    );
    let a = Daemon::start(&pair.a, &cfg_a, &dir.0.join("a"));
    let b = Daemon::start(&pair.b, &cfg_b, &dir.0.join("b"));
    let cap = Capture::start(&pair.b, "vb", &dir.0.join("wire.pcap"));
    assert!(!pair.try_exec(&pair.a, "ping -c 3 -i 0.2 -W 1 10.67.0.2"));
    let got = common::udp_roundtrip(&pair.a, &pair.b, "10.67.0.2", 7004, "must-not-arrive");
    assert_eq!(got, "", "a datagram crossed with the wrong key");
    let pcap = cap.stop();
    // Fail closed: nothing was sent in the clear instead.
    assert_eq!(count(&pcap, "", "icmp || udp.port == 7004"), 0);
    let sb = b.stop();
    assert_eq!(sb["opened"], 0, "{sb}");
    assert!(sb["esp_errors"].as_u64().unwrap() >= 4, "{sb}");
    drop(a);
}

#[test]
/// Bulk TCP through an ESP-in-UDP tunnel: the data plane sends UDP GSO buffers of many ESP
/// packets. With GSO segmented in software before the veth (gso_max_segs 1), the capture
/// shows the datagrams as a wire carries them: every one a whole ESP packet whose ICV
/// tshark verifies. Then the same without segmenting, so the buffers reach the peer's
/// socket whole (UDP GRO) and are opened segment by segment.
fn esp_in_udp_tunnel_gso_batches_are_valid_esp_on_the_wire() {
    if !can_run() {
        return;
    }
    let ts = Some(("10.69.1.0/24", "10.69.2.0/24"));
    let l = lab(
        "gso",
        ("10.68.0.1", "10.68.0.2"),
        24,
        "tunnel",
        ts,
        "esp",
        "aes128gcm16",
        true,
    );
    l.pair.exec(&l.pair.a, "ip link set va gso_max_segs 1");
    let cap = Capture::start(&l.pair.b, "vb", &l.dir.0.join("wire.pcap"));
    l.pair.exec(&l.pair.b, "iperf3 -s -1 -D -B 10.69.2.1");
    std::thread::sleep(std::time::Duration::from_millis(300));
    l.pair.exec(
        &l.pair.a,
        "iperf3 -c 10.69.2.1 -B 10.69.1.1 -n 8M --connect-timeout 3000",
    );
    let pcap = cap.stop();
    let k = keys(&l);
    // (tcpdump may miss frames when the machine is busy; every frame it has must be valid.)
    let esp = count(&pcap, &k, "esp && ip.src == 10.68.0.1");
    assert!(
        esp > 500,
        "expected a bulk transfer in ESP, saw {esp} frames"
    );
    assert_eq!(
        count(&pcap, &k, "esp.icv_good == 1 && ip.src == 10.68.0.1"),
        esp,
        "every ICV good"
    );
    assert_eq!(
        count(
            &pcap,
            &k,
            "esp && udp.srcport == 4500 && udp.dstport == 4500"
        ),
        count(&pcap, &k, "esp")
    );
    assert_eq!(count(&pcap, &k, "frame.len > 1514"), 0, "oversized frames");
    assert!(count(&pcap, &k, "esp && tcp.dstport == 5201 && tcp.len > 1000") > 500);
    assert_eq!(
        count(&pcap, &k, "tcp && !esp"),
        0,
        "cleartext TCP on the wire"
    );

    // Unsegmented: whole GSO buffers to the peer's socket, opened segment by segment.
    l.pair.exec(&l.pair.a, "ip link set va gso_max_segs 65535");
    let before = l.b.fresh_stats();
    l.pair.exec(&l.pair.b, "iperf3 -s -1 -D -B 10.69.2.1");
    std::thread::sleep(std::time::Duration::from_millis(300));
    l.pair.exec(
        &l.pair.a,
        "iperf3 -c 10.69.2.1 -B 10.69.1.1 -n 8M --connect-timeout 3000",
    );
    let after = l.b.stop();
    // (iperf3 -n counts what the client sent; the tail may still be in flight at the end.)
    let opened = after["opened"].as_u64().unwrap() - before["opened"].as_u64().unwrap();
    assert!(opened > 2000, "{before} {after}");
    assert_eq!(after["esp_errors"], 0, "{after}");
    assert_eq!(after["malformed"], 0, "{after}");
    assert_eq!(after["selector"], 0, "{after}");
}
