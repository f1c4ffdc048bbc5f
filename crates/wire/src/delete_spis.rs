//! The body shared by the ISAKMP (RFC 2408 §3.15, after the DOI) and IKEv2 (RFC 7296
//! §3.11) Delete payloads: protocol, SPI size, SPI count, then the SPIs.

use crate::cursor::Reader;
use crate::error::{Result, WireError};

/// Protocol, SPI size and SPIs of a Delete payload.
pub(crate) type DeleteBody = (u8, u8, Vec<Vec<u8>>);

/// Reads the rest of a Delete payload; it must end after the last SPI.
pub(crate) fn parse(r: &mut Reader<'_>) -> Result<DeleteBody> {
    let protocol = r.u8()?;
    let spi_size = r.u8()?;
    let n = usize::from(r.u16()?);
    // The count comes from the peer: never reserve more than the bytes present allow.
    let mut spis = Vec::with_capacity(n.min(r.remaining()));
    for _ in 0..n {
        spis.push(r.take(usize::from(spi_size))?.to_vec());
    }
    r.finish()?;
    Ok((protocol, spi_size, spis))
}

/// Appends protocol, SPI size, count and SPIs; every SPI must be `spi_size` bytes.
pub(crate) fn emit(
    protocol: u8,
    spi_size: u8,
    spis: &[Vec<u8>],
    out: &mut Vec<u8>,
    what: &'static str,
) -> Result<()> {
    if spis.iter().any(|s| s.len() != usize::from(spi_size)) {
        return Err(WireError::BadValue {
            what,
            value: u64::from(spi_size),
        });
    }
    let n = u16::try_from(spis.len()).map_err(|_| WireError::TooLong {
        what,
        len: spis.len(),
    })?;
    out.extend_from_slice(&[protocol, spi_size]);
    out.extend_from_slice(&n.to_be_bytes());
    for s in spis {
        out.extend_from_slice(s);
    }
    Ok(())
}
