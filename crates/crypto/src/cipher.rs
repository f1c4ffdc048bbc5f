//! Unauthenticated ciphers for ESP and IKE: AES-CBC (RFC 3602), AES-CTR (RFC 3686),
//! 3DES-CBC (RFC 2451), DES-CBC (RFC 2405) and NULL (RFC 2410). No padding is added here:
//! ESP and IKE pad to the block size themselves.

use aws_lc_rs::cipher as lc;
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};

use crate::error::{CryptoError, Result};

/// A keyed cipher.
pub trait Cipher: Send + Sync {
    /// Block size the input must be a multiple of (1 for stream modes).
    fn block_size(&self) -> usize;
    /// IV length in the packet.
    fn iv_len(&self) -> usize;
    /// Encrypts `buf` in place with `iv` (for CTR: the 8-byte IV; the nonce is part of the key).
    fn encrypt(&self, iv: &[u8], buf: &mut [u8]) -> Result<()>;
    /// Decrypts `buf` in place.
    fn decrypt(&self, iv: &[u8], buf: &mut [u8]) -> Result<()>;
}

fn check(block: usize, buf: &[u8]) -> Result<()> {
    if buf.len() % block != 0 {
        return Err(CryptoError::BadLength {
            what: "cipher input (not a block multiple)",
            len: buf.len(),
        });
    }
    Ok(())
}

fn iv16(iv: &[u8]) -> Result<[u8; 16]> {
    iv.try_into().map_err(|_| CryptoError::BadLength {
        what: "cipher iv",
        len: iv.len(),
    })
}

/// AES-CBC with a pre-expanded key (aws-lc-rs).
pub(crate) struct AesCbc {
    enc: lc::EncryptingKey,
    dec: lc::DecryptingKey,
}

impl AesCbc {
    pub(crate) fn new(key: &[u8]) -> Result<Self> {
        let alg = match key.len() {
            16 => &lc::AES_128,
            24 => &lc::AES_192,
            32 => &lc::AES_256,
            n => {
                return Err(CryptoError::BadLength {
                    what: "aes key",
                    len: n,
                });
            }
        };
        let mk =
            || lc::UnboundCipherKey::new(alg, key).map_err(|_| CryptoError::Backend("aes key"));
        Ok(Self {
            enc: lc::EncryptingKey::cbc(mk()?).map_err(|_| CryptoError::Backend("aes-cbc"))?,
            dec: lc::DecryptingKey::cbc(mk()?).map_err(|_| CryptoError::Backend("aes-cbc"))?,
        })
    }
}

impl Cipher for AesCbc {
    fn block_size(&self) -> usize {
        16
    }

    fn iv_len(&self) -> usize {
        16
    }

    fn encrypt(&self, iv: &[u8], buf: &mut [u8]) -> Result<()> {
        check(16, buf)?;
        let ctx = lc::EncryptionContext::Iv128(iv16(iv)?.into());
        self.enc
            .less_safe_encrypt(buf, ctx)
            .map(|_| ())
            .map_err(|_| CryptoError::Backend("aes-cbc encrypt"))
    }

    fn decrypt(&self, iv: &[u8], buf: &mut [u8]) -> Result<()> {
        check(16, buf)?;
        let ctx = lc::DecryptionContext::Iv128(iv16(iv)?.into());
        self.dec
            .decrypt(buf, ctx)
            .map(|_| ())
            .map_err(|_| CryptoError::Backend("aes-cbc decrypt"))
    }
}

/// AES-CTR as ESP uses it (RFC 3686 §4): the key material carries a 4-byte nonce after the
/// AES key; the counter block is nonce | 8-byte IV | 32-bit block counter starting at 1.
pub(crate) struct AesCtr {
    enc: lc::EncryptingKey,
    nonce: [u8; 4],
}

impl AesCtr {
    /// `key` is the AES key followed by the 4-byte nonce.
    pub(crate) fn new(key: &[u8]) -> Result<Self> {
        let n = key.len().checked_sub(4).ok_or(CryptoError::BadLength {
            what: "aes-ctr key",
            len: key.len(),
        })?;
        let alg = match n {
            16 => &lc::AES_128,
            24 => &lc::AES_192,
            32 => &lc::AES_256,
            _ => {
                return Err(CryptoError::BadLength {
                    what: "aes-ctr key",
                    len: key.len(),
                });
            }
        };
        let k = lc::UnboundCipherKey::new(alg, &key[..n])
            .map_err(|_| CryptoError::Backend("aes key"))?;
        let mut nonce = [0u8; 4];
        nonce.copy_from_slice(&key[n..]);
        Ok(Self {
            enc: lc::EncryptingKey::ctr(k).map_err(|_| CryptoError::Backend("aes-ctr"))?,
            nonce,
        })
    }
}

impl Cipher for AesCtr {
    fn block_size(&self) -> usize {
        1
    }

    fn iv_len(&self) -> usize {
        8
    }

    fn encrypt(&self, iv: &[u8], buf: &mut [u8]) -> Result<()> {
        if iv.len() != 8 {
            return Err(CryptoError::BadLength {
                what: "aes-ctr iv",
                len: iv.len(),
            });
        }
        let mut block = [0u8; 16];
        block[..4].copy_from_slice(&self.nonce);
        block[4..12].copy_from_slice(iv);
        block[15] = 1;
        self.enc
            .less_safe_encrypt(buf, lc::EncryptionContext::Iv128(block.into()))
            .map(|_| ())
            .map_err(|_| CryptoError::Backend("aes-ctr"))
    }

    fn decrypt(&self, iv: &[u8], buf: &mut [u8]) -> Result<()> {
        self.encrypt(iv, buf)
    }
}

/// DES-CBC and 3DES-CBC (RustCrypto `des` + `cbc`): legacy, for Windows Server 2003-era
/// peers. The key is kept (zeroized on drop) and the cipher keyed per call; legacy rates
/// make that cost irrelevant.
pub(crate) struct DesCbc {
    key: crate::Secret,
    triple: bool,
}

impl DesCbc {
    pub(crate) fn new(key: &[u8], triple: bool) -> Result<Self> {
        let want = if triple { 24 } else { 8 };
        if key.len() != want {
            return Err(CryptoError::BadLength {
                what: "des key",
                len: key.len(),
            });
        }
        Ok(Self {
            key: crate::Secret::from_slice(key),
            triple,
        })
    }
}

impl Cipher for DesCbc {
    fn block_size(&self) -> usize {
        8
    }

    fn iv_len(&self) -> usize {
        8
    }

    fn encrypt(&self, iv: &[u8], buf: &mut [u8]) -> Result<()> {
        check(8, buf)?;
        let bad = |_| CryptoError::BadLength {
            what: "des iv",
            len: iv.len(),
        };
        let blocks = buf.len() / 8;
        if self.triple {
            let c = cbc::Encryptor::<des::TdesEde3>::new_from_slices(self.key.expose(), iv)
                .map_err(bad)?;
            c.encrypt_padded::<cbc::cipher::block_padding::NoPadding>(buf, blocks * 8)
                .map_err(|_| CryptoError::Backend("3des"))?;
        } else {
            let c =
                cbc::Encryptor::<des::Des>::new_from_slices(self.key.expose(), iv).map_err(bad)?;
            c.encrypt_padded::<cbc::cipher::block_padding::NoPadding>(buf, blocks * 8)
                .map_err(|_| CryptoError::Backend("des"))?;
        }
        Ok(())
    }

    fn decrypt(&self, iv: &[u8], buf: &mut [u8]) -> Result<()> {
        check(8, buf)?;
        let bad = |_| CryptoError::BadLength {
            what: "des iv",
            len: iv.len(),
        };
        if self.triple {
            let c = cbc::Decryptor::<des::TdesEde3>::new_from_slices(self.key.expose(), iv)
                .map_err(bad)?;
            c.decrypt_padded::<cbc::cipher::block_padding::NoPadding>(buf)
                .map_err(|_| CryptoError::Backend("3des"))?;
        } else {
            let c =
                cbc::Decryptor::<des::Des>::new_from_slices(self.key.expose(), iv).map_err(bad)?;
            c.decrypt_padded::<cbc::cipher::block_padding::NoPadding>(buf)
                .map_err(|_| CryptoError::Backend("des"))?;
        }
        Ok(())
    }
}

/// ENCR_NULL (RFC 2410): no confidentiality, no IV.
pub(crate) struct NullCipher;

impl Cipher for NullCipher {
    fn block_size(&self) -> usize {
        1
    }

    fn iv_len(&self) -> usize {
        0
    }

    fn encrypt(&self, _iv: &[u8], _buf: &mut [u8]) -> Result<()> {
        Ok(())
    }

    fn decrypt(&self, _iv: &[u8], _buf: &mut [u8]) -> Result<()> {
        Ok(())
    }
}
