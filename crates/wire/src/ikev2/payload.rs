//! The payloads of RFC 7296 §3.4-3.16 and RFC 7383 §2.5, and the generic payload header.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::cursor::Reader;
use crate::error::{Result, WireError};

use super::id_type;
use super::payload_type as pt;
use super::sa::SecurityAssociation;
use super::ts::TrafficSelector;

/// Key Exchange payload (§3.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyExchange {
    pub group: u16,
    pub data: Vec<u8>,
}

/// IDi / IDr payload (§3.5).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identification {
    pub id_type: u8,
    pub data: Vec<u8>,
}

impl Identification {
    /// ID_IPV4_ADDR or ID_IPV6_ADDR for an address.
    pub fn address(a: IpAddr) -> Self {
        match a {
            IpAddr::V4(v) => Self {
                id_type: id_type::IPV4_ADDR,
                data: v.octets().to_vec(),
            },
            IpAddr::V6(v) => Self {
                id_type: id_type::IPV6_ADDR,
                data: v.octets().to_vec(),
            },
        }
    }

    /// ID_FQDN.
    pub fn fqdn(name: &str) -> Self {
        Self {
            id_type: id_type::FQDN,
            data: name.as_bytes().to_vec(),
        }
    }

    /// ID_RFC822_ADDR.
    pub fn rfc822(addr: &str) -> Self {
        Self {
            id_type: id_type::RFC822_ADDR,
            data: addr.as_bytes().to_vec(),
        }
    }

    /// ID_KEY_ID (opaque octets).
    pub fn key_id(id: &[u8]) -> Self {
        Self {
            id_type: id_type::KEY_ID,
            data: id.to_vec(),
        }
    }

    /// The address of an address-typed identity, if it is one and well formed.
    pub fn as_address(&self) -> Option<IpAddr> {
        match (self.id_type, self.data.len()) {
            (id_type::IPV4_ADDR, 4) => {
                let d = &self.data;
                Some(IpAddr::V4(Ipv4Addr::new(d[0], d[1], d[2], d[3])))
            }
            (id_type::IPV6_ADDR, 16) => {
                let mut a = [0u8; 16];
                a.copy_from_slice(&self.data);
                Some(IpAddr::V6(Ipv6Addr::from(a)))
            }
            _ => None,
        }
    }

    /// The text of an FQDN or RFC 822 identity, if it is valid UTF-8.
    pub fn as_text(&self) -> Option<&str> {
        match self.id_type {
            id_type::FQDN | id_type::RFC822_ADDR => std::str::from_utf8(&self.data).ok(),
            _ => None,
        }
    }

    /// The identity as the AUTH computation hashes it (§2.15): type, three reserved
    /// bytes, data — the payload body.
    pub fn body(&self) -> Vec<u8> {
        let mut v = vec![self.id_type, 0, 0, 0];
        v.extend_from_slice(&self.data);
        v
    }
}

/// CERT or CERTREQ payload (§3.6, §3.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cert {
    pub encoding: u8,
    pub data: Vec<u8>,
}

/// Authentication payload (§3.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth {
    pub method: u8,
    pub data: Vec<u8>,
}

/// Notify payload (§3.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notify {
    pub protocol: u8,
    pub spi: Vec<u8>,
    pub ty: u16,
    pub data: Vec<u8>,
}

impl Notify {
    /// A notification about the IKE SA itself (no protocol, no SPI).
    pub fn new(ty: u16, data: Vec<u8>) -> Self {
        Self {
            protocol: 0,
            spi: Vec::new(),
            ty,
            data,
        }
    }
}

/// Delete payload (§3.11). `spi_size` is kept so an IKE SA delete (size 0, no SPIs) and
/// an empty child delete can both be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delete {
    pub protocol: u8,
    pub spi_size: u8,
    pub spis: Vec<Vec<u8>>,
}

/// Encrypted and Authenticated payload (§3.14): IV, ciphertext, padding and ICV as one
/// opaque block, with the type of the first payload inside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encrypted {
    pub first_inner: u8,
    pub data: Vec<u8>,
}

/// Encrypted and Authenticated Fragment payload (RFC 7383 §2.5). Only fragment 1 carries
/// the first inner payload type; the others carry 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment {
    pub first_inner: u8,
    pub number: u16,
    pub total: u16,
    pub data: Vec<u8>,
}

/// Configuration payload (§3.15).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub cfg_type: u8,
    /// (attribute type without the reserved bit, value)
    pub attributes: Vec<(u16, Vec<u8>)>,
}

/// EAP payload (§3.16): one EAP message (RFC 3748 §4). Success and Failure carry no
/// type; Request and Response do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Eap {
    pub code: u8,
    pub identifier: u8,
    pub eap_type: Option<u8>,
    pub data: Vec<u8>,
}

/// One payload of a message or of a decrypted inner chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    Sa(SecurityAssociation),
    Ke(KeyExchange),
    IdI(Identification),
    IdR(Identification),
    Cert(Cert),
    CertReq(Cert),
    Auth(Auth),
    Nonce(Vec<u8>),
    Notify(Notify),
    Delete(Delete),
    VendorId(Vec<u8>),
    TsI(Vec<TrafficSelector>),
    TsR(Vec<TrafficSelector>),
    Sk(Encrypted),
    Cp(Config),
    Eap(Eap),
    Skf(Fragment),
    /// A payload type this crate does not know, sent with the critical bit clear: kept so
    /// the chain can be walked past it (§2.5), ignored by the engine.
    Unknown {
        ty: u8,
        data: Vec<u8>,
    },
}

impl Payload {
    /// The payload type number.
    pub fn ty(&self) -> u8 {
        match self {
            Self::Sa(_) => pt::SA,
            Self::Ke(_) => pt::KE,
            Self::IdI(_) => pt::IDI,
            Self::IdR(_) => pt::IDR,
            Self::Cert(_) => pt::CERT,
            Self::CertReq(_) => pt::CERTREQ,
            Self::Auth(_) => pt::AUTH,
            Self::Nonce(_) => pt::NONCE,
            Self::Notify(_) => pt::NOTIFY,
            Self::Delete(_) => pt::DELETE,
            Self::VendorId(_) => pt::VENDOR_ID,
            Self::TsI(_) => pt::TSI,
            Self::TsR(_) => pt::TSR,
            Self::Sk(_) => pt::SK,
            Self::Cp(_) => pt::CP,
            Self::Eap(_) => pt::EAP,
            Self::Skf(_) => pt::SKF,
            Self::Unknown { ty, .. } => *ty,
        }
    }

    /// True for a payload type this crate decodes.
    pub fn is_known(ty: u8) -> bool {
        matches!(ty, pt::SA..=pt::EAP | pt::SKF)
    }

    /// Decodes a payload body of a known type.
    pub(crate) fn parse_body(ty: u8, next: u8, body: &[u8]) -> Result<Self> {
        let mut r = Reader::new(body, "ikev2 payload");
        Ok(match ty {
            pt::SA => Self::Sa(SecurityAssociation::parse(body)?),
            pt::KE => {
                let group = r.u16()?;
                r.u16()?;
                Self::Ke(KeyExchange {
                    group,
                    data: r.take_rest().to_vec(),
                })
            }
            pt::IDI | pt::IDR => {
                let id_type = r.u8()?;
                r.take(3)?;
                let id = Identification {
                    id_type,
                    data: r.take_rest().to_vec(),
                };
                if ty == pt::IDI {
                    Self::IdI(id)
                } else {
                    Self::IdR(id)
                }
            }
            pt::CERT | pt::CERTREQ => {
                let c = Cert {
                    encoding: r.u8()?,
                    data: r.take_rest().to_vec(),
                };
                if ty == pt::CERT {
                    Self::Cert(c)
                } else {
                    Self::CertReq(c)
                }
            }
            pt::AUTH => {
                let method = r.u8()?;
                r.take(3)?;
                Self::Auth(Auth {
                    method,
                    data: r.take_rest().to_vec(),
                })
            }
            pt::NONCE => Self::Nonce(body.to_vec()),
            pt::NOTIFY => {
                let protocol = r.u8()?;
                let spi_size = usize::from(r.u8()?);
                let nty = r.u16()?;
                let spi = r.take(spi_size)?.to_vec();
                Self::Notify(Notify {
                    protocol,
                    spi,
                    ty: nty,
                    data: r.take_rest().to_vec(),
                })
            }
            pt::DELETE => {
                let (protocol, spi_size, spis) = crate::delete_spis::parse(&mut r)?;
                Self::Delete(Delete {
                    protocol,
                    spi_size,
                    spis,
                })
            }
            pt::VENDOR_ID => Self::VendorId(body.to_vec()),
            pt::TSI => Self::TsI(TrafficSelector::parse_list(body)?),
            pt::TSR => Self::TsR(TrafficSelector::parse_list(body)?),
            pt::SK => Self::Sk(Encrypted {
                first_inner: next,
                data: body.to_vec(),
            }),
            pt::CP => {
                let cfg_type = r.u8()?;
                r.take(3)?;
                let mut attributes = Vec::new();
                while !r.is_empty() {
                    let t = r.u16()? & 0x7fff;
                    let l = usize::from(r.u16()?);
                    attributes.push((t, r.take(l)?.to_vec()));
                }
                Self::Cp(Config {
                    cfg_type,
                    attributes,
                })
            }
            pt::EAP => {
                let code = r.u8()?;
                let identifier = r.u8()?;
                let len = usize::from(r.u16()?);
                if len != body.len() {
                    return Err(WireError::BadLength {
                        what: "ikev2 eap length",
                        len,
                    });
                }
                // RFC 3748 §4: Request (1) and Response (2) carry a type; Success (3) and
                // Failure (4) end at the length field.
                let eap_type = if matches!(code, 1 | 2) {
                    Some(r.u8()?)
                } else {
                    None
                };
                Self::Eap(Eap {
                    code,
                    identifier,
                    eap_type,
                    data: r.take_rest().to_vec(),
                })
            }
            pt::SKF => {
                let number = r.u16()?;
                let total = r.u16()?;
                // RFC 7383 §2.5: numbers start at 1 and never exceed the total.
                if number == 0 || number > total {
                    return Err(WireError::BadValue {
                        what: "ikev2 fragment number",
                        value: u64::from(number),
                    });
                }
                Self::Skf(Fragment {
                    first_inner: next,
                    number,
                    total,
                    data: r.take_rest().to_vec(),
                })
            }
            other => {
                return Err(WireError::UnexpectedType {
                    what: "ikev2 payload",
                    value: u64::from(other),
                });
            }
        })
    }

    /// Appends the payload body (without the generic header).
    pub(crate) fn emit_body(&self, out: &mut Vec<u8>) -> Result<()> {
        match self {
            Self::Sa(sa) => sa.emit(out)?,
            Self::Ke(k) => {
                out.extend_from_slice(&k.group.to_be_bytes());
                out.extend_from_slice(&[0, 0]);
                out.extend_from_slice(&k.data);
            }
            Self::IdI(id) | Self::IdR(id) => out.extend_from_slice(&id.body()),
            Self::Cert(c) | Self::CertReq(c) => {
                out.push(c.encoding);
                out.extend_from_slice(&c.data);
            }
            Self::Auth(a) => {
                out.extend_from_slice(&[a.method, 0, 0, 0]);
                out.extend_from_slice(&a.data);
            }
            Self::Nonce(n) | Self::VendorId(n) => out.extend_from_slice(n),
            Self::Notify(n) => {
                let size = u8::try_from(n.spi.len()).map_err(|_| WireError::TooLong {
                    what: "ikev2 notify spi",
                    len: n.spi.len(),
                })?;
                out.extend_from_slice(&[n.protocol, size]);
                out.extend_from_slice(&n.ty.to_be_bytes());
                out.extend_from_slice(&n.spi);
                out.extend_from_slice(&n.data);
            }
            Self::Delete(d) => {
                crate::delete_spis::emit(d.protocol, d.spi_size, &d.spis, out, "ikev2 delete spis")?
            }
            Self::TsI(l) | Self::TsR(l) => TrafficSelector::emit_list(l, out)?,
            Self::Sk(e) => out.extend_from_slice(&e.data),
            Self::Cp(c) => {
                out.extend_from_slice(&[c.cfg_type, 0, 0, 0]);
                for (t, v) in &c.attributes {
                    if *t > 0x7fff {
                        return Err(WireError::BadValue {
                            what: "ikev2 cp attribute type",
                            value: u64::from(*t),
                        });
                    }
                    let l = u16::try_from(v.len()).map_err(|_| WireError::TooLong {
                        what: "ikev2 cp attribute",
                        len: v.len(),
                    })?;
                    out.extend_from_slice(&t.to_be_bytes());
                    out.extend_from_slice(&l.to_be_bytes());
                    out.extend_from_slice(v);
                }
            }
            Self::Eap(e) => {
                let len = 4 + usize::from(e.eap_type.is_some()) + e.data.len();
                let l = u16::try_from(len).map_err(|_| WireError::TooLong {
                    what: "ikev2 eap",
                    len,
                })?;
                if e.eap_type.is_some() != matches!(e.code, 1 | 2) {
                    return Err(WireError::BadValue {
                        what: "ikev2 eap code",
                        value: u64::from(e.code),
                    });
                }
                out.extend_from_slice(&[e.code, e.identifier]);
                out.extend_from_slice(&l.to_be_bytes());
                if let Some(t) = e.eap_type {
                    out.push(t);
                }
                out.extend_from_slice(&e.data);
            }
            Self::Skf(f) => {
                if f.number == 0 || f.number > f.total {
                    return Err(WireError::BadValue {
                        what: "ikev2 fragment number",
                        value: u64::from(f.number),
                    });
                }
                out.extend_from_slice(&f.number.to_be_bytes());
                out.extend_from_slice(&f.total.to_be_bytes());
                out.extend_from_slice(&f.data);
            }
            Self::Unknown { data, .. } => out.extend_from_slice(data),
        }
        Ok(())
    }
}
