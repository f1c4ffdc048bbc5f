//! Decodes every IKE message of the strongSwan captures in tests/fixtures with Oakley's
//! parsers (link, IPv4, UDP, RFC 3948 marker, IKEv1 or IKEv2) and compares each with the
//! line tshark's dissector produced for it (tests/fixtures/README.md describes both).

use std::fs;
use std::path::{Path, PathBuf};

use pcap_file::pcap::PcapReader;
use wire::{ikev1, ikev2, ipv4, natt, udp};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Strips the link header of one frame.
fn ip_of(linktype: u32, frame: &[u8]) -> Option<&[u8]> {
    match linktype {
        // Ethernet: skip 802.1Q tags, then expect IPv4.
        1 => {
            let mut off = 12;
            while frame.get(off..off + 2)? == [0x81, 0x00] {
                off += 4;
            }
            (frame.get(off..off + 2)? == [0x08, 0x00]).then(|| &frame[off + 2..])
        }
        // Linux cooked capture v1 (16-byte header) and v2 (20-byte header).
        113 => (frame.get(14..16)? == [0x08, 0x00]).then(|| &frame[16..]),
        276 => (frame.get(0..2)? == [0x08, 0x00]).then(|| &frame[20..]),
        other => panic!("unsupported link type {other}"),
    }
}

/// Formats a message the way scripts/fixtures/expect.py formats tshark's decode.
fn describe(frame: usize, sport: u16, dport: u16, marker: bool, ike: &[u8]) -> String {
    let mut f = vec![
        format!("frame={frame}"),
        format!("sport={sport}"),
        format!("dport={dport}"),
        format!("marker={}", u8::from(marker)),
    ];
    let version = ike.get(17).copied().expect("ike header");
    let mut extra = Vec::new();
    if version >> 4 == 2 {
        let m = ikev2::Message::parse(ike).unwrap_or_else(|e| panic!("frame {frame}: {e}"));
        let h = m.header;
        f.extend(header_fields(
            h.spi_i,
            h.spi_r,
            h.next_payload,
            h.version,
            h.exchange,
            h.flags,
            h.message_id,
            h.length,
        ));
        let types: Vec<String> = m.payloads.iter().map(|p| p.ty().to_string()).collect();
        f.push(format!("payloads={}", types.join(",")));
        let mut seen_sa = false;
        let mut nat = Vec::new();
        for p in &m.payloads {
            match p {
                ikev2::Payload::Sa(sa) if !seen_sa => {
                    seen_sa = true;
                    for prop in &sa.proposals {
                        let tf: Vec<String> = prop
                            .transforms
                            .iter()
                            .map(|t| match t.key_length() {
                                Some(k) => format!("{}:{}:{}", t.ty, t.id, k),
                                None => format!("{}:{}", t.ty, t.id),
                            })
                            .collect();
                        extra.push(format!(
                            "prop={}/{}/{}/{}",
                            prop.number,
                            prop.protocol,
                            spi(&prop.spi),
                            tf.join("+")
                        ));
                    }
                }
                ikev2::Payload::Notify(n) => {
                    extra.push(format!("notify={}", n.ty));
                    if matches!(
                        n.ty,
                        ikev2::notify::NAT_DETECTION_SOURCE_IP
                            | ikev2::notify::NAT_DETECTION_DESTINATION_IP
                    ) {
                        nat.push(format!("nat_d={}", hex(&n.data)));
                    }
                }
                ikev2::Payload::VendorId(v) => extra.push(format!("vid={}", hex(v))),
                ikev2::Payload::Skf(s) => extra.push(format!("frag={}/{}", s.number, s.total)),
                _ => {}
            }
        }
        extra.extend(nat);
    } else {
        let m = ikev1::Message::parse(ike).unwrap_or_else(|e| panic!("frame {frame}: {e}"));
        let h = m.header;
        f.extend(header_fields(
            h.spi_i,
            h.spi_r,
            h.next_payload,
            h.version,
            h.exchange,
            h.flags,
            h.message_id,
            h.length,
        ));
        match &m.body {
            ikev1::Body::Encrypted(_) => f.push("payloads=E".into()),
            ikev1::Body::Payloads(ps) => {
                let types: Vec<String> = ps.iter().map(|p| p.ty().to_string()).collect();
                f.push(format!("payloads={}", types.join(",")));
                let mut seen_sa = false;
                for p in ps {
                    match p {
                        ikev1::Payload::Sa(sa) if !seen_sa => {
                            seen_sa = true;
                            for prop in &sa.proposals {
                                let tf: Vec<String> = prop
                                    .transforms
                                    .iter()
                                    .map(|t| {
                                        let attrs: Vec<String> = t
                                            .attributes
                                            .iter()
                                            .map(|a| {
                                                format!(
                                                    "{}={}",
                                                    a.ty,
                                                    a.as_u64().expect("numeric attribute")
                                                )
                                            })
                                            .collect();
                                        format!("{}:{}:{}", t.number, t.id, attrs.join(";"))
                                    })
                                    .collect();
                                extra.push(format!(
                                    "prop={}/{}/{}/{}",
                                    prop.number,
                                    prop.protocol,
                                    spi(&prop.spi),
                                    tf.join("+")
                                ));
                            }
                        }
                        ikev1::Payload::Notify(n) => extra.push(format!("notify={}", n.ty)),
                        ikev1::Payload::VendorId(v) => extra.push(format!("vid={}", hex(v))),
                        ikev1::Payload::NatD { hash, .. } => {
                            extra.push(format!("nat_d={}", hex(hash)))
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    f.extend(extra);
    f.join(" ")
}

fn spi(s: &[u8]) -> String {
    if s.is_empty() { "-".into() } else { hex(s) }
}

#[allow(clippy::too_many_arguments)]
fn header_fields(
    si: u64,
    sr: u64,
    np: u8,
    ver: u8,
    exch: u8,
    flags: u8,
    mid: u32,
    len: u32,
) -> Vec<String> {
    vec![
        format!("ispi={si:016x}"),
        format!("rspi={sr:016x}"),
        format!("np={np}"),
        format!("ver={ver:x}"),
        format!("exch={exch}"),
        format!("flags={flags:02x}"),
        format!("msgid={mid}"),
        format!("len={len}"),
    ]
}

/// Every IKE message of one capture, described.
fn decode(pcap: &Path) -> Vec<String> {
    let mut reader =
        PcapReader::new(fs::File::open(pcap).expect("open pcap")).expect("pcap header");
    let linktype: u32 = reader.header().datalink.into();
    let mut out = Vec::new();
    let mut n = 0;
    while let Some(pkt) = reader.next_packet() {
        n += 1;
        let pkt = pkt.expect("pcap record");
        let Some(ip) = ip_of(linktype, &pkt.data) else {
            continue;
        };
        let ip = ipv4::Packet::new_checked(ip).expect("ipv4");
        assert!(ip.verify_checksum(), "frame {n}: ipv4 checksum");
        if ip.protocol() != wire::ip::UDP {
            continue;
        }
        let u = udp::Packet::new_checked(ip.payload()).expect("udp");
        // No UDP checksum check: frames sent by the capturing namespace carry only the
        // pseudo-header sum (checksum offload on the veth).
        let (sport, dport) = (u.src_port(), u.dst_port());
        let (ike, marker) = if sport == natt::NATT_PORT || dport == natt::NATT_PORT {
            match natt::classify(u.payload()).expect("rfc 3948 payload") {
                natt::Encapsulated::Ike(b) => (b, true),
                _ => continue,
            }
        } else {
            (u.payload(), false)
        };
        out.push(describe(n, sport, dport, marker, ike));
    }
    out
}

#[test]
fn strongswan_captures_match_tshark() {
    let mut captures = 0;
    let mut messages = 0;
    let mut entries: Vec<_> = fs::read_dir(fixtures())
        .expect("fixtures dir")
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for pcap in entries
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
    {
        let expect_path = pcap.with_extension("expect");
        let expect = fs::read_to_string(&expect_path)
            .unwrap_or_else(|_| panic!("{} has no .expect", pcap.display()));
        let want: Vec<&str> = expect
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .collect();
        let got = decode(pcap);
        assert_eq!(got.len(), want.len(), "{}: message count", pcap.display());
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g, w, "{}", pcap.display());
        }
        captures += 1;
        messages += got.len();
    }
    // Both versions, the exchanges the README lists: a lost capture must fail the test.
    assert!(captures >= 7, "only {captures} captures");
    assert!(messages >= 70, "only {messages} messages");
}
