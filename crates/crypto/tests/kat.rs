//! Known-answer tests from the RFCs and standards that define each algorithm, run through
//! the registry (the path protocol code takes).

use crypto::registry::{self, Keyed, encr, integ, prf_id};
use crypto::{CryptoError, kex};

fn h(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    hex::decode(s).expect("hex")
}

fn cipher(id: u16, bits: Option<u16>, key: &[u8]) -> Box<dyn crypto::cipher::Cipher> {
    match registry::encryption(id, bits).unwrap().key(key).unwrap() {
        Keyed::Cipher(c) => c,
        Keyed::Aead(_) => panic!("expected a cipher"),
    }
}

fn aead(id: u16, bits: Option<u16>, keymat: &[u8]) -> Box<dyn crypto::aead::Aead> {
    match registry::encryption(id, bits).unwrap().key(keymat).unwrap() {
        Keyed::Aead(a) => a,
        Keyed::Cipher(_) => panic!("expected an aead"),
    }
}

#[test]
fn rfc2202_hmac_md5_and_sha1() {
    let prf = registry::prf(prf_id::HMAC_MD5).unwrap();
    assert_eq!(
        prf.compute(&[0x0b; 16], &[b"Hi There"]).expose(),
        h("9294727a3638bb1c13f48ef8158bfc9d")
    );
    assert_eq!(
        prf.compute(b"Jefe", &[b"what do ya want ", b"for nothing?"])
            .expose(),
        h("750c783e6ab0b503eaa86e310a5db738")
    );
    let prf = registry::prf(prf_id::HMAC_SHA1).unwrap();
    assert_eq!(
        prf.compute(&[0x0b; 20], &[b"Hi There"]).expose(),
        h("b617318655057264e28bc0b6fb378c8ef146be00")
    );
    assert_eq!(
        prf.compute(b"Jefe", &[b"what do ya want for nothing?"])
            .expose(),
        h("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")
    );
    // The -96 integrity transforms are the same MACs truncated (RFC 2403, RFC 2404).
    let md5 = registry::integrity(integ::HMAC_MD5_96)
        .unwrap()
        .key(&[0x0b; 16])
        .unwrap();
    let mut icv = [0u8; 12];
    md5.compute(&[b"Hi ", b"There"], &mut icv).unwrap();
    assert_eq!(icv.to_vec(), h("9294727a3638bb1c13f48ef8"));
    md5.verify(&[b"Hi There"], &icv).unwrap();
    icv[11] ^= 1;
    assert_eq!(md5.verify(&[b"Hi There"], &icv), Err(CryptoError::BadIcv));
    let sha1 = registry::integrity(integ::HMAC_SHA1_96)
        .unwrap()
        .key(&[0x0b; 20])
        .unwrap();
    let mut icv = [0u8; 12];
    sha1.compute(&[b"Hi There"], &mut icv).unwrap();
    assert_eq!(icv.to_vec(), h("b617318655057264e28bc0b6"));
}

#[test]
fn rfc4231_hmac_sha2() {
    let data: &[u8] = b"Hi There";
    for (id, want) in [
        (
            prf_id::HMAC_SHA2_256,
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
        ),
        (
            prf_id::HMAC_SHA2_384,
            "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6",
        ),
        (
            prf_id::HMAC_SHA2_512,
            "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
        ),
    ] {
        assert_eq!(
            registry::prf(id)
                .unwrap()
                .compute(&[0x0b; 20], &[data])
                .expose(),
            h(want)
        );
    }
    // Test case 2 (short key "Jefe") and test case 5 (truncation to 128 bits, RFC 4868's
    // HMAC-SHA2-256-128 is exactly this truncation).
    assert_eq!(
        registry::prf(prf_id::HMAC_SHA2_256)
            .unwrap()
            .compute(b"Jefe", &[b"what do ya want for nothing?"])
            .expose(),
        h("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    );
    let i = registry::integrity(integ::HMAC_SHA2_256_128).unwrap();
    assert_eq!((i.key_len, i.icv_len), (32, 16));
    let k = i.key(&[0x0c; 32]).unwrap();
    let mut icv = [0u8; 16];
    k.compute(&[b"Test With Truncation"], &mut icv).unwrap();
    // Key longer than test case 5's 20 bytes: check against the untruncated PRF instead.
    let full = registry::prf(prf_id::HMAC_SHA2_256)
        .unwrap()
        .compute(&[0x0c; 32], &[b"Test With Truncation"]);
    assert_eq!(&icv[..], &full.expose()[..16]);
    let p = registry::prf(prf_id::HMAC_SHA2_256)
        .unwrap()
        .compute(&[0x0c; 20], &[b"Test With Truncation"]);
    assert_eq!(
        &p.expose()[..16],
        &h("a3b6167473100ee06e0c796c2955552b")[..]
    );
}

#[test]
fn rfc3602_aes_cbc() {
    let c = cipher(
        encr::AES_CBC,
        Some(128),
        &h("06a9214036b8a15b512e03d534120006"),
    );
    let mut buf = b"Single block msg".to_vec();
    c.encrypt(&h("3dafba429d9eb430b422da802c9fac41"), &mut buf)
        .unwrap();
    assert_eq!(buf, h("e353779c1079aeb82708942dbe77181a"));
    c.decrypt(&h("3dafba429d9eb430b422da802c9fac41"), &mut buf)
        .unwrap();
    assert_eq!(buf, b"Single block msg");
    let c = cipher(
        encr::AES_CBC,
        Some(128),
        &h("c286696d887c9aa0611bbb3e2025a45a"),
    );
    let mut buf: Vec<u8> = (0u8..32).collect();
    c.encrypt(&h("562e17996d093d28ddb3ba695a2e6f58"), &mut buf)
        .unwrap();
    assert_eq!(
        buf,
        h("d296cd94c2cccf8a3a863028b5e1dc0a7586602d253cfff91b8266bea6d61ab1")
    );
    // Not a block multiple: refused, never padded behind the caller's back.
    assert!(c.encrypt(&[0; 16], &mut [0u8; 15]).is_err());
    assert!(c.encrypt(&[0; 8], &mut [0u8; 16]).is_err());
}

#[test]
fn rfc3686_aes_ctr() {
    // Test vector #1 and #2: key material is the AES key followed by the nonce.
    let c = cipher(
        encr::AES_CTR,
        Some(128),
        &h("ae6852f8121067cc4bf7a5765577f39e 00000030"),
    );
    let mut buf = b"Single block msg".to_vec();
    c.encrypt(&[0; 8], &mut buf).unwrap();
    assert_eq!(buf, h("e4095d4fb7a7b3792d6175a3261311b8"));
    let c = cipher(
        encr::AES_CTR,
        Some(128),
        &h("7e24067817fae0d743d6ce1f32539163 006cb6db"),
    );
    let mut buf: Vec<u8> = (0u8..32).collect();
    c.encrypt(&h("c0543b59da48d90b"), &mut buf).unwrap();
    assert_eq!(
        buf,
        h("5104a106168a72d9790d41ee8edad388eb2e1efc46da57c8fce630df9141be28")
    );
    c.decrypt(&h("c0543b59da48d90b"), &mut buf).unwrap();
    assert_eq!(buf, (0u8..32).collect::<Vec<_>>());
}

#[test]
fn gcm_spec_test_cases_all_icv_lengths() {
    // McGrew & Viega, "The Galois/Counter Mode of Operation", test cases 3 and 4 (the
    // vectors RFC 4106 relies on): 128-bit key, 96-bit IV. Key material = key | salt, the
    // salt being the first 4 IV bytes, the ESP IV the other 8 (RFC 4106 §4).
    let keymat = h("feffe9928665731c6d6a8f9467308308 cafebabe");
    let nonce: [u8; 12] = h("cafebabefacedbaddecaf888").try_into().unwrap();
    let pt = h(
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
    );
    let ct = h(
        "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
    );
    let aad = h("feedfacedeadbeeffeedfacedeadbeefabaddad2");
    let tag = h("5bc94fbc3221a5db94fae95ae7121a47");
    for (id, icv_len) in [
        (encr::AES_GCM_16, 16),
        (encr::AES_GCM_12, 12),
        (encr::AES_GCM_8, 8),
    ] {
        let a = aead(id, Some(128), &keymat);
        assert_eq!(a.icv_len(), icv_len);
        let mut buf = pt.clone();
        let mut icv = vec![0u8; icv_len];
        a.seal(&nonce, &aad, &mut buf, &mut icv).unwrap();
        assert_eq!(buf, ct, "id {id}");
        assert_eq!(icv, tag[..icv_len], "id {id}");
        a.open(&nonce, &aad, &mut buf, &icv).unwrap();
        assert_eq!(buf, pt);
        // A flipped ciphertext bit fails the ICV.
        let mut bad = ct.clone();
        bad[0] ^= 1;
        assert_eq!(
            a.open(&nonce, &aad, &mut bad, &icv),
            Err(CryptoError::BadIcv)
        );
    }
    // Test case 3: no AAD, 64-byte plaintext.
    let pt3 = [pt.clone(), h("1aafd255")].concat();
    let a = aead(encr::AES_GCM_16, Some(128), &keymat);
    let mut buf = pt3.clone();
    let mut icv = [0u8; 16];
    a.seal(&nonce, &[], &mut buf, &mut icv).unwrap();
    assert_eq!(&buf[..60], &ct[..]);
    assert_eq!(&buf[60..], &h("473f5985")[..]);
    assert_eq!(icv.to_vec(), h("4d5c2af327cd64a62cf35abd2ba6fab4"));
    // Test case 2: all-zero key, IV and block.
    let a = aead(encr::AES_GCM_16, Some(128), &[0u8; 20]);
    let mut buf = [0u8; 16];
    let mut icv = [0u8; 16];
    a.seal(&[0; 12], &[], &mut buf, &mut icv).unwrap();
    assert_eq!(buf.to_vec(), h("0388dace60b6a392f328c2b971b2fe78"));
    assert_eq!(icv.to_vec(), h("ab6e47d42cec13bdf53a67b21257bddf"));
}

#[test]
fn rfc8439_chacha20_poly1305() {
    // §2.8.2: key 80..9f, nonce = 07000000 | 4041424344454647 (RFC 7634: salt | IV).
    let keymat = [(0x80u8..=0x9f).collect::<Vec<u8>>(), h("07000000")].concat();
    let a = aead(encr::CHACHA20_POLY1305, None, &keymat);
    let nonce: [u8; 12] = h("070000004041424344454647").try_into().unwrap();
    let aad = h("50515253c0c1c2c3c4c5c6c7");
    let pt = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.".to_vec();
    let mut buf = pt.clone();
    let mut icv = [0u8; 16];
    a.seal(&nonce, &aad, &mut buf, &mut icv).unwrap();
    assert_eq!(&buf[..16], &h("d31a8d34648e60db7b86afbc53ef7ec2")[..]);
    assert_eq!(icv.to_vec(), h("1ae10b594f09e26a7e902ecbd0600691"));
    a.open(&nonce, &aad, &mut buf, &icv).unwrap();
    assert_eq!(buf, pt);
}

#[test]
fn des_and_3des_known_answers() {
    // FIPS 81 appendix C CBC example: key 0123456789abcdef, IV 1234567890abcdef.
    let c = cipher(encr::DES, None, &h("0123456789abcdef"));
    let mut buf = b"Now is the time for all ".to_vec();
    c.encrypt(&h("1234567890abcdef"), &mut buf).unwrap();
    assert_eq!(buf, h("e5c7cdde872bf27c43e934008c389c0f683788499a7c05f6"));
    c.decrypt(&h("1234567890abcdef"), &mut buf).unwrap();
    assert_eq!(buf, b"Now is the time for all ");
    // NIST SP 800-67 example (first block; CBC with a zero IV is ECB on one block).
    let c = cipher(
        encr::TRIPLE_DES,
        None,
        &h("0123456789abcdef 23456789abcdef01 456789abcdef0123"),
    );
    let mut buf = b"The qufc".to_vec();
    buf.copy_from_slice(&h("5468652071756663"));
    c.encrypt(&[0; 8], &mut buf).unwrap();
    assert_eq!(buf, h("a826fd8ce53b855f"));
}

fn agree(group: u16, i: &str, r: &str) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let alg = kex::by_group(group).unwrap();
    let a = alg.from_private(&h(i)).unwrap();
    let b = alg.from_private(&h(r)).unwrap();
    let s1 = a.shared_secret(b.public_value()).unwrap();
    let s2 = b.shared_secret(a.public_value()).unwrap();
    assert_eq!(s1, s2);
    (
        a.public_value().to_vec(),
        b.public_value().to_vec(),
        s1.expose().to_vec(),
    )
}

#[test]
fn rfc5903_ecp_256() {
    let (gi, gr, gir) = agree(
        19,
        "C88F01F510D9AC3F70A292DAA2316DE544E9AAB8AFE84049C62A9C57862D1433",
        "C6EF9C5D78AE012A011164ACB397CE2088685D8F06BF9BE0B283AB46476BEE53",
    );
    assert_eq!(
        gi,
        h(
            "DAD0B65394221CF9B051E1FECA5787D098DFE637FC90B9EF945D0C3772581180 5271A0461CDB8252D61F1C456FA3E59AB1F45B33ACCF5F58389E0577B8990BB3"
        )
    );
    assert_eq!(
        gr,
        h(
            "D12DFB5289C8D4F81208B70270398C342296970A0BCCB74C736FC7554494BF63 56FBF3CA366CC23E8157854C13C58D6AAC23F046ADA30F8353E74F33039872AB"
        )
    );
    // RFC 5903 §9 (errata 9): IKE uses only the x coordinate as g^ir.
    assert_eq!(
        gir,
        h("D6840F6B42F6EDAFD13116E0E12565202FEF8E9ECE7DCE03812464D04B9442DE")
    );
}

#[test]
fn rfc5903_ecp_384_and_521() {
    // §8.2: 384-bit random ECP group.
    let (gi, gr, gir) = agree(
        20,
        "099F3C7034D4A2C699884D73A375A67F7624EF7C6B3C0F160647B67414DCE655E35B538041E649EE3FAEF896783AB194",
        "41CB0779B4BDB85D47846725FBEC3C9430FAB46CC8DC5060855CC9BDA0AA2942E0308312916B8ED2960E4BD55A7448FC",
    );
    assert_eq!(gi, h("667842D7D180AC2CDE6F74F37551F55755C7645C20EF73E31634FE72B4C55EE6DE3AC808ACB4BDB4C88732AEE95F41AA
                      9482ED1FC0EEB9CAFC4984625CCFC23F65032149E0E144ADA024181535A0F38EEB9FCFF3C2C947DAE69B4C634573A81C"));
    assert_eq!(gr, h("E558DBEF53EECDE3D3FCCFC1AEA08A89A987475D12FD950D83CFA41732BC509D0D1AC43A0336DEF96FDA41D0774A3571
                      DCFBEC7AACF3196472169E838430367F66EEBE3C6E70C416DD5F0C68759DD1FFF83FA40142209DFF5EAAD96DB9E6386C"));
    assert_eq!(
        gir,
        h(
            "11187331C279962D93D604243FD592CB9D0A926F422E47187521287E7156C5C4D603135569B9E9D09CF5D4A270F59746"
        )
    );
    // §8.3: 521-bit random ECP group (66-byte coordinates).
    let (gi, gr, gir) = agree(
        21,
        "0037ADE9319A89F4DABDB3EF411AACCCA5123C61ACAB57B5393DCE47608172A095AA85A30FE1C2952C6771D937BA9777F5957B2639BAB072462F68C27A57382D4A52",
        "0145BA99A847AF43793FDD0E872E7CDFA16BE30FDC780F97BCCC3F078380201E9C677D600B343757A3BDBF2A3163E4C2F869CCA7458AA4A4EFFC311F5CB151685EB9",
    );
    assert_eq!(
        &gi[..66],
        &h(
            "0015417E84DBF28C0AD3C278713349DC7DF153C897A1891BD98BAB4357C9ECBEE1E3BF42E00B8E380AEAE57C2D107564941885942AF5A7F4601723C4195D176CED3E"
        )[..]
    );
    assert_eq!(
        &gi[66..],
        &h(
            "017CAE20B6641D2EEB695786D8C946146239D099E18E1D5A514C739D7CB4A10AD8A788015AC405D7799DC75E7B7D5B6CF2261A6A7F1507438BF01BEB6CA3926F9582"
        )[..]
    );
    assert_eq!(
        &gr[..66],
        &h(
            "00D0B3975AC4B799F5BEA16D5E13E9AF971D5E9B984C9F39728B5E5739735A219B97C356436ADC6E95BB0352F6BE64A6C2912D4EF2D0433CED2B6171640012D9460F"
        )[..]
    );
    assert_eq!(
        &gr[66..],
        &h(
            "015C68226383956E3BD066E797B623C27CE0EAC2F551A10C2C724D9852077B87220B6536C5C408A1D2AEBB8E86D678AE49CB57091F4732296579AB44FCD17F0FC56A"
        )[..]
    );
    assert_eq!(
        gir,
        h(
            "01144C7D79AE6956BC8EDB8E7C787C4521CB086FA64407F97894E5E6B2D79B04D1427E73CA4BAA240A34786859810C06B3C715A3A8CC3151F2BEE417996D19F3DDEA"
        )
    );
}

#[test]
fn rfc7748_x25519() {
    let (gi, gr, gir) = agree(
        31,
        "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
        "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
    );
    assert_eq!(
        gi,
        h("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
    );
    assert_eq!(
        gr,
        h("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
    );
    assert_eq!(
        gir,
        h("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
    );
}

#[test]
fn invalid_peer_values_are_refused() {
    for group in [19u16, 20, 21] {
        let alg = kex::by_group(group).unwrap();
        let a = alg.from_private(&vec![0x42; alg.private_len()]).unwrap();
        let n = alg.public_len();
        // Wrong length, all zeros (not on the curve / the identity), a point off the curve.
        for bad in [
            vec![1u8; n - 1],
            vec![1u8; n + 1],
            vec![0u8; n],
            vec![1u8; n],
        ] {
            assert_eq!(
                a.shared_secret(&bad),
                Err(CryptoError::InvalidPeerKey { group }),
                "group {group}"
            );
        }
        // A scalar of zero is not a private key.
        assert!(alg.from_private(&vec![0u8; alg.private_len()]).is_err());
    }
    let x = kex::by_group(31)
        .unwrap()
        .from_private(&[0x42; 32])
        .unwrap();
    // Small-order points give an all-zero secret (RFC 7748 §6.1): refused. 0 and 1 are
    // such points, as is the order-8 point e0eb7a7c...
    for bad in [
        vec![0u8; 32],
        {
            let mut one = vec![0u8; 32];
            one[0] = 1;
            one
        },
        h("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
        vec![0u8; 31],
    ] {
        assert_eq!(
            x.shared_secret(&bad),
            Err(CryptoError::InvalidPeerKey { group: 31 })
        );
    }
    assert!(matches!(
        kex::by_group(3),
        Err(CryptoError::Unsupported { .. })
    ));
}

#[test]
fn registry_lookups_and_lengths() {
    let g = registry::encryption(encr::AES_GCM_16, Some(256)).unwrap();
    assert_eq!(
        (g.keymat_len, g.salt_len, g.iv_len, g.icv_len),
        (36, 4, 8, 16)
    );
    assert!(g.is_aead());
    assert!(registry::encryption(encr::AES_CBC, None).is_err());
    assert!(registry::encryption(encr::AES_CBC, Some(100)).is_err());
    assert!(registry::encryption(encr::TRIPLE_DES, Some(128)).is_err());
    assert!(registry::encryption(99, None).is_err());
    assert!(registry::integrity(99).is_err());
    assert!(registry::prf(3).is_err());
    assert!(registry::encryption(encr::DES, None).unwrap().weak);
    assert!(kex::by_group(1).unwrap().weak);
    // IKEv1 numbering reaches the same algorithms.
    use registry::ikev1;
    assert_eq!(ikev1::ike_encryption(5, None).unwrap().id, encr::TRIPLE_DES);
    assert_eq!(ikev1::ike_encryption(7, None).unwrap().key_bits, 128);
    assert_eq!(ikev1::ike_hash(2).unwrap(), crypto::prf::Prf::HMAC_SHA1);
    assert_eq!(ikev1::esp_transform(3, None).unwrap().id, encr::TRIPLE_DES);
    assert_eq!(ikev1::esp_transform(20, Some(256)).unwrap().icv_len, 16);
    assert_eq!(
        ikev1::auth_algorithm(5).unwrap().id,
        integ::HMAC_SHA2_256_128
    );
    assert_eq!(ikev1::ah_transform(3).unwrap().id, integ::HMAC_SHA1_96);
    assert!(ikev1::esp_transform(4, None).is_err());
    // Key material of the wrong length is an error.
    assert!(g.key(&[0u8; 32]).is_err());
    assert!(
        registry::integrity(integ::HMAC_SHA1_96)
            .unwrap()
            .key(&[0; 16])
            .is_err()
    );
}

#[test]
fn prf_plus_follows_rfc7296() {
    let prf = registry::prf(prf_id::HMAC_SHA2_256).unwrap();
    let out = prf.prf_plus(b"key", &[b"seed"], 80).unwrap();
    let t1 = prf.compute(b"key", &[b"seed", &[1]]);
    let t2 = prf.compute(b"key", &[t1.expose(), b"seed", &[2]]);
    let t3 = prf.compute(b"key", &[t2.expose(), b"seed", &[3]]);
    assert_eq!(
        out.expose(),
        [t1.expose(), t2.expose(), &t3.expose()[..16]].concat()
    );
    assert!(prf.prf_plus(b"k", &[b"s"], 255 * 32).is_ok());
    assert_eq!(
        prf.prf_plus(b"k", &[b"s"], 255 * 32 + 1),
        Err(CryptoError::PrfPlusTooLong { len: 255 * 32 + 1 })
    );
}
