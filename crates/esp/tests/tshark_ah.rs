//! AH judged from outside Oakley. Wireshark's AH dissector holds no keys, so two judges
//! share the work: tshark parses every packet Oakley sealed (SPI, sequence, ICV length,
//! the protected payload behind AH, and ESP decrypted inside an ESP+AH bundle), and an
//! ICV recomputed here with a different HMAC implementation (ring) over the packet with
//! the RFC 4302 §3.3.3.1 mutable fields zeroed must equal the ICV tshark extracted.
//! scripts/test.sh installs tshark.

use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::Command;

use crypto::registry::{self, encr, integ};
use esp::ah::{AhInbound, AhOutbound};
use esp::framing::{self, Outer, Received};
use esp::keyexport::wireshark_esp_sa;
use esp::replay::ReplayWindow;
use esp::{Inbound, Outbound, Transform};
use wire::{ip, ipv4, ipv6, udp};

const V4: (Ipv4Addr, Ipv4Addr) = (Ipv4Addr::new(10, 78, 0, 1), Ipv4Addr::new(10, 78, 0, 2));

fn v6() -> (Ipv6Addr, Ipv6Addr) {
    ("fd00:78::1".parse().unwrap(), "fd00:78::2".parse().unwrap())
}

fn l4(n: usize, s: IpAddr, d: IpAddr) -> Vec<u8> {
    let payload = format!("oakley ah datagram {n}").into_bytes();
    let mut u = vec![0u8; 8 + payload.len()];
    udp::Repr {
        src_port: 40000,
        dst_port: 9999,
        payload_len: payload.len(),
    }
    .emit(&mut u)
    .unwrap();
    u[8..].copy_from_slice(&payload);
    udp::Packet::new_checked(&mut u[..])
        .unwrap()
        .fill_checksum(s, d)
        .unwrap();
    u
}

fn datagram_v4(n: usize, (s, d): (Ipv4Addr, Ipv4Addr)) -> Vec<u8> {
    let u = l4(n, s.into(), d.into());
    let mut p = vec![0u8; 20];
    ipv4::Repr {
        src: s,
        dst: d,
        protocol: ip::UDP,
        payload_len: u.len(),
        ttl: 64,
        dscp_ecn: 0x10,
        ident: n as u16,
        dont_frag: true,
    }
    .emit(&mut p)
    .unwrap();
    p.extend_from_slice(&u);
    p
}

/// IPv6 with a hop-by-hop header carrying one mutable option (type 0x3e) and one
/// immutable option (type 0x1e, padded), so both kinds meet the ICV.
fn datagram_v6(n: usize) -> Vec<u8> {
    let (s, d) = v6();
    let u = l4(n, s.into(), d.into());
    let hbh = [ip::UDP, 1, 0x3e, 4, 1, 2, 3, 4, 0x1e, 2, 7, 7, 1, 2, 0, 0];
    let mut p = vec![0u8; 40];
    ipv6::Repr {
        src: s,
        dst: d,
        next_header: ip::HOPOPT,
        payload_len: hbh.len() + u.len(),
        hop_limit: 64,
        traffic_class: 0x20,
        flow_label: 0x12345,
    }
    .emit(&mut p)
    .unwrap();
    p.extend_from_slice(&hbh);
    p.extend_from_slice(&u);
    p
}

fn pcap(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&101u32.to_le_bytes()); // LINKTYPE_RAW
    for (i, f) in frames.iter().enumerate() {
        for v in [i as u32, 0, f.len() as u32, f.len() as u32] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(f);
    }
    out
}

/// One line per frame: the fields asked for, tab-separated.
fn fields(dir: &std::path::Path, cap: &std::path::Path, names: &[&str]) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.env("XDG_CONFIG_HOME", dir)
        .env("HOME", dir)
        .args(["-n", "-r"])
        .arg(cap)
        .args([
            "-o",
            "esp.enable_encryption_decode:TRUE",
            "-o",
            "esp.enable_authentication_check:TRUE",
            "-o",
            "ip.check_checksum:TRUE",
            "-o",
            "udp.check_checksum:TRUE",
            "-T",
            "fields",
            "-E",
            "separator=/t",
        ]);
    for n in names {
        cmd.args(["-e", n]);
    }
    let out = cmd
        .output()
        .expect("tshark is not installed: run scripts/test.sh, which installs it");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

/// The AH ICV recomputed from scratch: mutable IP fields, mutable IPv6 option data and the
/// ICV field zeroed, then HMAC over the whole packet (RFC 4302 §3.3.3).
fn independent_icv(pkt: &[u8], alg: ring::hmac::Algorithm, key: &[u8], icv_len: usize) -> Vec<u8> {
    let mut z = pkt.to_vec();
    let ah_at = if z[0] >> 4 == 4 {
        let hl = usize::from(z[0] & 0x0f) * 4;
        z[1] = 0; // TOS
        z[6] = 0; // flags, fragment offset
        z[7] = 0;
        z[8] = 0; // TTL
        z[10] = 0; // header checksum
        z[11] = 0;
        assert_eq!(z[9], ip::AH);
        hl
    } else {
        z[0] &= 0xf0; // traffic class, flow label
        z[1] = 0;
        z[2] = 0;
        z[3] = 0;
        z[7] = 0; // hop limit
        let mut next = z[6];
        let mut at = 40;
        while next != ip::AH {
            assert_eq!(next, ip::HOPOPT, "only hop-by-hop before AH here");
            let len = (usize::from(z[at + 1]) + 1) * 8;
            let mut o = at + 2;
            while o < at + len {
                if z[o] == 0 {
                    o += 1;
                    continue;
                }
                let ol = usize::from(z[o + 1]);
                if z[o] & 0x20 != 0 {
                    z[o + 2..o + 2 + ol].fill(0);
                }
                o += 2 + ol;
            }
            next = z[at];
            at += len;
        }
        at
    };
    // Only the ICV is zeroed; alignment padding after it counts as sent.
    z[ah_at + 12..ah_at + 12 + icv_len].fill(0);
    let tag = ring::hmac::sign(&ring::hmac::Key::new(alg, key), &z);
    tag.as_ref()[..icv_len].to_vec()
}

struct Frame {
    bytes: Vec<u8>,
    spi: u32,
    seq: u32,
    alg: ring::hmac::Algorithm,
    key: Vec<u8>,
    icv_len: usize,
    /// The ESP SPI inside (bundle), if any.
    esp: bool,
}

#[test]
fn tshark_parses_ah_and_the_icv_matches_an_independent_hmac() {
    let dir = std::env::temp_dir().join(format!("oakley-ah-tshark-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("wireshark")).unwrap();
    let suites = [
        (
            integ::HMAC_SHA1_96,
            ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        ),
        (integ::HMAC_SHA2_256_128, ring::hmac::HMAC_SHA256),
        (integ::HMAC_SHA2_512_256, ring::hmac::HMAC_SHA512),
    ];
    let mut frames: Vec<Frame> = Vec::new();
    let mut esp_table = String::new();
    for (k, (id, ring_alg)) in suites.into_iter().enumerate() {
        let alg = registry::integrity(id).unwrap();
        let key: Vec<u8> = (0..alg.key_len).map(|b| (b * 5 + k) as u8).collect();
        let spi = 0x3100 + k as u32;
        let mut tx = AhOutbound::new(spi, false, alg, &key).unwrap();
        let mut rx = AhInbound::new(spi, ReplayWindow::new(64, false).unwrap(), alg, &key).unwrap();
        let (os, od) = V4;
        let packets: Vec<(Vec<u8>, bool)> = vec![
            (datagram_v4(1, V4), true),
            (datagram_v6(2), true),
            (
                datagram_v4(3, (Ipv4Addr::new(10, 1, 0, 1), Ipv4Addr::new(10, 2, 0, 1))),
                false,
            ),
        ];
        for (i, (inner, transport)) in packets.into_iter().enumerate() {
            let mut out = vec![0u8; inner.len() + 200];
            let n = if transport {
                tx.seal_transport(&inner, &mut out).unwrap()
            } else {
                tx.seal_tunnel(&inner, Outer::V4(os, od), &mut out).unwrap()
            };
            out.truncate(n);
            let mut copy = out.clone();
            match rx.open(&mut copy, transport).unwrap() {
                Received::Packet { range, .. } => assert_eq!(&copy[range], &inner[..]),
                other => panic!("{other:?}"),
            }
            frames.push(Frame {
                bytes: out,
                spi,
                seq: i as u32 + 1,
                alg: ring_alg,
                key: key.clone(),
                icv_len: alg.icv_len,
                esp: false,
            });
        }
        // ESP+AH bundle in transport mode: ESP (AES-GCM) first, AH outside it.
        let e = registry::encryption(encr::AES_GCM_16, Some(128)).unwrap();
        let keymat: Vec<u8> = (0..e.keymat_len).map(|b| (b * 11 + k) as u8).collect();
        let esp_spi = 0x4100 + k as u32;
        let mut esp_tx = Outbound::new(esp_spi, false, Transform::new(e, &keymat, None).unwrap());
        let mut esp_rx = Inbound::new(
            esp_spi,
            ReplayWindow::new(64, false).unwrap(),
            Transform::new(e, &keymat, None).unwrap(),
        );
        esp_table.push_str(
            &wireshark_esp_sa(IpAddr::V4(os), IpAddr::V4(od), esp_spi, &e, &keymat, None).unwrap(),
        );
        esp_table.push('\n');
        let original = datagram_v4(4, V4);
        let mut esp_pkt = vec![0u8; 300];
        let n = framing::seal_transport(&mut esp_tx, &original, None, &mut esp_pkt).unwrap();
        let mut out = vec![0u8; 400];
        let m = tx.seal_transport(&esp_pkt[..n], &mut out).unwrap();
        out.truncate(m);
        let mut copy = out.clone();
        let Received::Packet { range, .. } = rx.open(&mut copy, true).unwrap() else {
            panic!()
        };
        let mut inner = copy[range].to_vec();
        let Received::Packet { range, .. } = framing::open(&mut esp_rx, &mut inner, true).unwrap()
        else {
            panic!()
        };
        assert_eq!(&inner[range], &original[..]);
        frames.push(Frame {
            bytes: out,
            spi,
            seq: 4,
            alg: ring_alg,
            key,
            icv_len: alg.icv_len,
            esp: true,
        });
    }
    fs::write(dir.join("wireshark/esp_sa"), esp_table).unwrap();
    let cap = dir.join("ah.pcap");
    fs::write(
        &cap,
        pcap(&frames.iter().map(|f| f.bytes.clone()).collect::<Vec<_>>()),
    )
    .unwrap();
    let rows = fields(
        &dir,
        &cap,
        &[
            "ah.spi",
            "ah.sequence",
            "ah.icv",
            "udp.dstport",
            "udp.checksum.status",
            "esp.icv_good",
            "ip.checksum.status",
        ],
    );
    assert_eq!(rows.len(), frames.len(), "one line per frame");
    for (i, (f, row)) in frames.iter().zip(&rows).enumerate() {
        let ctx = format!("frame {}: {row:?}", i + 1);
        assert_eq!(row[0], format!("0x{:08x}", f.spi), "{ctx}");
        assert_eq!(row[1], f.seq.to_string(), "{ctx}");
        // tshark prints the whole ICV field (with any IPv6 alignment padding).
        let tshark_icv: String = row[2].replace(':', "");
        let ours: String = independent_icv(&f.bytes, f.alg, &f.key, f.icv_len)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(
            tshark_icv.starts_with(&ours),
            "{ctx}: independent ICV {ours} is not what tshark found"
        );
        // The protected datagram is visible behind AH (decrypted first when ESP is inside).
        assert!(row[3].split(',').any(|p| p == "9999"), "{ctx}");
        assert_eq!(row[4], "1", "{ctx}: inner UDP checksum good");
        if f.esp {
            assert_eq!(row[5], "1", "{ctx}: ESP inside AH authenticated");
        }
        // IPv4 header checksums good (status 1); IPv6 frames have none.
        assert!(row[6].split(',').all(|s| s.is_empty() || s == "1"), "{ctx}");
    }
    // The judge can say no: a key that differs in one byte gives another ICV.
    let f = &frames[0];
    let mut wrong = f.key.clone();
    wrong[0] ^= 1;
    assert_ne!(
        independent_icv(&f.bytes, f.alg, &wrong, f.icv_len),
        independent_icv(&f.bytes, f.alg, &f.key, f.icv_len)
    );
    let _ = fs::remove_dir_all(&dir);
}
