//! Traffic selectors (RFC 7296 §3.13).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::cursor::{Reader, patch_len16};
use crate::error::{Result, WireError};

use super::ts_type;

/// One traffic selector. Address ranges of the two defined types are decoded; any other
/// type is kept opaque so the engine can answer TS_UNACCEPTABLE rather than fail to parse.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TrafficSelector {
    /// TS_IPV4_ADDR_RANGE or TS_IPV6_ADDR_RANGE (start and end are the same family).
    Range {
        ip_protocol: u8,
        start_port: u16,
        end_port: u16,
        start: IpAddr,
        end: IpAddr,
    },
    /// A selector type this crate does not decode.
    Other { ts_type: u8, body: Vec<u8> },
}

impl TrafficSelector {
    /// A selector for every protocol and port between two addresses of one family.
    pub fn any_between(start: IpAddr, end: IpAddr) -> Self {
        Self::Range {
            ip_protocol: 0,
            start_port: 0,
            end_port: 0xffff,
            start,
            end,
        }
    }

    fn parse(r: &mut Reader<'_>) -> Result<Self> {
        let ty = r.u8()?;
        let rest_header = r.u8()?;
        let len = usize::from(r.u16()?);
        if len < 4 {
            return Err(WireError::BadLength {
                what: "ikev2 traffic selector",
                len,
            });
        }
        let body = r.take(len - 4)?;
        let mut b = Reader::new(body, "ikev2 traffic selector");
        let addr_len = match ty {
            ts_type::IPV4_ADDR_RANGE => 4,
            ts_type::IPV6_ADDR_RANGE => 16,
            _ => {
                let mut full = vec![rest_header];
                full.extend_from_slice(body);
                return Ok(Self::Other {
                    ts_type: ty,
                    body: full,
                });
            }
        };
        let start_port = b.u16()?;
        let end_port = b.u16()?;
        let s = b.take(addr_len)?;
        let e = b.take(addr_len)?;
        b.finish()?;
        let (start, end) = if addr_len == 4 {
            (
                IpAddr::V4(Ipv4Addr::new(s[0], s[1], s[2], s[3])),
                IpAddr::V4(Ipv4Addr::new(e[0], e[1], e[2], e[3])),
            )
        } else {
            let mut a = [0u8; 16];
            a.copy_from_slice(s);
            let mut z = [0u8; 16];
            z.copy_from_slice(e);
            (IpAddr::V6(Ipv6Addr::from(a)), IpAddr::V6(Ipv6Addr::from(z)))
        };
        Ok(Self::Range {
            ip_protocol: rest_header,
            start_port,
            end_port,
            start,
            end,
        })
    }

    fn emit(&self, out: &mut Vec<u8>) -> Result<()> {
        let start_at = out.len();
        match self {
            Self::Range {
                ip_protocol,
                start_port,
                end_port,
                start,
                end,
            } => {
                let ty = match (start, end) {
                    (IpAddr::V4(_), IpAddr::V4(_)) => ts_type::IPV4_ADDR_RANGE,
                    (IpAddr::V6(_), IpAddr::V6(_)) => ts_type::IPV6_ADDR_RANGE,
                    _ => {
                        return Err(WireError::BadValue {
                            what: "ikev2 traffic selector address families",
                            value: 0,
                        });
                    }
                };
                out.extend_from_slice(&[ty, *ip_protocol, 0, 0]);
                out.extend_from_slice(&start_port.to_be_bytes());
                out.extend_from_slice(&end_port.to_be_bytes());
                for a in [start, end] {
                    match a {
                        IpAddr::V4(v) => out.extend_from_slice(&v.octets()),
                        IpAddr::V6(v) => out.extend_from_slice(&v.octets()),
                    }
                }
            }
            Self::Other { ts_type, body } => {
                let (first, rest) = body.split_first().ok_or(WireError::BadLength {
                    what: "ikev2 traffic selector",
                    len: 0,
                })?;
                out.extend_from_slice(&[*ts_type, *first, 0, 0]);
                out.extend_from_slice(rest);
            }
        }
        let len = out.len() - start_at;
        patch_len16(out, start_at + 2, len, "ikev2 traffic selector")
    }

    /// Parses the body of a TSi/TSr payload (§3.13): count, reserved, selectors.
    pub fn parse_list(body: &[u8]) -> Result<Vec<Self>> {
        let mut r = Reader::new(body, "ikev2 ts payload");
        let count = r.u8()?;
        r.take(3)?;
        let mut out = Vec::with_capacity(usize::from(count));
        for _ in 0..count {
            out.push(Self::parse(&mut r)?);
        }
        r.finish()?;
        Ok(out)
    }

    /// Appends the body of a TSi/TSr payload.
    pub fn emit_list(list: &[Self], out: &mut Vec<u8>) -> Result<()> {
        let count = u8::try_from(list.len()).map_err(|_| WireError::TooLong {
            what: "ikev2 ts payload",
            len: list.len(),
        })?;
        out.extend_from_slice(&[count, 0, 0, 0]);
        for ts in list {
            ts.emit(out)?;
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod strategy {
    use super::*;
    use proptest::prelude::*;

    pub fn ts() -> impl Strategy<Value = TrafficSelector> {
        prop_oneof![
            (
                any::<u8>(),
                any::<u16>(),
                any::<u16>(),
                any::<[u8; 4]>(),
                any::<[u8; 4]>()
            )
                .prop_map(|(p, sp, ep, s, e)| TrafficSelector::Range {
                    ip_protocol: p,
                    start_port: sp,
                    end_port: ep,
                    start: IpAddr::V4(s.into()),
                    end: IpAddr::V4(e.into()),
                }),
            (
                any::<u8>(),
                any::<u16>(),
                any::<u16>(),
                any::<[u8; 16]>(),
                any::<[u8; 16]>()
            )
                .prop_map(|(p, sp, ep, s, e)| TrafficSelector::Range {
                    ip_protocol: p,
                    start_port: sp,
                    end_port: ep,
                    start: IpAddr::V6(s.into()),
                    end: IpAddr::V6(e.into()),
                }),
            (
                any::<u8>().prop_filter("other type", |t| *t != 7 && *t != 8),
                proptest::collection::vec(any::<u8>(), 1..20)
            )
                .prop_map(|(ts_type, body)| TrafficSelector::Other { ts_type, body }),
        ]
    }
}
