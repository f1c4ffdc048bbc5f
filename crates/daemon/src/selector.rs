//! Traffic selectors (RFC 4301 §4.4.1, RFC 7296 §3.13): which packets an SA may carry.
//! Outbound they pick the SA; inbound they are checked against every decrypted packet, so a
//! peer can only send what was agreed.

use std::ops::RangeInclusive;

use ipnet::IpNet;

use crate::packet::FiveTuple;

/// One direction's view of an SA's traffic: from `local` to `remote` (outbound) or back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    pub local: IpNet,
    pub remote: IpNet,
    /// `None`: any protocol.
    pub protocol: Option<u8>,
    pub local_ports: RangeInclusive<u16>,
    pub remote_ports: RangeInclusive<u16>,
}

const ANY_PORT: RangeInclusive<u16> = 0..=u16::MAX;

impl Selector {
    /// All traffic between two prefixes.
    pub fn between(local: IpNet, remote: IpNet) -> Self {
        Self {
            local,
            remote,
            protocol: None,
            local_ports: ANY_PORT,
            remote_ports: ANY_PORT,
        }
    }

    fn ports_match(range: &RangeInclusive<u16>, port: u16, opaque: bool) -> bool {
        if opaque {
            *range == ANY_PORT
        } else {
            range.contains(&port)
        }
    }

    fn proto_match(&self, t: &FiveTuple) -> bool {
        self.protocol.is_none_or(|p| p == t.protocol)
    }

    /// Does an outgoing packet (local → remote) fall under this selector?
    pub fn matches_outbound(&self, t: &FiveTuple) -> bool {
        self.local.contains(&t.src)
            && self.remote.contains(&t.dst)
            && self.proto_match(t)
            && Self::ports_match(&self.local_ports, t.src_port, t.opaque_ports)
            && Self::ports_match(&self.remote_ports, t.dst_port, t.opaque_ports)
    }

    /// Does a decrypted incoming packet (remote → local) fall under this selector?
    pub fn matches_inbound(&self, t: &FiveTuple) -> bool {
        self.remote.contains(&t.src)
            && self.local.contains(&t.dst)
            && self.proto_match(t)
            && Self::ports_match(&self.remote_ports, t.src_port, t.opaque_ports)
            && Self::ports_match(&self.local_ports, t.dst_port, t.opaque_ports)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(src: &str, dst: &str, proto: u8, sp: u16, dp: u16) -> FiveTuple {
        FiveTuple {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            protocol: proto,
            src_port: sp,
            dst_port: dp,
            opaque_ports: false,
        }
    }

    #[test]
    fn directions_ports_and_fragments() {
        let mut s = Selector::between(
            "10.1.0.0/24".parse().unwrap(),
            "10.2.0.0/24".parse().unwrap(),
        );
        assert!(s.matches_outbound(&t("10.1.0.5", "10.2.0.9", 6, 1000, 80)));
        assert!(!s.matches_outbound(&t("10.2.0.9", "10.1.0.5", 6, 80, 1000)));
        assert!(s.matches_inbound(&t("10.2.0.9", "10.1.0.5", 6, 80, 1000)));
        assert!(!s.matches_inbound(&t("10.3.0.9", "10.1.0.5", 6, 80, 1000)));
        s.protocol = Some(6);
        s.remote_ports = 80..=80;
        assert!(s.matches_outbound(&t("10.1.0.5", "10.2.0.9", 6, 1000, 80)));
        assert!(!s.matches_outbound(&t("10.1.0.5", "10.2.0.9", 6, 1000, 81)));
        assert!(!s.matches_outbound(&t("10.1.0.5", "10.2.0.9", 17, 1000, 80)));
        // A later fragment has no ports: only an any-port selector takes it.
        let mut frag = t("10.1.0.5", "10.2.0.9", 6, 0, 0);
        frag.opaque_ports = true;
        assert!(!s.matches_outbound(&frag));
        s.remote_ports = 0..=u16::MAX;
        assert!(s.matches_outbound(&frag));
        // IPv6 addresses never match IPv4 prefixes.
        assert!(!s.matches_outbound(&t("::1", "::2", 6, 1, 80)));
    }
}
