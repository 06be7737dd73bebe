//! End-to-end checks of the Cryptography Profile interface (RFC 7016 3.2, 3.5.1)
//! with the Flash profile (RFC 7425 section 4) and the transparent profile,
//! driven only through `dyn CryptoProfile`, as a session state machine drives it.

use rtmfp::crypto::flash::dh::DhGroup;
use rtmfp::crypto::flash::keying::KeyingComponent;
use rtmfp::crypto::flash::keylog::KeyLog;
use rtmfp::crypto::flash::signature::{Password, SignaturePolicy};
use rtmfp::crypto::flash::{DhKeyMode, FlashConfig, FlashProfile, NegotiationPolicy};
use rtmfp::crypto::inspect::{self, KeyUsed, Keys};
use rtmfp::crypto::transparent::TransparentProfile;
use rtmfp::crypto::{CryptoProfile, PacketCipher, SessionKeys};
use rtmfp::random::SeededRandom;

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
