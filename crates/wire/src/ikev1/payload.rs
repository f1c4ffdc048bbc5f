//! ISAKMP payloads (RFC 2408 §3.7-3.16, RFC 2407 §4.6, RFC 3947).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::attribute::Attribute;
use crate::cursor::Reader;
use crate::error::{Result, WireError};

use super::id_type;
use super::payload_type as pt;
use super::sa::SecurityAssociation;

/// Identification payload in the IPsec DOI (RFC 2407 §4.6.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identification {
    pub id_type: u8,
    pub protocol: u8,
    pub port: u16,
    pub data: Vec<u8>,
}

impl Identification {
    /// ID_IPV4_ADDR / ID_IPV6_ADDR for an address (any protocol and port).
    pub fn address(a: IpAddr) -> Self {
        let (id_type, data) = match a {
            IpAddr::V4(v) => (id_type::IPV4_ADDR, v.octets().to_vec()),
            IpAddr::V6(v) => (id_type::IPV6_ADDR, v.octets().to_vec()),
        };
        Self {
            id_type,
            protocol: 0,
            port: 0,
            data,
        }
    }

    /// ID_IPV4_ADDR_SUBNET / ID_IPV6_ADDR_SUBNET (a Quick Mode client identity).
    pub fn subnet(addr: IpAddr, mask: IpAddr, protocol: u8, port: u16) -> Result<Self> {
        let (id_type, data) = match (addr, mask) {
            (IpAddr::V4(a), IpAddr::V4(m)) => {
                (id_type::IPV4_ADDR_SUBNET, [a.octets(), m.octets()].concat())
            }
            (IpAddr::V6(a), IpAddr::V6(m)) => {
                (id_type::IPV6_ADDR_SUBNET, [a.octets(), m.octets()].concat())
            }
            _ => {
                return Err(WireError::BadValue {
                    what: "isakmp id subnet families",
                    value: 0,
                });
            }
        };
        Ok(Self {
            id_type,
            protocol,
            port,
            data,
        })
    }

    /// ID_FQDN.
    pub fn fqdn(name: &str) -> Self {
        Self {
            id_type: id_type::FQDN,
            protocol: 0,
            port: 0,
            data: name.as_bytes().to_vec(),
        }
    }

    /// ID_USER_FQDN.
    pub fn user_fqdn(name: &str) -> Self {
        Self {
            id_type: id_type::USER_FQDN,
            protocol: 0,
            port: 0,
            data: name.as_bytes().to_vec(),
        }
    }

    /// The address pair of an address, subnet or range identity: (address, address) for a
    /// single address, (network, mask) for a subnet, (first, last) for a range. `None`
    /// when the type is not one of those or the data length is wrong.
    pub fn addresses(&self) -> Option<(IpAddr, IpAddr)> {
        let v4 = |b: &[u8]| IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]));
        let v6 = |b: &[u8]| {
            let mut a = [0u8; 16];
            a.copy_from_slice(b);
            IpAddr::V6(Ipv6Addr::from(a))
        };
        let d = &self.data;
        match (self.id_type, d.len()) {
            (id_type::IPV4_ADDR, 4) => Some((v4(d), v4(d))),
            (id_type::IPV6_ADDR, 16) => Some((v6(d), v6(d))),
            (id_type::IPV4_ADDR_SUBNET | id_type::IPV4_ADDR_RANGE, 8) => {
                Some((v4(&d[..4]), v4(&d[4..])))
            }
            (id_type::IPV6_ADDR_SUBNET | id_type::IPV6_ADDR_RANGE, 32) => {
                Some((v6(&d[..16]), v6(&d[16..])))
            }
            _ => None,
        }
    }

    /// The payload body as HASH_I/HASH_R hash it (RFC 2409 §5: "IDii_b", the body after
    /// the generic header).
    pub fn body(&self) -> Vec<u8> {
        let mut v = vec![self.id_type, self.protocol];
        v.extend_from_slice(&self.port.to_be_bytes());
        v.extend_from_slice(&self.data);
        v
    }
}

/// Notification payload (RFC 2408 §3.14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notify {
    pub doi: u32,
    pub protocol: u8,
    pub ty: u16,
    pub spi: Vec<u8>,
    pub data: Vec<u8>,
}

/// Delete payload (RFC 2408 §3.15). `spi_size` is kept so an empty list still encodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delete {
    pub doi: u32,
    pub protocol: u8,
    pub spi_size: u8,
    pub spis: Vec<Vec<u8>>,
}

/// NAT-OA payload (RFC 3947 §5.2): the original address a peer sees behind NAT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatOa {
    /// True for the draft payload number 131 (kept so a message re-encodes as received).
    pub draft: bool,
    pub address: IpAddr,
}

/// Mode Config attribute payload (type 14; draft-ietf-ipsec-isakmp-mode-cfg §3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigAttributes {
    pub cfg_type: u8,
    pub identifier: u16,
    pub attributes: Vec<Attribute>,
}

/// IKEv1 fragment payload (type 132, as strongSwan and Cisco send it): fragment ID,
/// number (from 1), a flags byte whose bit 0 marks the last fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment {
    pub id: u16,
    pub number: u8,
    pub last: bool,
    pub data: Vec<u8>,
}

/// One ISAKMP payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    Sa(SecurityAssociation),
    Ke(Vec<u8>),
    Id(Identification),
    Cert {
        encoding: u8,
        data: Vec<u8>,
    },
    CertReq {
        encoding: u8,
        authority: Vec<u8>,
    },
    Hash(Vec<u8>),
    Sig(Vec<u8>),
    Nonce(Vec<u8>),
    Notify(Notify),
    Delete(Delete),
    VendorId(Vec<u8>),
    Attribute(ConfigAttributes),
    /// NAT-D (RFC 3947 §3.2); `draft` for payload number 130.
    NatD {
        draft: bool,
        hash: Vec<u8>,
    },
    NatOa(NatOa),
    Fragment(Fragment),
}

impl Payload {
    /// The payload type number.
    pub fn ty(&self) -> u8 {
        match self {
            Self::Sa(_) => pt::SA,
            Self::Ke(_) => pt::KE,
            Self::Id(_) => pt::ID,
            Self::Cert { .. } => pt::CERT,
            Self::CertReq { .. } => pt::CR,
            Self::Hash(_) => pt::HASH,
            Self::Sig(_) => pt::SIG,
            Self::Nonce(_) => pt::NONCE,
            Self::Notify(_) => pt::NOTIFICATION,
            Self::Delete(_) => pt::DELETE,
            Self::VendorId(_) => pt::VENDOR_ID,
            Self::Attribute(_) => pt::ATTRIBUTE,
            Self::NatD { draft: false, .. } => pt::NAT_D,
            Self::NatD { draft: true, .. } => pt::NAT_D_DRAFT,
            Self::NatOa(NatOa { draft: false, .. }) => pt::NAT_OA,
            Self::NatOa(NatOa { draft: true, .. }) => pt::NAT_OA_DRAFT,
            Self::Fragment(_) => pt::FRAGMENT,
        }
    }

    /// Decodes a payload body. ISAKMP has no critical bit: RFC 2408 §5.1 has the receiver
    /// reject a message with an unknown payload type (INVALID-PAYLOAD-TYPE), so an unknown
    /// type is an error carrying the type. Proposal and transform payloads only appear
    /// inside an SA.
    pub(crate) fn parse_body(ty: u8, body: &[u8]) -> Result<Self> {
        let mut r = Reader::new(body, "isakmp payload");
        Ok(match ty {
            pt::SA => Self::Sa(SecurityAssociation::parse(body)?),
            pt::KE => Self::Ke(body.to_vec()),
            pt::ID => Self::Id(Identification {
                id_type: r.u8()?,
                protocol: r.u8()?,
                port: r.u16()?,
                data: r.take_rest().to_vec(),
            }),
            pt::CERT => Self::Cert {
                encoding: r.u8()?,
                data: r.take_rest().to_vec(),
            },
            pt::CR => Self::CertReq {
                encoding: r.u8()?,
                authority: r.take_rest().to_vec(),
            },
            pt::HASH => Self::Hash(body.to_vec()),
            pt::SIG => Self::Sig(body.to_vec()),
            pt::NONCE => Self::Nonce(body.to_vec()),
            pt::NOTIFICATION => {
                let doi = r.u32()?;
                let protocol = r.u8()?;
                let spi_size = usize::from(r.u8()?);
                let nty = r.u16()?;
                let spi = r.take(spi_size)?.to_vec();
                Self::Notify(Notify {
                    doi,
                    protocol,
                    ty: nty,
                    spi,
                    data: r.take_rest().to_vec(),
                })
            }
            pt::DELETE => {
                let doi = r.u32()?;
                let (protocol, spi_size, spis) = crate::delete_spis::parse(&mut r)?;
                Self::Delete(Delete {
                    doi,
                    protocol,
                    spi_size,
                    spis,
                })
            }
            pt::VENDOR_ID => Self::VendorId(body.to_vec()),
            pt::ATTRIBUTE => {
                let cfg_type = r.u8()?;
                r.u8()?;
                let identifier = r.u16()?;
                Self::Attribute(ConfigAttributes {
                    cfg_type,
                    identifier,
                    attributes: Attribute::parse_all(r.rest(), "isakmp mode config attribute")?,
                })
            }
            pt::NAT_D | pt::NAT_D_DRAFT => Self::NatD {
                draft: ty == pt::NAT_D_DRAFT,
                hash: body.to_vec(),
            },
            pt::NAT_OA | pt::NAT_OA_DRAFT => {
                let t = r.u8()?;
                r.take(3)?;
                let address = match t {
                    id_type::IPV4_ADDR => IpAddr::V4(Ipv4Addr::from(r.array::<4>()?)),
                    id_type::IPV6_ADDR => IpAddr::V6(Ipv6Addr::from(r.array::<16>()?)),
                    other => {
                        return Err(WireError::BadValue {
                            what: "isakmp nat-oa id type",
                            value: u64::from(other),
                        });
                    }
                };
                r.finish()?;
                Self::NatOa(NatOa {
                    draft: ty == pt::NAT_OA_DRAFT,
                    address,
                })
            }
            pt::FRAGMENT => {
                let id = r.u16()?;
                let number = r.u8()?;
                let flags = r.u8()?;
                if number == 0 {
                    return Err(WireError::BadValue {
                        what: "isakmp fragment number",
                        value: 0,
                    });
                }
                Self::Fragment(Fragment {
                    id,
                    number,
                    last: flags & 1 != 0,
                    data: r.take_rest().to_vec(),
                })
            }
            other => {
                return Err(WireError::UnexpectedType {
                    what: "isakmp payload type",
                    value: u64::from(other),
                });
            }
        })
    }

    /// Appends the payload body.
    pub(crate) fn emit_body(&self, out: &mut Vec<u8>) -> Result<()> {
        match self {
            Self::Sa(sa) => sa.emit(out)?,
            Self::Ke(b) | Self::Hash(b) | Self::Sig(b) | Self::Nonce(b) | Self::VendorId(b) => {
                out.extend_from_slice(b)
            }
            Self::NatD { hash, .. } => out.extend_from_slice(hash),
            Self::Id(id) => out.extend_from_slice(&id.body()),
            Self::Cert { encoding, data } => {
                out.push(*encoding);
                out.extend_from_slice(data);
            }
            Self::CertReq {
                encoding,
                authority,
            } => {
                out.push(*encoding);
                out.extend_from_slice(authority);
            }
            Self::Notify(n) => {
                let size = u8::try_from(n.spi.len()).map_err(|_| WireError::TooLong {
                    what: "isakmp notify spi",
                    len: n.spi.len(),
                })?;
                out.extend_from_slice(&n.doi.to_be_bytes());
                out.extend_from_slice(&[n.protocol, size]);
                out.extend_from_slice(&n.ty.to_be_bytes());
                out.extend_from_slice(&n.spi);
                out.extend_from_slice(&n.data);
            }
            Self::Delete(d) => {
                out.extend_from_slice(&d.doi.to_be_bytes());
                crate::delete_spis::emit(
                    d.protocol,
                    d.spi_size,
                    &d.spis,
                    out,
                    "isakmp delete spis",
                )?;
            }
            Self::Attribute(c) => {
                out.extend_from_slice(&[c.cfg_type, 0]);
                out.extend_from_slice(&c.identifier.to_be_bytes());
                for a in &c.attributes {
                    a.emit(out)?;
                }
            }
            Self::NatOa(n) => match n.address {
                IpAddr::V4(a) => {
                    out.extend_from_slice(&[id_type::IPV4_ADDR, 0, 0, 0]);
                    out.extend_from_slice(&a.octets());
                }
                IpAddr::V6(a) => {
                    out.extend_from_slice(&[id_type::IPV6_ADDR, 0, 0, 0]);
                    out.extend_from_slice(&a.octets());
                }
            },
            Self::Fragment(f) => {
                if f.number == 0 {
                    return Err(WireError::BadValue {
                        what: "isakmp fragment number",
                        value: 0,
                    });
                }
                out.extend_from_slice(&f.id.to_be_bytes());
                out.extend_from_slice(&[f.number, u8::from(f.last)]);
                out.extend_from_slice(&f.data);
            }
        }
        Ok(())
    }
}
