//! Recomputes the keys strongSwan derived in real exchanges (tests/vectors, extracted from
//! charon's level-4 log and the capture, see tests/vectors/README.md) from their logged
//! inputs, with Oakley's key derivation: IKEv2 SKEYSEED and SK_*, child SA KEYMAT, IKEv1
//! SKEYID*, the appendix B encryption key and the first Phase 1 IV.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use crypto::Secret;
use crypto::kdf::{ikev1, ikev2};
use crypto::registry::{self, integ};

type Record = HashMap<String, String>;

fn records(text: &str) -> Vec<Record> {
    let mut out = Vec::new();
    let mut cur = Record::new();
    for line in text.lines().chain(std::iter::once("")) {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        if line.is_empty() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        for field in line.split_whitespace() {
            let (k, v) = field.split_once('=').expect("key=value");
            cur.insert(k.to_string(), v.to_string());
        }
    }
    out
}

fn bytes(r: &Record, k: &str) -> Vec<u8> {
    hex::decode(r.get(k).unwrap_or_else(|| panic!("missing {k}"))).expect("hex")
}

fn num(r: &Record, k: &str) -> u16 {
    r.get(k)
        .unwrap_or_else(|| panic!("missing {k}"))
        .parse()
        .expect("number")
}

fn check(r: &Record, k: &str, got: &Secret, what: &str) -> usize {
    match r.get(k) {
        Some(want) => {
            assert_eq!(hex::encode(got.expose()), *want, "{what}: {k}");
            1
        }
        None => 0,
    }
}

fn ikev2_record(r: &Record, what: &str) -> usize {
    let prf = registry::prf(num(r, "prf")).unwrap();
    let (ni, nr) = (bytes(r, "ni"), bytes(r, "nr"));
    let skeyseed = ikev2::skeyseed(prf, &ni, &nr, &bytes(r, "g_ir"));
    let mut n = check(r, "skeyseed", &skeyseed, what);
    let encr = registry::encryption(
        num(r, "encr"),
        Some(num(r, "encr_keylen")).filter(|&b| b != 0),
    )
    .unwrap();
    let integ_len = match num(r, "integ") {
        integ::NONE => 0,
        id => registry::integrity(id).unwrap().key_len,
    };
    let spi = |k| u64::from_str_radix(&r[k], 16).expect("spi");
    let keys = ikev2::ike_keys(
        prf,
        &skeyseed,
        &ni,
        &nr,
        spi("spii"),
        spi("spir"),
        ikev2::IkeKeyLengths {
            integ: integ_len,
            encr: encr.keymat_len,
        },
    )
    .unwrap();
    for (k, v) in [
        ("sk_d", &keys.sk_d),
        ("sk_ai", &keys.sk_ai),
        ("sk_ar", &keys.sk_ar),
        ("sk_ei", &keys.sk_ei),
        ("sk_er", &keys.sk_er),
        ("sk_pi", &keys.sk_pi),
        ("sk_pr", &keys.sk_pr),
    ] {
        n += check(r, k, v, what);
    }
    n
}

fn child_record(r: &Record, what: &str) -> usize {
    let prf = registry::prf(num(r, "prf")).unwrap();
    let encr_len = match num(r, "encr") {
        0 => 0,
        id => {
            registry::encryption(id, Some(num(r, "encr_keylen")).filter(|&b| b != 0))
                .unwrap()
                .keymat_len
        }
    };
    let integ_len = match num(r, "integ") {
        integ::NONE => 0,
        id => registry::integrity(id).unwrap().key_len,
    };
    // The logged seed is already [g^ir |] Ni | Nr.
    let keys = ikev2::child_keys(
        prf,
        &Secret::new(bytes(r, "sk_d")),
        None,
        &bytes(r, "seed"),
        &[],
        encr_len,
        integ_len,
    )
    .unwrap();
    check(r, "child_ei", &keys.ei, what)
        + check(r, "child_ai", &keys.ai, what)
        + check(r, "child_er", &keys.er, what)
        + check(r, "child_ar", &keys.ar, what)
}

fn ikev1_record(r: &Record, what: &str) -> usize {
    let prf = registry::ikev1::ike_hash(num(r, "hash")).unwrap();
    let skeyid = ikev1::skeyid_psk(prf, &bytes(r, "psk"), &bytes(r, "ni_b"), &bytes(r, "nr_b"));
    let mut n = check(r, "skeyid", &skeyid, what);
    let g_xy = bytes(r, "g_xy");
    let ck = |k| u64::from_str_radix(&r[k], 16).expect("cookie");
    let p1 = ikev1::phase1_keys(prf, &skeyid, &g_xy, ck("cky_i"), ck("cky_r"));
    n += check(r, "skeyid_d", &p1.skeyid_d, what);
    n += check(r, "skeyid_a", &p1.skeyid_a, what);
    n += check(r, "skeyid_e", &p1.skeyid_e, what);
    let encr =
        registry::ikev1::ike_encryption(num(r, "encr"), Some(num(r, "keylen")).filter(|&b| b != 0))
            .unwrap();
    let ka = ikev1::encryption_key(prf, &p1.skeyid_e, encr.keymat_len).unwrap();
    n += check(r, "enc_key", &ka, what);
    let iv = ikev1::phase1_iv(prf, &bytes(r, "g_xi"), &bytes(r, "g_xr"), encr.block_size);
    n += check(r, "iv", &Secret::new(iv), what);
    n
}

/// Quick Mode KEYMAT (RFC 2409 §5.5) per direction from the seed charon logs:
/// [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b, split here to drive `quick_mode_keymat`.
fn ikev1_qm_record(r: &Record, what: &str) -> usize {
    let prf = registry::ikev1::ike_hash(num(r, "hash")).unwrap();
    let d = Secret::new(bytes(r, "skeyid_d"));
    let encr_len = match num(r, "encr") {
        0 => 0,
        id => {
            registry::encryption(id, Some(num(r, "encr_keylen")).filter(|&b| b != 0))
                .unwrap()
                .keymat_len
        }
    };
    let integ_len = match num(r, "integ") {
        integ::NONE => 0,
        id => registry::integrity(id).unwrap().key_len,
    };
    let g = r.get("qm_g_xy").map(|_| bytes(r, "qm_g_xy"));
    let mut n = 0;
    for (seed_key, e, a) in [
        ("seed_i", "child_ei", "child_ai"),
        ("seed_r", "child_er", "child_ar"),
    ] {
        let seed = bytes(r, seed_key);
        let rest = match &g {
            Some(g) => {
                assert_eq!(
                    &seed[..g.len()],
                    &g[..],
                    "{what}: seed starts with g(qm)^xy"
                );
                &seed[g.len()..]
            }
            None => &seed[..],
        };
        let protocol = rest[0];
        let spi = u32::from_be_bytes(rest[1..5].try_into().unwrap());
        let km = ikev1::quick_mode_keymat(
            prf,
            &d,
            g.as_deref(),
            protocol,
            spi,
            &rest[5..],
            &[],
            encr_len + integ_len,
        )
        .unwrap();
        let (ke, ka) = km.expose().split_at(encr_len);
        n += check(r, e, &Secret::from_slice(ke), what);
        n += check(r, a, &Secret::from_slice(ka), what);
    }
    n
}

#[test]
fn strongswan_derivations_match() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    let mut files: Vec<_> = fs::read_dir(&dir)
        .expect("vectors dir")
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    let (mut v2, mut children, mut v1, mut qm, mut values) = (0, 0, 0, 0, 0);
    for f in files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
    {
        let what = f.file_name().unwrap().to_string_lossy().to_string();
        for r in records(&fs::read_to_string(f).unwrap()) {
            match r.get("kind").map(String::as_str) {
                Some("ikev2") => {
                    values += ikev2_record(&r, &what);
                    v2 += 1;
                }
                Some("ikev2-child") => {
                    values += child_record(&r, &what);
                    children += 1;
                }
                Some("ikev1") => {
                    values += ikev1_record(&r, &what);
                    v1 += 1;
                }
                Some("ikev1-qm") => {
                    values += ikev1_qm_record(&r, &what);
                    qm += 1;
                }
                other => panic!("{what}: unknown record kind {other:?}"),
            }
        }
    }
    // Both roles of every scenario: a missing or emptied file must fail this test.
    assert!(
        v2 >= 8 && children >= 12 && v1 >= 6 && qm >= 8,
        "records: {v2} ikev2, {children} child, {v1} ikev1, {qm} quick mode"
    );
    assert!(values >= 160, "only {values} values compared");
}
