//! End-to-end checks of the Cryptography Profile interface (RFC 7016 3.2, 3.5.1)
//! with the Flash profile (RFC 7425 section 4) and the transparent profile,
//! driven only through `dyn CryptoProfile`, as a session state machine drives it.

use rtmfp::crypto::flash::certificate::{Certificate, CertificateBuilder};
use rtmfp::crypto::flash::dh::{DhGroup, PrivateKey};
use rtmfp::crypto::flash::keying::{KeyingComponent, Requirements};
use rtmfp::crypto::flash::keylog::KeyLog;
use rtmfp::crypto::flash::packet::{DirectionSettings, FlashPacketCipher, PacketKey};
use rtmfp::crypto::flash::session_keys::{self, Role};
use rtmfp::crypto::flash::signature::{Password, SignaturePolicy};
use rtmfp::crypto::flash::{DhKeyMode, FlashConfig, FlashProfile, NegotiationPolicy};
use rtmfp::crypto::inspect::{self, KeyUsed, Keys};
use rtmfp::crypto::transparent::TransparentProfile;
use rtmfp::crypto::{CryptoProfile, InitiatorKeying, PacketCipher, SessionKeys};
use rtmfp::random::SeededRandom;
use rtmfp::wire::Reader;
use rtmfp::wire::chunk::{Chunk, Ping};
use rtmfp::wire::option::{self, OptionItem};
use rtmfp::wire::packet::{Header, Mode, Packet, PlainPacket};

fn config(mode: DhKeyMode, groups: &[DhGroup]) -> FlashConfig {
    FlashConfig {
        key_mode: mode,
        groups: groups.to_vec(),
        ..FlashConfig::default()
    }
}

/// Runs IIKeying/RIKeying keying between two profiles; returns (initiator, responder) keys.
fn handshake(
    i: &dyn CryptoProfile,
    r: &dyn CryptoProfile,
    rng: &mut SeededRandom,
) -> (SessionKeys, SessionKeys) {
    // RFC 7016 3.5.1.1.1: the initiator checks the RHello certificate, then keys.
    r.check_certificate(i.near_certificate()).unwrap();
    i.check_certificate(r.near_certificate()).unwrap();
    let keying = i.initiator_keying(r.near_certificate(), rng).unwrap();
    let skic = keying.skic().to_vec();
    let signed = [b"isid+cookie".as_slice(), i.near_certificate(), &skic];
    let sig = i.sign(&signed, r.near_certificate());
    r.verify(i.near_certificate(), &signed, &sig).unwrap();
    // RFC 7016 3.5.1.1.2 step 3.
    let resp = r
        .responder_keying(i.near_certificate(), &skic, rng)
        .unwrap();
    let rsig = r.sign(&[b"rsid", &resp.skrc, &skic], i.near_certificate());
    i.verify(r.near_certificate(), &[b"rsid", &resp.skrc, &skic], &rsig)
        .unwrap();
    let ikeys = keying.complete(&resp.skrc).unwrap();
    (ikeys, resp.keys)
}

fn exchange(a: &mut dyn PacketCipher, b: &mut dyn PacketCipher, n: usize) {
    let mut enc = Vec::new();
    let mut plain = Vec::new();
    for k in 0..n {
        let packet: Vec<u8> = (0..(k * 37 % 300)).map(|x| (x * 7 + k) as u8).collect();
        a.encrypt(&packet, &mut enc).unwrap();
        b.decrypt(&enc, &mut plain).unwrap();
        assert_eq!(&plain[..packet.len()], &packet[..]);
        b.encrypt(&packet, &mut enc).unwrap();
        a.decrypt(&enc, &mut plain).unwrap();
        assert_eq!(&plain[..packet.len()], &packet[..]);
    }
}

// RFC 7425 4.6.1.1 to 4.6.1.4: all four public key selections give working, mirrored keys.
// spec: 7425-4.3.3.5-b, 7425-4.3.4-b, 7425-4.6-a, 7425-4.6.1.1-a, 7425-4.6.1.1-b, 7425-4.6.1.2-a
// spec: 7425-4.6.1.2-b, 7425-4.6.1.3-a, 7425-4.6.1.3-c, 7425-4.6.1.4-a, 7425-4.6.2-f, 7425-4.6.3-a
#[test]
fn four_public_key_selections_rfc7425_4_6_1() {
    let mut rng = SeededRandom::new(42);
    for (im, rm) in [
        (DhKeyMode::Ephemeral, DhKeyMode::Ephemeral),
        (DhKeyMode::Ephemeral, DhKeyMode::Static),
        (DhKeyMode::Static, DhKeyMode::Ephemeral),
        (DhKeyMode::Static, DhKeyMode::Static),
    ] {
        let i = FlashProfile::new(
            config(im, &[DhGroup::Modp2048, DhGroup::Modp1024]),
            &mut rng,
        )
        .unwrap();
        let r = FlashProfile::new(
            config(rm, &[DhGroup::Modp1024, DhGroup::Modp2048]),
            &mut rng,
        )
        .unwrap();
        let (mut ik, mut rk) = handshake(&i, &r, &mut rng);
        assert_eq!(ik.near_nonce, rk.far_nonce, "{im:?}/{rm:?}");
        assert_eq!(ik.far_nonce, rk.near_nonce);
        // The initiator's preference wins: group 14.
        let ilog = KeyLog::parse(ik.key_log.as_deref().unwrap()).unwrap();
        let rlog = KeyLog::parse(rk.key_log.as_deref().unwrap()).unwrap();
        assert_eq!(ilog.dh_group, 14);
        assert_eq!(ilog.dh_secret, rlog.dh_secret);
        assert_eq!(ilog.enc_key, rlog.dec_key);
        // Defaults: HMAC (16 bytes) and sequence numbers both ways.
        assert!(ilog.hmac_send && ilog.hmac_recv && ilog.sseq_send && ilog.sseq_recv);
        assert_eq!(ilog.hmac_send_len, Some(16));
        exchange(ik.cipher.as_mut(), rk.cipher.as_mut(), 20);
    }
}

// RFC 7425 4.6.4, 4.6.6: what each end sends follows the flags; both ends agree.
// spec: 7425-4.2-a, 7425-4.6.4-c, 7425-4.6.4-d, 7425-4.7.3.2-c, 7425-4.7.3.2-e
#[test]
fn negotiation_settings_are_mirrored_rfc7425_4_6_4() {
    let mut rng = SeededRandom::new(5);
    let mut a = config(DhKeyMode::Ephemeral, &[DhGroup::Modp1024]);
    a.hmac = NegotiationPolicy::off();
    a.hmac.flags.send_on_request = true;
    a.hmac_length = 4;
    a.sseq = NegotiationPolicy::off();
    let mut b = config(DhKeyMode::Ephemeral, &[DhGroup::Modp1024]);
    b.hmac_length = 32;
    b.sseq = NegotiationPolicy::off();
    b.sseq.flags.request = true;
    let a = FlashProfile::new(a, &mut rng).unwrap();
    let b = FlashProfile::new(b, &mut rng).unwrap();
    let (mut ak, mut bk) = handshake(&a, &b, &mut rng);
    let al = KeyLog::parse(ak.key_log.as_deref().unwrap()).unwrap();
    let bl = KeyLog::parse(bk.key_log.as_deref().unwrap()).unwrap();
    // a sends HMAC only on request, and b requests: a sends 4-byte HMACs.
    assert_eq!((al.hmac_send, al.hmac_send_len), (true, Some(4)));
    assert_eq!((bl.hmac_recv, bl.hmac_recv_len), (true, Some(4)));
    // b always sends 32-byte HMACs.
    assert_eq!((bl.hmac_send, bl.hmac_send_len), (true, Some(32)));
    assert_eq!(al.hmac_recv_len, Some(32));
    // b requests sequence numbers but a will never send them; neither sends.
    assert!(!al.sseq_send && !al.sseq_recv && !bl.sseq_send && !bl.sseq_recv);
    exchange(ak.cipher.as_mut(), bk.cipher.as_mut(), 5);
}

// spec: 7425-4.6.4-f
#[test]
fn requirements_refuse_rfc7425_4_6_4() {
    let mut rng = SeededRandom::new(6);
    let mut strict = config(DhKeyMode::Ephemeral, &[DhGroup::Modp1024]);
    strict.hmac.require = true;
    let mut lax = config(DhKeyMode::Ephemeral, &[DhGroup::Modp1024]);
    lax.hmac = NegotiationPolicy::off();
    let strict = FlashProfile::new(strict, &mut rng).unwrap();
    let lax = FlashProfile::new(lax, &mut rng).unwrap();
    // The responder refuses an initiator that will not send HMACs.
    let k = lax
        .initiator_keying(strict.near_certificate(), &mut rng)
        .unwrap();
    let e = strict
        .responder_keying(lax.near_certificate(), k.skic(), &mut rng)
        .unwrap_err();
    assert_eq!(e.kind(), "hmac_refused");
    // The initiator refuses a responder that will not.
    let k = strict
        .initiator_keying(lax.near_certificate(), &mut rng)
        .unwrap();
    let r = lax
        .responder_keying(strict.near_certificate(), k.skic(), &mut rng)
        .unwrap();
    assert_eq!(k.complete(&r.skrc).unwrap_err().kind(), "hmac_refused");
}

// spec: 7425-3-f, 7425-4.6.4-g
#[test]
fn no_common_group_and_bad_skrc() {
    let mut rng = SeededRandom::new(7);
    let a =
        FlashProfile::new(config(DhKeyMode::Ephemeral, &[DhGroup::Modp1024]), &mut rng).unwrap();
    let b = FlashProfile::new(config(DhKeyMode::Static, &[DhGroup::Modp1536]), &mut rng).unwrap();
    let e = a
        .initiator_keying(b.near_certificate(), &mut rng)
        .err()
        .unwrap();
    assert_eq!(e.kind(), "no_common_group");

    // A garbled RIKeying is refused and the keying state survives it
    // (RFC 7016 3.5.1.1.1: keep waiting for an acceptable RIKeying).
    let c =
        FlashProfile::new(config(DhKeyMode::Ephemeral, &[DhGroup::Modp1024]), &mut rng).unwrap();
    let k = a.initiator_keying(c.near_certificate(), &mut rng).unwrap();
    let r = c
        .responder_keying(a.near_certificate(), k.skic(), &mut rng)
        .unwrap();
    let mut bad = KeyingComponent::decode(&r.skrc).unwrap();
    if let Some(h) = bad.hmac.as_mut() {
        h.hmac_length = 99;
    }
    assert_eq!(
        k.complete(&bad.encode()).unwrap_err().kind(),
        "bad_hmac_length"
    );
    let truncated = &r.skrc[..r.skrc.len() - 1];
    assert!(k.complete(truncated).is_err());
    let mut ik = k.complete(&r.skrc).unwrap();
    let mut rk = r.keys;
    exchange(ik.cipher.as_mut(), rk.cipher.as_mut(), 3);
}

// RFC 7425 4.3.6 and 4.3.7 through the trait: exactly one end prevails.
// spec: 7016-3.2-h, 7016-3.2-i, 7425-4.3.6-c, 7425-4.3.6-d, 7425-4.3.7-a
#[test]
fn glare_has_one_winner_rfc7425_4_3_6() {
    let mut rng = SeededRandom::new(8);
    for _ in 0..5 {
        let a = FlashProfile::new(FlashConfig::server(), &mut rng).unwrap();
        let b = FlashProfile::new(FlashConfig::server(), &mut rng).unwrap();
        assert_ne!(
            a.near_prevails_in_glare(b.near_certificate()),
            b.near_prevails_in_glare(a.near_certificate())
        );
        assert!(a.near_prevails_in_glare(a.near_certificate()));
        assert!(a.overrides_session(a.near_certificate(), a.near_certificate()));
        assert!(!a.overrides_session(a.near_certificate(), b.near_certificate()));
    }
}

// RFC 7425 4.4: EPDs through the trait.
// spec: 7016-3.2-c, 7425-3-e, 7425-4.4.2-a, 7425-4.4.3-e, 7425-4.4.3-f, 7425-4.4.3-g, 7425-4.4.3-j
// spec: 7425-4.4.4-c
#[test]
fn epd_selection_through_the_trait_rfc7425_4_4_3() {
    let mut rng = SeededRandom::new(9);
    let server = FlashProfile::new(
        FlashConfig {
            hostname: Some(b"example.com".to_vec()),
            ..FlashConfig::server()
        },
        &mut rng,
    )
    .unwrap();
    let client = FlashProfile::new(FlashConfig::client(), &mut rng).unwrap();
    let uri_epd = [&[0x0a, 0x0a][..], b"rtmfp://x"].concat();
    assert!(server.epd_selects_near(&uri_epd).unwrap());
    assert!(!client.epd_selects_near(&uri_epd).unwrap());
    assert!(
        client
            .epd_selects_certificate(&uri_epd, server.near_certificate())
            .unwrap()
    );
    let canonical = client.canonical_epd(server.near_certificate()).unwrap();
    assert_eq!(canonical.len(), 34);
    assert!(server.epd_selects_near(&canonical).unwrap());
    assert!(!client.epd_selects_near(&canonical).unwrap());
    assert_eq!(
        server.epd_selects_near(&[0x05, 0x0a]).unwrap_err().kind(),
        "malformed"
    );
}

// RFC 7425 4.3.5.1.1 through the trait.
// spec: 7425-4.3.5-b, 7425-4.3.5-f, 7425-4.3.5.1-a, 7425-4.3.5.1.1-e
#[test]
fn simple_password_signatures_rfc7425_4_3_5() {
    let mut rng = SeededRandom::new(10);
    let pw = Password::new("app", "s3cret");
    let signing = FlashProfile::new(
        FlashConfig {
            signature: SignaturePolicy {
                sign_with: vec![pw.clone()],
                ..SignaturePolicy::default()
            },
            ..FlashConfig::default()
        },
        &mut rng,
    )
    .unwrap();
    let checking = FlashProfile::new(
        FlashConfig {
            signature: SignaturePolicy {
                verify_with: vec![pw],
                require: true,
                ..SignaturePolicy::default()
            },
            ..FlashConfig::default()
        },
        &mut rng,
    )
    .unwrap();
    let plain = FlashProfile::new(FlashConfig::default(), &mut rng).unwrap();
    let msg: [&[u8]; 2] = [b"signed ", b"parameters"];
    let sig = signing.sign(&msg, checking.near_certificate());
    checking
        .verify(signing.near_certificate(), &msg, &sig)
        .unwrap();
    let unsigned = plain.sign(&msg, checking.near_certificate());
    assert_eq!(unsigned, b"X");
    assert_eq!(
        checking
            .verify(plain.near_certificate(), &msg, &unsigned)
            .unwrap_err()
            .kind(),
        "signature_required"
    );
    assert_eq!(
        checking
            .verify(signing.near_certificate(), &[b"tampered"], &sig)
            .unwrap_err()
            .kind(),
        "bad_password"
    );
}

// The key log of a session lets `inspect` decrypt its packets in both directions.
// spec: 7425-4.2-d, 7425-4.6.6-b, 7425-4.7.2-a
#[test]
fn key_log_decrypts_captured_traffic() {
    let mut rng = SeededRandom::new(11);
    let i = FlashProfile::new(FlashConfig::client(), &mut rng).unwrap();
    let r = FlashProfile::new(FlashConfig::server(), &mut rng).unwrap();
    let (mut ik, mut rk) = handshake(&i, &r, &mut rng);
    let mut log = KeyLog::parse(ik.key_log.as_deref().unwrap()).unwrap();
    // Group 16 is the default preference, as in rtmfp-cpp.
    assert_eq!(log.dh_group, 16);
    let mut enc = Vec::new();
    let mut datagram = Vec::new();
    ik.cipher
        .encrypt(b"\x89\x00\x01from initiator", &mut enc)
        .unwrap();
    rtmfp::wire::multiplex::encode(0x1234, &enc, &mut datagram);
    // Without the logged lengths, the HMAC length is inferred.
    log.hmac_send_len = None;
    log.hmac_recv_len = None;
    let keys = Keys {
        key_logs: vec![log],
        ..Keys::default()
    };
    let got = inspect::decrypt_datagram(&datagram, &keys).unwrap();
    assert_eq!(
        got.key,
        KeyUsed::KeyLog {
            index: 0,
            sent: true
        }
    );
    assert_eq!(got.sequence, Some(0));
    assert_eq!(&got.plain[..17], b"\x89\x00\x01from initiator");
    rk.cipher
        .encrypt(b"\x8a\x00\x02from responder", &mut enc)
        .unwrap();
    datagram.clear();
    rtmfp::wire::multiplex::encode(0x99, &enc, &mut datagram);
    let got = inspect::decrypt_datagram(&datagram, &keys).unwrap();
    assert_eq!(
        got.key,
        KeyUsed::KeyLog {
            index: 0,
            sent: false
        }
    );
    assert_eq!(got.settings.hmac_length, Some(16));
}

#[test]
fn transparent_profile_drives_the_same_way() {
    let mut rng = SeededRandom::new(12);
    let a = TransparentProfile::new("a");
    let b = TransparentProfile::new("b");
    let (mut ak, mut bk) = handshake(&a, &b, &mut rng);
    assert!(ak.key_log.is_none());
    exchange(ak.cipher.as_mut(), bk.cipher.as_mut(), 5);
}

#[test]
fn seeded_profiles_are_deterministic() {
    let make = || {
        let mut rng = SeededRandom::new(99);
        let p = FlashProfile::new(FlashConfig::client(), &mut rng).unwrap();
        let r = FlashProfile::new(FlashConfig::server(), &mut rng).unwrap();
        let k = p.initiator_keying(r.near_certificate(), &mut rng).unwrap();
        (p.near_certificate().to_vec(), k.skic().to_vec())
    };
    assert_eq!(make(), make());
}

/// The option types and values of a keying component or certificate, in order,
/// read as a raw option sequence (so duplicates are seen, not refused).
fn raw_options(bytes: &[u8]) -> Vec<(u64, Vec<u8>)> {
    let mut r = Reader::new(bytes, "test");
    option::decode_sequence(&mut r)
        .unwrap()
        .into_iter()
        .filter_map(|item| match item {
            OptionItem::Option(o) => Some((o.option_type, o.value)),
            OptionItem::Marker => None,
        })
        .collect()
}

fn values_of(options: &[(u64, Vec<u8>)], option_type: u64) -> Vec<&[u8]> {
    options
        .iter()
        .filter(|(t, _)| *t == option_type)
        .map(|(_, v)| v.as_slice())
        .collect()
}

/// The VLU a key or Group Select option value starts with (its group ID) and its length.
fn leading_vlu(value: &[u8]) -> (u64, usize) {
    rtmfp::wire::vlu::decode(value).unwrap()
}

// RFC 7425 4.5.2 and 4.6.1: what each end puts in its keying component, for
// all four combinations of static and ephemeral certificates. The initiator
// prefers group 14, which both ends support in every case.
// spec: 7425-4.3.3.4-d, 7425-4.3.3.5-e, 7425-4.5.2.1-a, 7425-4.5.2.1-b, 7425-4.5.2.1-c
// spec: 7425-4.5.2.1-d, 7425-4.5.2.2-b, 7425-4.5.2.3-a, 7425-4.5.2.3-b, 7425-4.5.2.3-c
// spec: 7425-4.5.2.3-d, 7425-4.5.2.3-e, 7425-4.5.2.4-b, 7425-4.5.2.5-a, 7425-4.6.1.1-a
// spec: 7425-4.6.1.1-b, 7425-4.6.1.2-a, 7425-4.6.1.2-c, 7425-4.6.1.3-a, 7425-4.6.1.3-b
// spec: 7425-4.6.1.3-c, 7425-4.6.1.4-a, 7425-4.6.1.4-b, 7425-4.6.1.4-c
#[test]
fn keying_components_follow_the_public_key_selection_rfc7425_4_6_1() {
    const EPHEMERAL_KEY: u64 = 0x0d;
    const EXTRA_RANDOMNESS: u64 = 0x0e;
    const GROUP_SELECT: u64 = 0x1d;
    const HMAC_NEGOTIATION: u64 = 0x1a;
    const SSEQ_NEGOTIATION: u64 = 0x1e;
    let mut rng = SeededRandom::new(21);
    for (im, rm) in [
        (DhKeyMode::Ephemeral, DhKeyMode::Ephemeral),
        (DhKeyMode::Ephemeral, DhKeyMode::Static),
        (DhKeyMode::Static, DhKeyMode::Ephemeral),
        (DhKeyMode::Static, DhKeyMode::Static),
    ] {
        let i = FlashProfile::new(
            config(im, &[DhGroup::Modp2048, DhGroup::Modp1024]),
            &mut rng,
        )
        .unwrap();
        let r = FlashProfile::new(
            config(rm, &[DhGroup::Modp1024, DhGroup::Modp2048]),
            &mut rng,
        )
        .unwrap();
        let keying = i.start_initiator(r.near_certificate(), &mut rng).unwrap();
        assert_eq!(keying.group(), DhGroup::Modp2048);
        let (skrc, _) = r
            .respond(i.near_certificate(), keying.skic(), &mut rng)
            .unwrap();
        let skic = raw_options(keying.skic());
        let skrc = raw_options(&skrc);
        let case = format!("{im:?} initiator, {rm:?} responder");

        // Neither key option appears twice; only the initiator selects a group.
        for c in [&skic, &skrc] {
            assert!(values_of(c, EPHEMERAL_KEY).len() <= 1, "{case}");
            assert!(values_of(c, GROUP_SELECT).len() <= 1, "{case}");
        }
        assert!(values_of(&skrc, GROUP_SELECT).is_empty(), "{case}");

        match im {
            DhKeyMode::Static => {
                // One Group Select naming exactly group 14, extra randomness, no key.
                let select = values_of(&skic, GROUP_SELECT);
                assert_eq!(select.len(), 1, "{case}");
                assert_eq!(leading_vlu(select[0]), (14, select[0].len()), "{case}");
                assert!(values_of(&skic, EPHEMERAL_KEY).is_empty(), "{case}");
                assert!(i.certificate().static_key(14).is_some());
                assert!(r.certificate().supports_group(14));
                assert_eq!(values_of(&skic, EXTRA_RANDOMNESS).len(), 1, "{case}");
            }
            DhKeyMode::Ephemeral => {
                // One ephemeral key in group 14, which both certificates list; no Group Select.
                let key = values_of(&skic, EPHEMERAL_KEY);
                assert_eq!(key.len(), 1, "{case}");
                let (group, len) = leading_vlu(key[0]);
                assert_eq!(group, 14, "{case}");
                assert!(
                    key[0].len() > len,
                    "{case}: no public key after the group ID"
                );
                assert!(values_of(&skic, GROUP_SELECT).is_empty(), "{case}");
                assert!(i.certificate().supports_group(14) && r.certificate().supports_group(14));
            }
        }
        match rm {
            DhKeyMode::Static => {
                // No key of its own (it is in the certificate); extra randomness as salt.
                assert!(values_of(&skrc, EPHEMERAL_KEY).is_empty(), "{case}");
                assert_eq!(values_of(&skrc, EXTRA_RANDOMNESS).len(), 1, "{case}");
            }
            DhKeyMode::Ephemeral => {
                let key = values_of(&skrc, EPHEMERAL_KEY);
                assert_eq!(key.len(), 1, "{case}");
                assert_eq!(leading_vlu(key[0]).0, 14, "{case}: not the selected group");
            }
        }
        for c in [&skic, &skrc] {
            // 4.5.2.2: extra randomness, where sent, is 16 to 64 bytes.
            for x in values_of(c, EXTRA_RANDOMNESS) {
                assert!((16..=64).contains(&x.len()), "{case}: {} bytes", x.len());
            }
            // 4.5.2.4: SND or SOR set means a length of 4 to 32.
            for h in values_of(c, HMAC_NEGOTIATION) {
                let (length, _) = leading_vlu(&h[1..]);
                assert_ne!(
                    h[0] & 0x06,
                    0,
                    "{case}: the default configuration sends HMACs"
                );
                assert!((4..=32).contains(&length), "{case}: hmacLength {length}");
            }
            // 4.5.2.5: one flags byte.
            for s in values_of(c, SSEQ_NEGOTIATION) {
                assert_eq!(s.len(), 1, "{case}");
            }
        }
    }
}

// RFC 7425 4.5.2.4: hmacLength is 0 exactly when neither SND nor SOR is set.
// spec: 7425-4.5.2.4-b, 7425-4.5.2.4-c
#[test]
fn hmac_length_is_zero_exactly_when_not_sending_rfc7425_4_5_2_4() {
    let mut rng = SeededRandom::new(22);
    let responder =
        FlashProfile::new(config(DhKeyMode::Ephemeral, &[DhGroup::Modp1024]), &mut rng).unwrap();
    let policies = [
        (NegotiationPolicy::off(), 0u64),
        (
            NegotiationPolicy {
                require: true,
                ..NegotiationPolicy::off()
            },
            0,
        ),
        (
            {
                let mut p = NegotiationPolicy::off();
                p.flags.send_on_request = true;
                p
            },
            7,
        ),
        (NegotiationPolicy::offer_and_request(), 7),
    ];
    for (policy, want) in policies {
        let mut c = config(DhKeyMode::Ephemeral, &[DhGroup::Modp1024]);
        c.hmac = policy;
        c.hmac_length = 7;
        let p = FlashProfile::new(c, &mut rng).unwrap();
        let k = p
            .start_initiator(responder.near_certificate(), &mut rng)
            .unwrap();
        let skic = KeyingComponent::decode(k.skic()).unwrap();
        let h = skic.hmac.unwrap();
        assert_eq!(h.hmac_length, want, "{policy:?}");
        assert_eq!(
            h.hmac_length == 0,
            !(h.flags.send_always || h.flags.send_on_request),
            "{policy:?}"
        );
    }
    // A profile cannot be made to announce a length outside 4..=32.
    for bad in [0u8, 3, 33] {
        let mut c = config(DhKeyMode::Ephemeral, &[DhGroup::Modp1024]);
        c.hmac_length = bad;
        assert!(FlashProfile::new(c, &mut rng).is_err(), "hmac_length {bad}");
    }
}

// RFC 7425 4.3.3: the certificates this profile makes hold at most one
// Hostname, never both key modes, and at most one static key per group.
// spec: 7425-4.3.3.1-b, 7425-4.3.3.4-e, 7425-4.3.3.5-c, 7425-4.3.3.5-f
#[test]
fn near_certificates_follow_the_certificate_rules_rfc7425_4_3_3() {
    let mut rng = SeededRandom::new(23);
    let host = Some(b"example.com".to_vec());
    for config in [
        FlashConfig::client(),
        FlashConfig {
            hostname: host.clone(),
            ..FlashConfig::client()
        },
        FlashConfig::server(),
        FlashConfig {
            hostname: host,
            ..FlashConfig::server()
        },
        FlashConfig::default(),
    ] {
        let mode = config.key_mode;
        let p = FlashProfile::new(config, &mut rng).unwrap();
        let options = raw_options(p.near_certificate());
        assert!(values_of(&options, 0x00).len() <= 1, "{mode:?}");
        let groups = values_of(&options, 0x15);
        let statics = values_of(&options, 0x1d);
        assert!(groups.is_empty() || statics.is_empty(), "{mode:?}");
        let mut static_groups: Vec<u64> = statics.iter().map(|v| leading_vlu(v).0).collect();
        let n = static_groups.len();
        static_groups.sort_unstable();
        static_groups.dedup();
        assert_eq!(
            static_groups.len(),
            n,
            "{mode:?}: two static keys for one group"
        );
        match mode {
            DhKeyMode::Static => assert_eq!(n, 4),
            DhKeyMode::Ephemeral => assert_eq!(groups.len(), 4),
        }
    }
}

// RFC 7425 4.5.2.2: extra randomness salts the keys of a static-key end. Two
// sessions between the same two static identities share DH_SECRET, yet get
// different packet keys because the components' extra randomness differs.
// spec: 7425-4.5.2.2-c
#[test]
fn extra_randomness_salts_static_keys_rfc7425_4_5_2_2() {
    let mut rng = SeededRandom::new(24);
    let i = FlashProfile::new(config(DhKeyMode::Static, &[DhGroup::Modp1024]), &mut rng).unwrap();
    let r = FlashProfile::new(config(DhKeyMode::Static, &[DhGroup::Modp1024]), &mut rng).unwrap();
    let (first, _) = handshake(&i, &r, &mut rng);
    let (second, _) = handshake(&i, &r, &mut rng);
    let a = KeyLog::parse(first.key_log.as_deref().unwrap()).unwrap();
    let b = KeyLog::parse(second.key_log.as_deref().unwrap()).unwrap();
    assert_eq!(a.dh_secret, b.dh_secret);
    assert_ne!(a.enc_key, b.enc_key);
    assert_ne!(a.dec_key, b.dec_key);
    assert_ne!(a.near_nonce, b.near_nonce);
}

// RFC 7425 4.2: group 2 is required, 5 and 14 recommended, others allowed
// (16 here). Two ends that share only one group key a working session in it.
// spec: 7425-4.2-a, 7425-4.2-b, 7425-4.2-c, 7425-4.2-d
#[test]
fn each_group_alone_completes_a_handshake_rfc7425_4_2() {
    let mut rng = SeededRandom::new(25);
    for g in DhGroup::ALL {
        let i = FlashProfile::new(config(DhKeyMode::Ephemeral, &[g]), &mut rng).unwrap();
        let r = FlashProfile::new(config(DhKeyMode::Static, &[g]), &mut rng).unwrap();
        let (mut ik, mut rk) = handshake(&i, &r, &mut rng);
        let log = KeyLog::parse(ik.key_log.as_deref().unwrap()).unwrap();
        assert_eq!(log.dh_group, g.id());
        exchange(ik.cipher.as_mut(), rk.cipher.as_mut(), 3);
    }
}

/// `component` with its ephemeral public key replaced by `key` (same group).
fn with_public_key(component: &[u8], key: &[u8]) -> Vec<u8> {
    let mut c = KeyingComponent::decode(component).unwrap();
    let group = c.ephemeral_public_key.as_ref().unwrap().0;
    c.ephemeral_public_key = Some((group, key.to_vec()));
    c.encode()
}

// RFC 7425 4.6.2: a far public key below 2^24, above p - 2^24, with fewer than
// 16 one bits or fewer than 16 zero bits is refused, so neither end gets
// session keys (and so no session reaches S_OPEN) with it. The initiator's
// keying state survives the refusal.
// spec: 7425-4.6.2-a, 7425-4.6.2-b, 7425-4.6.2-c, 7425-4.6.2-d, 7425-4.6.2-e
#[test]
fn unacceptable_public_keys_never_give_session_keys_rfc7425_4_6_2() {
    let mut rng = SeededRandom::new(26);
    let i =
        FlashProfile::new(config(DhKeyMode::Ephemeral, &[DhGroup::Modp1024]), &mut rng).unwrap();
    let r =
        FlashProfile::new(config(DhKeyMode::Ephemeral, &[DhGroup::Modp1024]), &mut rng).unwrap();
    let p = DhGroup::Modp1024.prime();
    let margin = num_bigint::BigUint::from(1u32 << 24);
    let bad_keys: Vec<(&str, Vec<u8>)> = vec![
        ("2^24 - 1", (&margin - 1u32).to_bytes_be()),
        ("p - 2^24 + 1", (p - &margin + 1u32).to_bytes_be()),
        ("p - 1", (p - 1u32).to_bytes_be()),
        // 2^40 - 2^25: 15 one bits, 25 zero bits.
        ("15 ones", vec![0xff, 0xfe, 0x00, 0x00, 0x00]),
        // 2^40 - 2^15: 25 one bits, 15 zero bits.
        ("15 zeros", vec![0xff, 0xff, 0xff, 0x80, 0x00]),
    ];
    let keying = i.initiator_keying(r.near_certificate(), &mut rng).unwrap();
    let good = r
        .responder_keying(i.near_certificate(), keying.skic(), &mut rng)
        .unwrap();
    for (what, key) in &bad_keys {
        let skic = with_public_key(keying.skic(), key);
        let e = r
            .responder_keying(i.near_certificate(), &skic, &mut rng)
            .unwrap_err();
        assert_eq!(e.kind(), "unacceptable_public_key", "SKIC key {what}");
        let skrc = with_public_key(&good.skrc, key);
        let e = keying.complete(&skrc).unwrap_err();
        assert_eq!(e.kind(), "unacceptable_public_key", "SKRC key {what}");
    }
    let mut ik = keying.complete(&good.skrc).unwrap();
    let mut rk = good.keys;
    exchange(ik.cipher.as_mut(), rk.cipher.as_mut(), 2);
}

// RFC 7425 section 3: an option that overruns its keying component makes the
// whole component unusable, so no RIKeying is made for it; a misshapen known
// option does too.
// spec: 7425-3-e, 7425-3-f
#[test]
fn malformed_keying_components_are_refused_whole_rfc7425_3() {
    let mut rng = SeededRandom::new(27);
    let i =
        FlashProfile::new(config(DhKeyMode::Ephemeral, &[DhGroup::Modp1024]), &mut rng).unwrap();
    let r =
        FlashProfile::new(config(DhKeyMode::Ephemeral, &[DhGroup::Modp1024]), &mut rng).unwrap();
    let keying = i.initiator_keying(r.near_certificate(), &mut rng).unwrap();
    let overrun = [keying.skic(), &[0x05, 0x33]].concat();
    let e = r
        .responder_keying(i.near_certificate(), &overrun, &mut rng)
        .unwrap_err();
    assert_eq!(e.kind(), "malformed");
    let misshapen = [keying.skic(), &[0x03, 0x1e, 0x07, 0x07]].concat();
    let e = r
        .responder_keying(i.near_certificate(), &misshapen, &mut rng)
        .unwrap_err();
    assert_eq!(e.kind(), "bad_option");
    r.responder_keying(i.near_certificate(), keying.skic(), &mut rng)
        .unwrap();
}

// RFC 7425 4.5.2: keying option types not understood are ignored. An
// initiator built by hand puts unknown options around its key; the responder
// keys with it and both ends talk.
// spec: 7425-4.5.2-b
#[test]
fn unknown_keying_options_do_not_stop_keying_rfc7425_4_5_2() {
    let mut rng = SeededRandom::new(28);
    let r =
        FlashProfile::new(config(DhKeyMode::Ephemeral, &[DhGroup::Modp1024]), &mut rng).unwrap();
    let near = Certificate::decode(
        &CertificateBuilder {
            ephemeral_groups: vec![2],
            extra_randomness: Some(vec![0x42; 16]),
            ..CertificateBuilder::default()
        }
        .encode(),
    )
    .unwrap();
    let private = PrivateKey::generate(DhGroup::Modp1024, &mut rng).unwrap();
    let mut skic = vec![0x04, 0x33, 0x01, 0x02, 0x03, 0x00];
    skic.extend(
        KeyingComponent {
            ephemeral_public_key: Some((2, private.public_key().to_vec())),
            ..KeyingComponent::default()
        }
        .encode(),
    );
    skic.extend([0x03, 0xc0, 0x00, 0xff, 0x01, 0x7f]);
    let resp = r.responder_keying(&near.bytes, &skic, &mut rng).unwrap();
    let far = Certificate::decode(r.near_certificate()).unwrap();
    let keys = session_keys::agree(
        Role::Initiator,
        &private,
        &near,
        &far,
        &skic,
        &resp.skrc,
        Requirements::default(),
    )
    .unwrap();
    let mut ic = keys.cipher();
    let mut rk = resp.keys;
    exchange(&mut ic, rk.cipher.as_mut(), 3);
}

// RFC 7016 3.2: the profile's identity functions give the same answer every
// time for the same inputs (and a copy of the profile gives the same answers).
// spec: 7016-3.2-f
#[test]
fn identity_functions_are_deterministic_rfc7016_3_2() {
    let mut rng = SeededRandom::new(29);
    let pw = Password::new("app", "pw");
    let server = FlashProfile::new(
        FlashConfig {
            hostname: Some(b"h".to_vec()),
            signature: SignaturePolicy {
                sign_with: vec![pw.clone()],
                verify_with: vec![pw],
                require: true,
            },
            ..FlashConfig::server()
        },
        &mut rng,
    )
    .unwrap();
    let copy = server.clone();
    let client = FlashProfile::new(FlashConfig::client(), &mut rng).unwrap();
    let cc = client.near_certificate();
    let epds: [&[u8]; 4] = [
        &server.canonical_epd(server.near_certificate()).unwrap(),
        &[0x02, 0x00, b'h'],
        &[0x05, 0x0a, b'r', b't', b'm', b'f'],
        &[0x02, 0x00, b'x'],
    ];
    let parts: [&[u8]; 2] = [b"signed ", b"parameters"];
    let answers = |p: &FlashProfile| {
        let sig = p.sign(&parts, cc);
        (
            p.check_certificate(cc).is_ok(),
            epds.map(|e| p.epd_selects_near(e).ok()),
            epds.map(|e| p.epd_selects_certificate(e, cc).ok()),
            p.canonical_epd(cc).ok(),
            sig.clone(),
            p.verify(cc, &parts, &sig).is_ok(),
            p.verify(cc, &parts, b"X").is_ok(),
            p.near_prevails_in_glare(cc),
            p.overrides_session(cc, cc),
            p.overrides_session(cc, p.near_certificate()),
        )
    };
    let first = answers(&server);
    for _ in 0..3 {
        assert_eq!(answers(&server), first);
    }
    assert_eq!(answers(&copy), first);
    // The answers are the expected ones, so the repeats compare real results.
    assert!(first.0 && first.5 && !first.6 && first.8 && !first.9);
    assert_eq!(first.1, [Some(true), Some(true), Some(true), Some(false)]);
}

// RFC 7425 4.3.4: any well-formed certificate is authentic; only a malformed one is refused.
// spec: 7425-4.3.4-a
#[test]
fn any_well_formed_certificate_is_authentic_rfc7425_4_3_4() {
    let mut rng = SeededRandom::new(30);
    let p = FlashProfile::new(FlashConfig::default(), &mut rng).unwrap();
    let mut random = vec![0u8; 40];
    rtmfp::random::Random::fill(&mut rng, &mut random);
    let authentic: [Vec<u8>; 6] = [
        vec![],
        vec![0x00],
        vec![0x03, 0x33, 0x01, 0x02, 0x00, 0x02, 0x44, 0x05],
        [&[41, 0x0e][..], &random].concat(),
        CertificateBuilder {
            hostname: Some(b"example.org".to_vec()),
            ..CertificateBuilder::default()
        }
        .encode(),
        FlashProfile::new(FlashConfig::client(), &mut rng)
            .unwrap()
            .near_certificate()
            .to_vec(),
    ];
    for c in &authentic {
        p.check_certificate(c).unwrap();
    }
    assert_eq!(
        p.check_certificate(&[0x05, 0x00, b'a']).unwrap_err().kind(),
        "malformed"
    );
}

// RFC 7016 2.2.3: every encrypted packet decrypts on its own. The receiver
// gets a session's packets shuffled, with some lost, and opens each one; so
// does a fresh Default Session Key cipher with startup packets.
// spec: 7016-2.2.3-b
#[test]
fn packets_decrypt_alone_in_any_order_rfc7016_2_2_3() {
    let mut rng = SeededRandom::new(31);
    let i =
        FlashProfile::new(config(DhKeyMode::Ephemeral, &[DhGroup::Modp1024]), &mut rng).unwrap();
    let r =
        FlashProfile::new(config(DhKeyMode::Ephemeral, &[DhGroup::Modp1024]), &mut rng).unwrap();
    let (mut ik, mut rk) = handshake(&i, &r, &mut rng);
    let mut default_sender = i.default_cipher();
    for (sender, receiver) in [
        (ik.cipher.as_mut(), rk.cipher.as_mut()),
        (default_sender.as_mut(), r.default_cipher().as_mut()),
    ] {
        let packets: Vec<Vec<u8>> = (0..40u8).map(|n| vec![0x0d, n, n, n]).collect();
        let encrypted: Vec<Vec<u8>> = packets
            .iter()
            .map(|p| {
                let mut e = Vec::new();
                sender.encrypt(p, &mut e).unwrap();
                e
            })
            .collect();
        // Every seventh step through the 40 packets (7 and 40 are coprime),
        // skipping each one whose index is a multiple of 5.
        let order = (0..40).map(|k| k * 7 % 40).filter(|n| n % 5 != 0);
        let mut plain = Vec::new();
        for n in order {
            receiver.decrypt(&encrypted[n], &mut plain).unwrap();
            assert_eq!(&plain[..4], &packets[n][..], "packet {n}");
        }
    }
}

// RFC 7425 4.7.2: decryption hands back the plain RTMFP packet followed by its
// 0xff padding, which the RTMFP packet parser reads as padding (RFC 7016 2.2.4).
// spec: 7016-2.2.4-a, 7016-2.2.4-b, 7425-4.7.2-i
#[test]
fn decrypted_padding_is_rtmfp_padding_rfc7425_4_7_2() {
    for hmac_length in [None, Some(4), Some(16)] {
        for sequence_numbers in [false, true] {
            let settings = DirectionSettings {
                hmac_length,
                sequence_numbers,
            };
            let key = PacketKey::new(&[5; 16], &[6; 32], settings);
            let mut cipher = FlashPacketCipher::new(key.clone(), key);
            for len in 0..20 {
                let mut packet = Packet::new(Header::new(Mode::Responder));
                packet.chunks.push(Chunk::Ping(Ping {
                    message: vec![0x77; len],
                }));
                let mut bytes = Vec::new();
                packet.encode(&mut bytes).unwrap();
                let mut enc = Vec::new();
                cipher.encrypt(&bytes, &mut enc).unwrap();
                let mut plain = Vec::new();
                cipher.decrypt(&enc, &mut plain).unwrap();
                let p = PlainPacket::decode(&plain).unwrap();
                assert_eq!(p.to_packet().unwrap(), packet, "{settings:?} {len}");
                let (at, padding) = p.padding();
                assert_eq!(at, bytes.len());
                assert!(padding.len() < 16 && padding.iter().all(|&b| b == 0xff));
            }
        }
    }
}
