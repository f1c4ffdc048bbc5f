#![no_main]
//! ICMP parsing and the too-big builders fed arbitrary "offending" packets: every output
//! that builds must parse back with a valid checksum.
use libfuzzer_sys::fuzz_target;
use std::net::{Ipv4Addr, Ipv6Addr};
use wire::{icmp, ipv4, ipv6};

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = icmp::Packet::new_checked(data) {
        let _ = (p.msg_type(), p.v6_mtu(), p.data(), p.verify_v4());
    }
    let mut out = [0u8; 1400];
    if let Ok(n) = icmp::build_v4_frag_needed(data, Ipv4Addr::new(10, 0, 0, 1), 1400, &mut out) {
        let ip = ipv4::Packet::new_checked(&out[..n]).expect("built ipv4");
        assert!(ip.verify_checksum());
        assert!(icmp::Packet::new_checked(ip.payload()).expect("icmp").verify_v4());
    }
    if let Ok(n) = icmp::build_v6_packet_too_big(data, Ipv6Addr::LOCALHOST, 1280, &mut out) {
        let ip = ipv6::Packet::new_checked(&out[..n]).expect("built ipv6");
        let m = icmp::Packet::new_checked(ip.payload()).expect("icmpv6");
        assert!(m.verify_v6(ip.src(), ip.dst()));
    }
});
