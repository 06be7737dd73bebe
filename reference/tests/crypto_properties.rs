//! Property tests for the cryptography layer: no decoder or decryptor panics on
//! any input (RFC 7425 section 3: errors abort parsing, never the program), and
//! encryption round-trips in every configuration (RFC 7425 4.7).

use std::sync::OnceLock;

use proptest::prelude::*;

use rtmfp::crypto::flash::certificate::Certificate;
use rtmfp::crypto::flash::dh::{self, DhGroup};
use rtmfp::crypto::flash::endpoint_discriminator::EndpointDiscriminator;
use rtmfp::crypto::flash::keying::KeyingComponent;
use rtmfp::crypto::flash::keylog::KeyLog;
use rtmfp::crypto::flash::packet::{DirectionSettings, FlashPacketCipher, PacketKey};
use rtmfp::crypto::flash::signature::{self, Password, SignaturePolicy};
use rtmfp::crypto::flash::{DhKeyMode, FlashConfig, FlashInitiatorKeying, FlashProfile};
use rtmfp::crypto::inspect::{self, Keys};
use rtmfp::crypto::transparent::TransparentCipher;
use rtmfp::crypto::{CryptoProfile, InitiatorKeying, PacketCipher};
use rtmfp::random::SeededRandom;

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

fn settings() -> impl Strategy<Value = DirectionSettings> {
    (
        prop_oneof![Just(None), (4usize..=32).prop_map(Some)],
        any::<bool>(),
    )
        .prop_map(|(hmac_length, sequence_numbers)| DirectionSettings {
            hmac_length,
            sequence_numbers,
        })
}

/// Two small profiles (group 2 only) and an initiator keying between them, made once.
struct Fixture {
    responder: FlashProfile,
    static_initiator: FlashProfile,
    keying: FlashInitiatorKeying,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let mut rng = SeededRandom::new(1);
        let small = |mode| FlashConfig {
            groups: vec![DhGroup::Modp1024],
            key_mode: mode,
            ..FlashConfig::default()
        };
        let responder = FlashProfile::new(small(DhKeyMode::Ephemeral), &mut rng).unwrap();
        let static_initiator = FlashProfile::new(small(DhKeyMode::Static), &mut rng).unwrap();
        let keying = static_initiator
            .start_initiator(responder.near_certificate(), &mut rng)
            .unwrap();
        Fixture {
            responder,
            static_initiator,
            keying,
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn structure_decoders_never_panic(b in bytes(200)) {
        let _ = Certificate::decode(&b);
        let _ = EndpointDiscriminator::decode(&b);
        let _ = KeyingComponent::decode(&b);
        for g in [DhGroup::Modp1024, DhGroup::Modp4096] {
            let _ = dh::check_public_key(g, &b);
        }
        let policy = SignaturePolicy {
            verify_with: vec![Password::new("id", "pw")],
            require: true,
            ..SignaturePolicy::default()
        };
        let _ = signature::verify(&[b"m"], &b, &policy);
    }

    #[test]
    fn decoded_structures_reencode_to_what_they_decoded(b in bytes(120)) {
        if let Ok(c) = KeyingComponent::decode(&b) {
            prop_assert_eq!(KeyingComponent::decode(&c.encode()).unwrap(), c);
        }
        if let Ok(e) = EndpointDiscriminator::decode(&b) {
            prop_assert_eq!(EndpointDiscriminator::decode(&e.encode()).unwrap(), e);
        }
    }

    #[test]
    fn decryptors_never_panic(b in bytes(120), s in settings()) {
        let key = PacketKey::new(&[9; 16], &[8; 32], s);
        let _ = key.open(&b, &mut Vec::new());
        let mut c = FlashPacketCipher::new(key.clone(), key);
        let _ = c.decrypt(&b, &mut Vec::new());
        let _ = TransparentCipher.decrypt(&b, &mut Vec::new());
        let _ = inspect::decrypt_datagram(&b, &Keys { raw: vec![[1; 16]], ..Keys::default() });
    }

    #[test]
    fn key_log_parser_never_panics(s in "\\PC{0,200}", t in "RTMFP_KEYLOG( [a-z_]{1,12}=[0-9a-f]{0,8}){0,16}") {
        let _ = KeyLog::parse(&s);
        let _ = KeyLog::parse(&t);
        let _ = KeyLog::parse_all(&format!("{s}\n{t}"));
    }

    // RFC 7425 4.7: what one end encrypts, the other decrypts, in every configuration.
    #[test]
    fn encrypt_decrypt_round_trip(plain in bytes(1500), s in settings(), seq in any::<u64>()) {
        let key = PacketKey::new(&[3; 16], &[4; 32], s);
        let mut enc = Vec::new();
        key.encrypt(Some(seq), &plain, &mut enc);
        prop_assert_eq!(enc.len(), key.encrypted_len(plain.len(), s.sequence_numbers.then_some(seq)));
        let mut out = Vec::new();
        let opened = key.open(&enc, &mut out).unwrap();
        prop_assert_eq!(opened.sequence, s.sequence_numbers.then_some(seq));
        let body = &out[opened.packet_start..];
        prop_assert_eq!(&body[..plain.len()], &plain[..]);
        prop_assert!(body[plain.len()..].iter().all(|&b| b == 0xff));
        prop_assert!(body[plain.len()..].len() < 16 || plain.is_empty());
    }

    // RFC 7425 4.7.3: any single bit flipped in an encrypted packet is caught by
    // the HMAC; with the checksum, flips in the last block always are (a flip
    // garbles that block's plaintext, so the checksum changes unless the
    // garbling happens to preserve the sum).
    #[test]
    fn hmac_catches_every_bit_flip(plain in bytes(100), bit in any::<prop::sample::Index>(), len in 4usize..=32) {
        let key = PacketKey::new(&[3; 16], &[4; 32], DirectionSettings { hmac_length: Some(len), sequence_numbers: true });
        let mut enc = Vec::new();
        key.encrypt(Some(7), &plain, &mut enc);
        let i = bit.index(enc.len() * 8);
        enc[i / 8] ^= 1 << (i % 8);
        prop_assert_eq!(key.open(&enc, &mut Vec::new()).unwrap_err().kind(), "bad_hmac");
    }

    // RFC 7016 3.5.1.1.2: whatever the SKIC, the responder answers or refuses, never panics.
    #[test]
    fn keying_never_panics(skic in bytes(300), skrc in bytes(300), cert in bytes(80)) {
        let f = fixture();
        let mut rng = SeededRandom::new(2);
        let _ = f.responder.responder_keying(f.static_initiator.near_certificate(), &skic, &mut rng);
        let _ = f.responder.responder_keying(&cert, &skic, &mut rng);
        let _ = f.keying.complete(&skrc);
        let _ = f.responder.epd_selects_near(&cert);
        let _ = f.responder.epd_selects_certificate(&skic, &cert);
        let _ = f.responder.canonical_epd(&cert);
    }

    // Mutating a valid SKIC (one byte) never panics and either keys or refuses.
    #[test]
    fn mutated_skic_never_panics(at in any::<prop::sample::Index>(), v in any::<u8>()) {
        let f = fixture();
        let mut skic = f.keying.skic().to_vec();
        let i = at.index(skic.len());
        skic[i] = v;
        let mut rng = SeededRandom::new(3);
        let _ = f.responder.responder_keying(f.static_initiator.near_certificate(), &skic, &mut rng);
    }
}
