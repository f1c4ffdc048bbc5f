//! Authentication of the IKE_AUTH exchange (RFC 7296 §2.15). The octets each side signs
//! are the same whatever the method; a method turns them into an AUTH payload and checks
//! the peer's. Pre-shared keys now; certificates (RFC 7427 digital signatures) and EAP
//! slot in as further [`AuthMethod`] variants.

use crypto::Secret;
use crypto::prf::Prf;
use wire::ikev2::{Auth, Identification, auth_method};

use crate::config::AuthMethod;

/// The inputs of one side's AUTH (§2.15): its IKE_SA_INIT message as sent, the peer's
/// nonce, its SK_p and its identity.
pub(crate) struct SignedOctets<'a> {
    pub prf: Prf,
    pub message: &'a [u8],
    pub peer_nonce: &'a [u8],
    pub sk_p: &'a Secret,
    pub id: &'a Identification,
}

impl SignedOctets<'_> {
    /// The MACed identity: prf(SK_p, RestOfIDPayload).
    fn maced_id(&self) -> Secret {
        self.prf.compute(self.sk_p.expose(), &[&self.id.body()])
    }
}

/// The "Key Pad for IKEv2" of §2.15.
const KEY_PAD: &[u8] = b"Key Pad for IKEv2";

fn psk_mac(prf: Prf, psk: &Secret, octets: &SignedOctets<'_>) -> Secret {
    let key = prf.compute(psk.expose(), &[KEY_PAD]);
    let id = octets.maced_id();
    prf.compute(
        key.expose(),
        &[octets.message, octets.peer_nonce, id.expose()],
    )
}

/// Our AUTH payload.
pub(crate) fn sign(method: &AuthMethod, octets: &SignedOctets<'_>) -> Auth {
    match method {
        AuthMethod::Psk(psk) => Auth {
            method: auth_method::SHARED_KEY_MIC,
            data: psk_mac(octets.prf, psk, octets).expose().to_vec(),
        },
    }
}

/// Checks the peer's AUTH payload against what it must have signed.
pub(crate) fn verify(method: &AuthMethod, octets: &SignedOctets<'_>, auth: &Auth) -> bool {
    match method {
        AuthMethod::Psk(psk) => {
            auth.method == auth_method::SHARED_KEY_MIC
                && psk_mac(octets.prf, psk, octets).ct_eq(&auth.data)
        }
    }
}
