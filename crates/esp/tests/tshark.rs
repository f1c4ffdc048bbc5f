//! tshark as an independent judge: ESP packets (tunnel and transport mode, raw and in UDP
//! 4500) sealed by Oakley for several
//! suites are written to a pcap with their keys exported in Wireshark's `esp_sa` format, and
//! tshark must decrypt every packet, find the inner UDP datagram and report the ICV good.
//! scripts/test.sh installs tshark.

use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;

use crypto::registry::{self, encr, integ};
use esp::framing::{self, Outer, Received};
use esp::keyexport::wireshark_esp_sa;
use esp::replay::ReplayWindow;
use esp::{Inbound, Outbound, Transform};
use wire::{ip, ipv4, udp};

const SUITES: &[(u16, Option<u16>, Option<u16>)] = &[
    (encr::AES_GCM_16, Some(128), None),
    (encr::AES_GCM_16, Some(256), None),
    (encr::AES_GCM_8, Some(128), None),
    (encr::AES_CBC, Some(128), Some(integ::HMAC_SHA1_96)),
    (encr::AES_CBC, Some(256), Some(integ::HMAC_SHA2_256_128)),
    (encr::AES_CTR, Some(128), Some(integ::HMAC_SHA2_256_128)),
    (encr::TRIPLE_DES, None, Some(integ::HMAC_SHA1_96)),
    (encr::AES_CBC, Some(192), Some(integ::HMAC_SHA2_512_256)),
    (encr::NULL, None, Some(integ::HMAC_SHA2_384_192)),
];
const PACKETS_PER_SA: usize = 3;

/// A UDP datagram to port 9999: between the tunnel's inner hosts, or (transport mode)
/// between the ESP endpoints themselves.
fn inner_packet(n: usize, transport: bool) -> Vec<u8> {
    let payload = format!("oakley test datagram {n}").into_bytes();
    let (s, d) = if transport {
        (Ipv4Addr::new(10, 77, 0, 1), Ipv4Addr::new(10, 77, 0, 2))
    } else {
        (Ipv4Addr::new(10, 1, 0, 1), Ipv4Addr::new(10, 2, 0, 1))
    };
    let mut p = vec![0u8; 20 + 8 + payload.len()];
    ipv4::Repr {
        src: s,
        dst: d,
        protocol: ip::UDP,
        payload_len: 8 + payload.len(),
        ttl: 64,
        dscp_ecn: 0,
        ident: n as u16,
        dont_frag: false,
    }
    .emit(&mut p)
    .unwrap();
    udp::Repr {
        src_port: 40000,
        dst_port: 9999,
        payload_len: payload.len(),
    }
    .emit(&mut p[20..])
    .unwrap();
    p[28..].copy_from_slice(&payload);
    let mut u = udp::Packet::new_checked(&mut p[20..]).unwrap();
    u.fill_checksum(s.into(), d.into()).unwrap();
    p
}

fn pcap(frames: &[Vec<u8>]) -> Vec<u8> {
    // pcap global header, LINKTYPE_RAW (101): each record is a bare IP packet.
    let mut out = Vec::new();
    for v in [
        0xa1b2_c3d4u32.to_le_bytes().as_slice(),
        &2u16.to_le_bytes(),
        &4u16.to_le_bytes(),
    ] {
        out.extend_from_slice(v);
    }
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&101u32.to_le_bytes());
    for (i, f) in frames.iter().enumerate() {
        out.extend_from_slice(&(i as u32).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(f);
    }
    out
}

fn count(dir: &std::path::Path, cap: &std::path::Path, filter: &str) -> usize {
    let out = Command::new("tshark")
        .env("XDG_CONFIG_HOME", dir)
        .env("HOME", dir)
        .args(["-n", "-r"])
        .arg(cap)
        .args([
            "-o",
            "esp.enable_encryption_decode:TRUE",
            "-o",
            "esp.enable_authentication_check:TRUE",
            "-Y",
            filter,
            "-T",
            "fields",
            "-e",
            "frame.number",
        ])
        .output()
        .expect("tshark is not installed: run scripts/test.sh, which installs it");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count()
}

#[test]
fn tshark_decrypts_and_authenticates_every_packet() {
    let dir = std::env::temp_dir().join(format!("oakley-esp-tshark-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("wireshark")).unwrap();
    let (src, dst) = (Ipv4Addr::new(10, 77, 0, 1), Ipv4Addr::new(10, 77, 0, 2));
    let mut frames = Vec::new();
    let mut table = String::new();
    for (k, &(e, bits, i)) in SUITES.iter().enumerate() {
        let spi = 0x0000_2000 + k as u32;
        let e = registry::encryption(e, bits).unwrap();
        let keymat: Vec<u8> = (0..e.keymat_len).map(|b| (b * 7 + k) as u8).collect();
        let ia = i.map(|id| registry::integrity(id).unwrap());
        let ikey: Vec<u8> = ia
            .map(|a| (0..a.key_len).map(|b| (b * 3 + k) as u8).collect())
            .unwrap_or_default();
        let mk = || Transform::new(e, &keymat, ia.map(|a| (a, ikey.as_slice()))).unwrap();
        let mut tx = Outbound::new(spi, false, mk());
        let mut rx = Inbound::new(spi, ReplayWindow::new(64, false).unwrap(), mk());
        let line = wireshark_esp_sa(
            IpAddr::V4(src),
            IpAddr::V4(dst),
            spi,
            &e,
            &keymat,
            ia.as_ref().map(|a| (a, ikey.as_slice())),
        )
        .expect("wireshark knows the suite");
        table.push_str(&line);
        table.push('\n');
        for n in 0..PACKETS_PER_SA {
            // Alternate raw ESP (protocol 50) with RFC 3948 UDP encapsulation on 4500, and
            // tunnel with transport mode, so tshark judges every framing.
            let encap = (k % 2 == 1).then_some((4500, 4500));
            let transport = n == 2;
            let inner = inner_packet(n, transport);
            let mut pkt = vec![0u8; inner.len() + 200];
            let len = if transport {
                framing::seal_transport(&mut tx, &inner, encap, &mut pkt).unwrap()
            } else {
                framing::seal_tunnel(&mut tx, &inner, Outer::V4(src, dst), encap, &mut pkt).unwrap()
            };
            pkt.truncate(len);
            // Oakley's own receiver agrees before tshark is asked.
            let mut copy = pkt.clone();
            match framing::open(&mut rx, &mut copy, transport).unwrap() {
                Received::Packet { range, .. } => assert_eq!(&copy[range], &inner[..]),
                other => panic!("{other:?}"),
            }
            frames.push(pkt);
        }
    }
    fs::write(dir.join("wireshark/esp_sa"), table).unwrap();
    let cap = dir.join("esp.pcap");
    fs::write(&cap, pcap(&frames)).unwrap();
    let total = frames.len();
    assert_eq!(
        count(&dir, &cap, "esp"),
        total,
        "tshark sees every ESP frame"
    );
    assert_eq!(count(&dir, &cap, "esp.icv_bad == 1"), 0, "no bad ICV");
    assert_eq!(
        count(&dir, &cap, "esp.icv_good == 1"),
        total,
        "every ICV good"
    );
    assert_eq!(
        count(&dir, &cap, "udp.dstport == 9999"),
        total,
        "every inner datagram decrypted"
    );
    // The judge can say no: with one byte of the first SA's key changed, that SA's packets
    // fail (and only those).
    let table = fs::read_to_string(dir.join("wireshark/esp_sa")).unwrap();
    let bad = table.replacen("\",\"0x00", "\",\"0xff", 1);
    assert_ne!(bad, table);
    fs::write(dir.join("wireshark/esp_sa"), bad).unwrap();
    assert_eq!(
        count(&dir, &cap, "esp.icv_good == 1"),
        total - PACKETS_PER_SA
    );
    let _ = fs::remove_dir_all(&dir);
    let _ = fs::remove_dir_all(&dir);
}
