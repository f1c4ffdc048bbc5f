//! IKE key derivation: IKEv2 (RFC 7296 §2.14, §2.17, §2.18) and IKEv1 (RFC 2409 §5,
//! §5.5 and appendix B). Every output is a [`Secret`].

use crate::error::{CryptoError, Result};
use crate::prf::Prf;
use crate::secret::Secret;

/// IKEv2 derivations.
pub mod ikev2 {
    use super::*;

    /// SKEYSEED = prf(Ni | Nr, g^ir) (§2.14).
    pub fn skeyseed(prf: Prf, ni: &[u8], nr: &[u8], g_ir: &[u8]) -> Secret {
        let key = [ni, nr].concat();
        let out = prf.compute(&key, &[g_ir]);
        drop(Secret::new(key));
        out
    }

    /// SKEYSEED of a rekeyed IKE SA = prf(SK_d (old), g^ir (new) | Ni | Nr) (§2.18).
    pub fn rekey_skeyseed(
        prf: Prf,
        sk_d_old: &Secret,
        g_ir_new: &[u8],
        ni: &[u8],
        nr: &[u8],
    ) -> Secret {
        prf.compute(sk_d_old.expose(), &[g_ir_new, ni, nr])
    }

    /// Lengths of the IKE SA keys: integrity key (0 for AEAD) and encryption keying
    /// material (key plus salt for AEAD, §3.3.5 / RFC 5282 §7.1).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct IkeKeyLengths {
        pub integ: usize,
        pub encr: usize,
    }

    /// The seven keys of an IKE SA.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct IkeKeys {
        pub sk_d: Secret,
        pub sk_ai: Secret,
        pub sk_ar: Secret,
        pub sk_ei: Secret,
        pub sk_er: Secret,
        pub sk_pi: Secret,
        pub sk_pr: Secret,
    }

    /// {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} = prf+(SKEYSEED, Ni | Nr |
    /// SPIi | SPIr) (§2.14); SK_d, SK_pi and SK_pr are as long as the PRF output.
    pub fn ike_keys(
        prf: Prf,
        skeyseed: &Secret,
        ni: &[u8],
        nr: &[u8],
        spi_i: u64,
        spi_r: u64,
        lens: IkeKeyLengths,
    ) -> Result<IkeKeys> {
        let p = prf.output_len();
        let total = 3 * p + 2 * lens.integ + 2 * lens.encr;
        let mut km = prf.prf_plus(
            skeyseed.expose(),
            &[ni, nr, &spi_i.to_be_bytes(), &spi_r.to_be_bytes()],
            total,
        )?;
        let mut take = |n| km.take_front(n).ok_or(CryptoError::Backend("prf+ length"));
        Ok(IkeKeys {
            sk_d: take(p)?,
            sk_ai: take(lens.integ)?,
            sk_ar: take(lens.integ)?,
            sk_ei: take(lens.encr)?,
            sk_er: take(lens.encr)?,
            sk_pi: take(p)?,
            sk_pr: take(p)?,
        })
    }

    /// Keys of one child SA, per direction.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ChildKeys {
        /// Encryption keying material, initiator to responder (key | salt for AEAD).
        pub ei: Secret,
        /// Integrity key, initiator to responder.
        pub ai: Secret,
        pub er: Secret,
        pub ar: Secret,
    }

    /// KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr) (§2.17), taken as encryption then
    /// integrity key for initiator-to-responder, then the same for the reverse direction.
    pub fn child_keys(
        prf: Prf,
        sk_d: &Secret,
        g_ir_pfs: Option<&[u8]>,
        ni: &[u8],
        nr: &[u8],
        encr_len: usize,
        integ_len: usize,
    ) -> Result<ChildKeys> {
        let seed: Vec<&[u8]> = match g_ir_pfs {
            Some(g) => vec![g, ni, nr],
            None => vec![ni, nr],
        };
        let mut km = prf.prf_plus(sk_d.expose(), &seed, 2 * (encr_len + integ_len))?;
        let mut take = |n| km.take_front(n).ok_or(CryptoError::Backend("prf+ length"));
        Ok(ChildKeys {
            ei: take(encr_len)?,
            ai: take(integ_len)?,
            er: take(encr_len)?,
            ar: take(integ_len)?,
        })
    }
}

/// IKEv1 derivations.
pub mod ikev1 {
    use super::*;

    /// SKEYID for pre-shared keys = prf(pre-shared-key, Ni_b | Nr_b) (RFC 2409 §5).
    pub fn skeyid_psk(prf: Prf, psk: &[u8], ni_b: &[u8], nr_b: &[u8]) -> Secret {
        prf.compute(psk, &[ni_b, nr_b])
    }

    /// SKEYID for signatures = prf(Ni_b | Nr_b, g^xy) (RFC 2409 §5).
    pub fn skeyid_sig(prf: Prf, ni_b: &[u8], nr_b: &[u8], g_xy: &[u8]) -> Secret {
        let key = Secret::new([ni_b, nr_b].concat());
        prf.compute(key.expose(), &[g_xy])
    }

    /// SKEYID_d, SKEYID_a and SKEYID_e.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Phase1Keys {
        pub skeyid_d: Secret,
        pub skeyid_a: Secret,
        pub skeyid_e: Secret,
    }

    /// SKEYID_d = prf(SKEYID, g^xy | CKY-I | CKY-R | 0), SKEYID_a = prf(SKEYID, SKEYID_d |
    /// g^xy | CKY-I | CKY-R | 1), SKEYID_e = prf(SKEYID, SKEYID_a | g^xy | CKY-I | CKY-R | 2).
    pub fn phase1_keys(
        prf: Prf,
        skeyid: &Secret,
        g_xy: &[u8],
        cky_i: u64,
        cky_r: u64,
    ) -> Phase1Keys {
        let (ci, cr) = (cky_i.to_be_bytes(), cky_r.to_be_bytes());
        let k = skeyid.expose();
        let d = prf.compute(k, &[g_xy, &ci, &cr, &[0]]);
        let a = prf.compute(k, &[d.expose(), g_xy, &ci, &cr, &[1]]);
        let e = prf.compute(k, &[a.expose(), g_xy, &ci, &cr, &[2]]);
        Phase1Keys {
            skeyid_d: d,
            skeyid_a: a,
            skeyid_e: e,
        }
    }

    /// The Phase 1 encryption key of `len` bytes from SKEYID_e (RFC 2409 appendix B): its
    /// first bytes when long enough, else Ka = K1 | K2 | ... with K1 = prf(SKEYID_e, 0)
    /// and Kn = prf(SKEYID_e, Kn-1).
    pub fn encryption_key(prf: Prf, skeyid_e: &Secret, len: usize) -> Result<Secret> {
        if len <= skeyid_e.len() {
            return Ok(Secret::from_slice(&skeyid_e.expose()[..len]));
        }
        if len > 255 * prf.output_len() {
            return Err(CryptoError::PrfPlusTooLong { len });
        }
        let mut out = Vec::with_capacity(len + prf.output_len());
        let mut k = prf.compute(skeyid_e.expose(), &[&[0]]);
        out.extend_from_slice(k.expose());
        while out.len() < len {
            k = prf.compute(skeyid_e.expose(), &[k.expose()]);
            out.extend_from_slice(k.expose());
        }
        out.truncate(len);
        Ok(Secret::new(out))
    }

    /// The first Phase 1 IV = hash(g^xi | g^xr), truncated to the cipher's block size
    /// (RFC 2409 appendix B).
    pub fn phase1_iv(prf: Prf, g_xi: &[u8], g_xr: &[u8], block_size: usize) -> Vec<u8> {
        let mut h = prf.hash(&[g_xi, g_xr]);
        h.truncate(block_size);
        h
    }

    /// The IV of the first message of a Quick Mode or Informational exchange:
    /// hash(last Phase 1 CBC block | M-ID) truncated to the block size (appendix B).
    pub fn exchange_iv(
        prf: Prf,
        last_phase1_block: &[u8],
        message_id: u32,
        block_size: usize,
    ) -> Vec<u8> {
        let mut h = prf.hash(&[last_phase1_block, &message_id.to_be_bytes()]);
        h.truncate(block_size);
        h
    }

    /// Quick Mode KEYMAT for one SA (RFC 2409 §5.5): prf(SKEYID_d, [g(qm)^xy |] protocol |
    /// SPI | Ni_b | Nr_b), expanded as K1 | K2 | ... with Kn = prf(SKEYID_d, Kn-1 | ...).
    #[allow(clippy::too_many_arguments)]
    pub fn quick_mode_keymat(
        prf: Prf,
        skeyid_d: &Secret,
        g_qm: Option<&[u8]>,
        protocol: u8,
        spi: u32,
        ni_b: &[u8],
        nr_b: &[u8],
        len: usize,
    ) -> Result<Secret> {
        if len > 255 * prf.output_len() {
            return Err(CryptoError::PrfPlusTooLong { len });
        }
        let spi = spi.to_be_bytes();
        let proto = [protocol];
        let mut tail: Vec<&[u8]> = Vec::with_capacity(5);
        if let Some(g) = g_qm {
            tail.push(g);
        }
        tail.extend_from_slice(&[&proto, &spi, ni_b, nr_b]);
        let mut out = Vec::with_capacity(len + prf.output_len());
        let mut k = prf.compute(skeyid_d.expose(), &tail);
        out.extend_from_slice(k.expose());
        while out.len() < len {
            let mut parts: Vec<&[u8]> = vec![k.expose()];
            parts.extend_from_slice(&tail);
            let next = prf.compute(skeyid_d.expose(), &parts);
            k = next;
            out.extend_from_slice(k.expose());
        }
        out.truncate(len);
        Ok(Secret::new(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: Prf = Prf::HMAC_SHA1;

    #[test]
    fn ikev1_signature_skeyid_and_quick_mode_keymat() {
        // SKEYID = prf(Ni_b | Nr_b, g^xy) for signatures.
        let s = ikev1::skeyid_sig(P, b"ni", b"nr", b"gxy");
        assert_eq!(s, P.compute(b"ninr", &[b"gxy"]));
        // KEYMAT with PFS: K1 = prf(SKEYID_d, g(qm)^xy | protocol | SPI | Ni_b | Nr_b),
        // K2 = prf(SKEYID_d, K1 | the same).
        let d = Secret::from_slice(b"skeyid_d");
        let spi = 0x11223344u32.to_be_bytes();
        let km =
            ikev1::quick_mode_keymat(P, &d, Some(b"gqm"), 3, 0x11223344, b"ni", b"nr", 36).unwrap();
        let k1 = P.compute(b"skeyid_d", &[b"gqm", &[3], &spi, b"ni", b"nr"]);
        let k2 = P.compute(
            b"skeyid_d",
            &[k1.expose(), b"gqm", &[3], &spi, b"ni", b"nr"],
        );
        assert_eq!(km.expose(), [k1.expose(), &k2.expose()[..16]].concat());
        let no_pfs =
            ikev1::quick_mode_keymat(P, &d, None, 3, 0x11223344, b"ni", b"nr", 20).unwrap();
        assert_eq!(no_pfs, P.compute(b"skeyid_d", &[&[3], &spi, b"ni", b"nr"]));
        // IVs are the hash truncated to the block.
        assert_eq!(
            ikev1::exchange_iv(P, b"last", 7, 8),
            P.hash(&[b"last", &[0, 0, 0, 7]])[..8]
        );
    }

    #[test]
    fn ikev2_rekey_and_pfs_child() {
        let old = Secret::from_slice(b"sk_d");
        assert_eq!(
            ikev2::rekey_skeyseed(P, &old, b"gir", b"ni", b"nr"),
            P.compute(b"sk_d", &[b"girninr"])
        );
        let with_pfs = ikev2::child_keys(P, &old, Some(b"gir"), b"ni", b"nr", 16, 20).unwrap();
        let km = P.prf_plus(b"sk_d", &[b"gir", b"ni", b"nr"], 72).unwrap();
        let all = [
            with_pfs.ei.expose(),
            with_pfs.ai.expose(),
            with_pfs.er.expose(),
            with_pfs.ar.expose(),
        ]
        .concat();
        assert_eq!(all, km.expose());
    }
}
