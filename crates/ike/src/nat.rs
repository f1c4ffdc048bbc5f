//! NAT detection (RFC 7296 §2.23) and stateless cookies (§2.6).

use std::net::{IpAddr, SocketAddr};

use crypto::prf::Prf;

/// NAT_DETECTION_*_IP data: SHA-1(SPIi | SPIr | IP | port).
pub(crate) fn detection_hash(spi_i: u64, spi_r: u64, addr: SocketAddr) -> Vec<u8> {
    let ip = ip_bytes(addr.ip());
    Prf::HMAC_SHA1.hash(&[
        &spi_i.to_be_bytes(),
        &spi_r.to_be_bytes(),
        &ip,
        &addr.port().to_be_bytes(),
    ])
}

fn ip_bytes(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v) => v.octets().to_vec(),
        IpAddr::V6(v) => v.octets().to_vec(),
    }
}

/// A cookie for an IKE_SA_INIT request: a version byte naming the secret, then an HMAC
/// over Ni | IPi | SPIi under the responder's secret (§2.6 suggests a hash; an HMAC is the
/// keyed form of the same idea). Only the responder ever checks it.
pub(crate) fn cookie(secret: &[u8], version: u8, ni: &[u8], from: IpAddr, spi_i: u64) -> Vec<u8> {
    let mac = Prf::HMAC_SHA2_256.compute(secret, &[ni, &ip_bytes(from), &spi_i.to_be_bytes()]);
    let mut v = vec![version];
    v.extend_from_slice(mac.expose());
    v
}
