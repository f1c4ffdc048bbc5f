//! Oakley's data plane against the Linux kernel's ESP/AH (XFRM) in a qemu guest: the
//! independent, most widely deployed implementation, for what strongSwan's user-space ESP
//! cannot show (transport mode, raw ESP, AH, IPv6). Manually keyed here, the same keys and
//! SPIs given to oakleyd and to `ip xfrm state`; every scenario runs in one boot. Proof that
//! the guest kernel did the work: its `ip -s xfrm state` packet counters for both directions
//! of every SA grow, its inbound policies drop anything that did not come through the SA,
//! and a capture on the link shows no cleartext.
//!
//! The guest images are built by scripts/kernel-peer/build.sh (minutes, once; cached in
//! /var/tmp/oakley-kernel-peer). Boot under TCG takes about half a minute.

mod common;
#[path = "kernel_peer/guest.rs"]
mod guest;

use std::fmt::Write;
use std::time::Duration;

use common::{Capture, Daemon, Scratch, can_run, sh, try_sh};
use guest::{Flavour, Guest};

/// One SA pair between the host (oakleyd) and the guest (kernel XFRM).
struct Scenario {
    name: &'static str,
    /// The guest's address for this scenario (transport) or its tunnel endpoint.
    guest: &'static str,
    host: &'static str,
    proposal: &'static str,
    ah: bool,
    encap: bool,
    /// Tunnel mode: (host subnet, guest subnet), each side's first address on its lo.
    tunnel: Option<(&'static str, &'static str)>,
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "esp-aes128gcm16",
        guest: "10.77.0.2",
        host: "10.77.0.1",
        proposal: "aes128gcm16",
        ah: false,
        encap: false,
        tunnel: None,
    },
    Scenario {
        name: "esp-aes256-sha256",
        guest: "10.77.0.3",
        host: "10.77.0.1",
        proposal: "aes256-sha256",
        ah: false,
        encap: false,
        tunnel: None,
    },
    Scenario {
        name: "esp-3des-sha1",
        guest: "10.77.0.4",
        host: "10.77.0.1",
        proposal: "3des-sha1",
        ah: false,
        encap: false,
        tunnel: None,
    },
    Scenario {
        name: "ah-sha256",
        guest: "10.77.0.5",
        host: "10.77.0.1",
        proposal: "sha256",
        ah: true,
        encap: false,
        tunnel: None,
    },
    Scenario {
        name: "esp-in-udp",
        guest: "10.77.0.6",
        host: "10.77.0.1",
        proposal: "aes128gcm16",
        ah: false,
        encap: true,
        tunnel: None,
    },
    Scenario {
        name: "esp-ipv6",
        guest: "fd00:77::2",
        host: "fd00:77::1",
        proposal: "aes128gcm16",
        ah: false,
        encap: false,
        tunnel: None,
    },
    Scenario {
        name: "esp-tunnel",
        guest: "10.77.0.7",
        host: "10.77.0.1",
        proposal: "aes256gcm16",
        ah: false,
        encap: false,
        tunnel: Some(("10.78.1.0/24", "10.78.2.0/24")),
    },
];

struct Keys {
    /// Host → guest and guest → host keying material (encryption keymat, then integrity).
    out: Vec<u8>,
    inn: Vec<u8>,
    enc_len: usize,
}

impl Scenario {
    fn spis(&self, i: usize) -> (u32, u32) {
        (0x3000 + i as u32, 0x4000 + i as u32)
    }

    fn keys(&self, i: usize) -> Keys {
        let (enc_len, int_len) = if self.ah {
            (
                0,
                daemon::algorithms::integrity(self.proposal)
                    .unwrap()
                    .key_len,
            )
        } else {
            let s = daemon::algorithms::esp_suite(self.proposal).unwrap();
            (
                s.encryption.keymat_len,
                s.integrity.map_or(0, |a| a.key_len),
            )
        };
        let make = |seed: usize| -> Vec<u8> {
            (0..enc_len + int_len)
                .map(|b| (b * 31 + seed * 17 + i * 5 + 3) as u8)
                .collect()
        };
        Keys {
            out: make(1),
            inn: make(2),
            enc_len,
        }
    }

    fn oakley(&self, i: usize) -> String {
        let k = self.keys(i);
        let (out_spi, in_spi) = self.spis(i);
        let mut s = format!(
            "[[sa]]\nname = \"{}\"\nmode = \"{}\"\nlocal = \"{}\"\nremote = \"{}\"\n",
            self.name,
            if self.tunnel.is_some() {
                "tunnel"
            } else {
                "transport"
            },
            self.host,
            self.guest
        );
        if let Some((h, g)) = self.tunnel {
            let _ = writeln!(s, "local_ts = \"{h}\"\nremote_ts = \"{g}\"");
        }
        let _ = write!(
            s,
            "protocol = \"{}\"\nproposal = \"{}\"\nencap = {}\nout_spi = {out_spi}\nin_spi = {in_spi}\nout_key = \"{}\"\nin_key = \"{}\"\n",
            if self.ah { "ah" } else { "esp" },
            self.proposal,
            self.encap,
            hex::encode(&k.out),
            hex::encode(&k.inn)
        );
        s
    }

    /// The algorithm arguments of `ip xfrm state` for one direction's key.
    fn xfrm_algs(&self, key: &[u8], k: &Keys) -> String {
        let (e, a) = key.split_at(k.enc_len);
        let hex = |b: &[u8]| format!("0x{}", hex::encode(b));
        match self.proposal {
            "aes128gcm16" | "aes256gcm16" => format!("aead 'rfc4106(gcm(aes))' {} 128", hex(e)),
            "aes256-sha256" => format!(
                "enc 'cbc(aes)' {} auth-trunc 'hmac(sha256)' {} 128",
                hex(e),
                hex(a)
            ),
            "3des-sha1" => format!(
                "enc 'cbc(des3_ede)' {} auth-trunc 'hmac(sha1)' {} 96",
                hex(e),
                hex(a)
            ),
            "sha256" => format!("auth-trunc 'hmac(sha256)' {} 128", hex(a)),
            p => panic!("no xfrm mapping for {p}"),
        }
    }

    /// Guest commands: addresses, both states and the policies that require them.
    fn xfrm(&self, i: usize) -> String {
        let k = self.keys(i);
        let (host_spi, guest_spi) = self.spis(i);
        let proto = if self.ah { "ah" } else { "esp" };
        let mode = if self.tunnel.is_some() {
            "tunnel"
        } else {
            "transport"
        };
        let encap = if self.encap {
            " encap espinudp 4500 4500 0.0.0.0"
        } else {
            ""
        };
        let (g, h) = (self.guest, self.host);
        let (gsel, hsel) = match self.tunnel {
            Some((hn, gn)) => (gn.to_owned(), hn.to_owned()),
            None => (g.to_owned(), h.to_owned()),
        };
        let mut s = String::new();
        // Host → guest uses the host's outbound SPI and key; guest → host the other pair.
        let _ = writeln!(
            s,
            "ip xfrm state add src {h} dst {g} proto {proto} spi {host_spi} mode {mode} {}{encap}",
            self.xfrm_algs(&k.out, &k)
        );
        let _ = writeln!(
            s,
            "ip xfrm state add src {g} dst {h} proto {proto} spi {guest_spi} mode {mode} {}{encap}",
            self.xfrm_algs(&k.inn, &k)
        );
        let _ = writeln!(
            s,
            "ip xfrm policy add src {gsel} dst {hsel} dir out priority 10 tmpl src {g} dst {h} proto {proto} mode {mode}"
        );
        let _ = writeln!(
            s,
            "ip xfrm policy add src {hsel} dst {gsel} dir in priority 10 tmpl src {h} dst {g} proto {proto} mode {mode}"
        );
        s
    }

    /// Source and destination of the test traffic (inner addresses in tunnel mode).
    fn traffic(&self) -> (String, String) {
        match self.tunnel {
            Some((hn, gn)) => (gn.replace(".0/24", ".1"), hn.replace(".0/24", ".1")),
            None => (self.guest.to_owned(), self.host.to_owned()),
        }
    }
}

fn guest_script() -> String {
    let mut s = String::from(
        "set -u\nip link set lo up\nip link set eth0 up\nip -6 addr add fd00:77::2/64 dev eth0 nodad\n",
    );
    for sc in SCENARIOS {
        if !sc.guest.contains(':') {
            let _ = writeln!(s, "ip addr add {}/24 dev eth0", sc.guest);
        }
        if let Some((_, gn)) = sc.tunnel {
            let _ = writeln!(s, "ip addr add {}/32 dev lo", gn.replace(".0/24", ".1"));
            let _ = writeln!(
                s,
                "ip route add {} via 10.77.0.1 src {}",
                sc.tunnel.unwrap().0,
                gn.replace(".0/24", ".1")
            );
        }
    }
    // Neighbour discovery passes outside IPsec (else no address resolves to send ESP to):
    // priority 1 beats the scenarios' 10 (lower wins).
    for t in 133..=137 {
        for dir in ["in", "out"] {
            let _ = writeln!(
                s,
                "ip xfrm policy add src ::/0 dst ::/0 proto ipv6-icmp type {t} dir {dir} priority 1"
            );
        }
    }
    // ESP-in-UDP needs a socket with UDP_ENCAP on port 4500: charon opens one (no
    // connections are loaded; the SAs stay the manual ones).
    s.push_str("mkdir -p /run/kp; printf 'charon {\\n load = random nonce openssl kernel-netlink socket-default\\n install_routes = no\\n}\\n' > /run/kp/strongswan.conf\n");
    s.push_str("STRONGSWAN_CONF=/run/kp/strongswan.conf /usr/lib/ipsec/charon > /host/charon.log 2>&1 &\nsleep 2\n");
    for (i, sc) in SCENARIOS.iter().enumerate() {
        s.push_str(&sc.xfrm(i));
    }
    s.push_str("ip xfrm state count; touch /host/ready\n");
    // The host pings every scenario first; then the guest pings back, each from its source.
    s.push_str("for i in $(seq 600); do [ -e /host/go ] && break; sleep 0.1; done\n");
    for sc in SCENARIOS {
        let (src, dst) = sc.traffic();
        let v6 = if dst.contains(':') { "-6 " } else { "" };
        let _ = writeln!(
            s,
            "if ping {v6}-c 3 -i 0.3 -W 3 -I {src} {dst} >/dev/null; then echo 'PING-OK {n}'; else echo 'PING-FAIL {n}'; fi",
            n = sc.name
        );
    }
    s.push_str("ip -s xfrm state > /host/xfrm-state.txt\nip xfrm state count\n");
    // For post-mortems: the kernel's own account of every XFRM drop.
    s.push_str(
        "cat /proc/net/xfrm_stat | grep -v ' 0$'; lsmod | grep -E '^(ah|esp)'; dmesg | tail -20\n",
    );
    s
}

/// Packets the guest kernel counted per SPI (`ip -s xfrm state`'s "lifetime current" line).
fn xfrm_packets(text: &str) -> std::collections::HashMap<u32, u64> {
    let mut out = std::collections::HashMap::new();
    let mut spi = None;
    for line in text.lines() {
        let t = line.trim();
        if let Some(rest) = t.split("spi ").nth(1).filter(|_| t.starts_with("proto ")) {
            spi = rest
                .split_whitespace()
                .next()
                .and_then(|x| x.split('(').next())
                .and_then(|x| u32::from_str_radix(x.trim_start_matches("0x"), 16).ok());
        }
        if t.contains("(bytes),") {
            if let (Some(s), Some(p)) = (spi, t.split("(bytes),").nth(1)) {
                let n = p
                    .trim()
                    .split('(')
                    .next()
                    .unwrap_or("0")
                    .trim()
                    .parse()
                    .unwrap_or(0);
                out.insert(s, n);
            }
        }
    }
    out
}

struct Ns(String);

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "ip netns pids {0} | xargs -r kill -9; ip netns del {0}",
                self.0
            ))
            .status();
    }
}

#[test]
fn oakley_manual_sas_against_the_linux_kernel() {
    if !can_run() {
        return;
    }
    guest::ensure_images();
    let ns = Ns(format!("oakkp{}", std::process::id()));
    sh(&format!("ip netns add {}", ns.0));
    sh(&format!("ip -n {} link set lo up", ns.0));
    let dir = Scratch::new("kpeer");
    let g = Guest::boot(
        &ns.0,
        "kt0",
        Flavour::StrongSwan,
        &dir.0.join("share"),
        &guest_script(),
    );
    sh(&format!("ip -n {} link set kt0 up", ns.0));
    sh(&format!("ip -n {} addr add 10.77.0.1/24 dev kt0", ns.0));
    sh(&format!(
        "ip -n {} addr add fd00:77::1/64 dev kt0 nodad",
        ns.0
    ));
    sh(&format!("ip -n {} addr add 10.78.1.1/32 dev lo", ns.0));
    let manual: String = SCENARIOS
        .iter()
        .enumerate()
        .map(|(i, s)| s.oakley(i))
        .collect();
    let d = Daemon::start(&ns.0, &manual, &dir.0.join("oakley"));
    let cap = Capture::start(&ns.0, "kt0", &dir.0.join("wire.pcap"));
    assert!(
        g.wait_for("ready", Duration::from_secs(240)),
        "guest did not come up\n{}",
        g.console()
    );
    // Host → guest, every scenario (the first packet also resolves ARP/ND).
    let mut failed = Vec::new();
    for sc in SCENARIOS {
        let (gsrc, hdst) = sc.traffic();
        let v6 = if gsrc.contains(':') { "-6 " } else { "" };
        if !try_sh(&format!(
            "ip netns exec {} ping {v6}-c 3 -i 0.3 -W 3 -I {hdst} {gsrc}",
            ns.0
        )) {
            failed.push(format!("host→guest {}", sc.name));
        }
    }
    std::fs::write(g.share.join("go"), "").unwrap();
    let (rc, log) = g.finish(Duration::from_secs(120));
    let pcap = cap.stop();
    assert_eq!(rc, Some(0), "guest script failed\n{log}\n{}", g.console());
    for sc in SCENARIOS {
        if !log.contains(&format!("PING-OK {}", sc.name)) {
            failed.push(format!("guest→host {}", sc.name));
        }
    }
    let state = std::fs::read_to_string(g.share.join("xfrm-state.txt")).unwrap_or_default();
    let counted = xfrm_packets(&state);
    for (i, sc) in SCENARIOS.iter().enumerate() {
        let (host_spi, guest_spi) = sc.spis(i);
        // 3 host pings + 3 guest pings each way: at least 6 packets per SA.
        for spi in [host_spi, guest_spi] {
            let n = counted.get(&spi).copied().unwrap_or(0);
            if n < 6 {
                failed.push(format!(
                    "{}: guest kernel counted {n} packets on spi {spi:#x}",
                    sc.name
                ));
            }
        }
    }
    // Nothing the SAs cover crossed in the clear.
    let clear = common::tshark(
        &pcap,
        "",
        "icmp || icmpv6.type == 128 || icmpv6.type == 129",
        &["frame.number", "esp.spi", "ah.spi"],
    );
    let naked: Vec<&String> = clear
        .iter()
        .filter(|l| l.split('\t').skip(1).all(str::is_empty))
        .collect();
    if !naked.is_empty() {
        failed.push(format!("{} cleartext ICMP frames on the link", naked.len()));
    }
    let stats = d.stop();
    assert!(
        failed.is_empty(),
        "{}\n--- guest log ---\n{log}\n--- xfrm ---\n{state}\n--- oakleyd ---\n{stats}",
        failed.join("\n")
    );
    assert_eq!(stats["esp_errors"], 0, "{stats}");
}
