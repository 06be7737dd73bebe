//! The checking code for each kind of crypto vector (RFC 7425 section 4).
//!
//! `trials(file_stem, yaml)` turns one vector file into named test cases. Every
//! vector has a `name` and a `source`; it has either `expect` (the result) or
//! `error` (the stable kind name of the `CryptoError`, and for public keys the
//! reason). Byte strings are hex, whitespace ignored.

use libtest_mimic::{Failed, Trial};
use num_bigint::BigUint;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use rtmfp::crypto::flash::certificate::{self, Certificate};
use rtmfp::crypto::flash::checksum::checksum;
use rtmfp::crypto::flash::dh::{self, DhGroup, PrivateKey};
use rtmfp::crypto::flash::endpoint_discriminator::EndpointDiscriminator;
use rtmfp::crypto::flash::keying::{self, KeyingComponent, Requirements};
use rtmfp::crypto::flash::keylog::KeyLog;
use rtmfp::crypto::flash::packet::{DirectionSettings, FlashPacketCipher, PacketKey};
use rtmfp::crypto::flash::session_keys::{self, FlashSessionKeys, KeyMaterial, Role};
use rtmfp::crypto::flash::signature::{self, Password, SignaturePolicy};
use rtmfp::crypto::inspect::{self, KeyUsed, Keys};
use rtmfp::crypto::{CryptoError, PacketCipher};

type Check = Result<(), String>;

/// Bytes written as hex in the YAML.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Hex(Vec<u8>);

impl<'de> Deserialize<'de> for Hex {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        hex::decode(&compact)
            .map(Hex)
            .map_err(|e| serde::de::Error::custom(format!("bad hex: {e}")))
    }
}

impl Hex {
    fn b(&self) -> &[u8] {
        &self.0
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ErrorSpec {
    kind: String,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Deserialize)]
struct FileOf<V> {
    #[allow(dead_code)]
    kind: String,
    vectors: Vec<V>,
}

#[derive(Deserialize)]
struct Header {
    kind: String,
}

fn eq<T: PartialEq + core::fmt::Debug>(what: &str, got: T, want: T) -> Check {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {got:?}, expected {want:?}"))
    }
}

fn eq_hex(what: &str, got: &[u8], want: &[u8]) -> Check {
    if got == want {
        Ok(())
    } else {
        Err(format!(
            "{what}: got {}, expected {}",
            hex::encode(got),
            hex::encode(want)
        ))
    }
}

/// Compares an outcome with `expect` / `error`.
fn outcome<T>(
    got: Result<T, CryptoError>,
    error: &Option<ErrorSpec>,
    check: impl FnOnce(T) -> Check,
) -> Check {
    match (got, error) {
        (Ok(v), None) => check(v),
        (Ok(_), Some(e)) => Err(format!("succeeded, expected error {}", e.kind)),
        (Err(e), None) => Err(format!("failed with {} ({e}), expected success", e.kind())),
        (Err(e), Some(spec)) => {
            eq("error kind", e.kind(), spec.kind.as_str())?;
            if let (Some(reason), CryptoError::UnacceptablePublicKey { reason: got }) =
                (&spec.reason, &e)
            {
                eq("reason", *got, reason.as_str())?;
            }
            Ok(())
        }
    }
}

fn group(id: u64) -> Result<DhGroup, String> {
    DhGroup::from_id(id).ok_or_else(|| format!("vector names unsupported group {id}"))
}

/// Turns one file into test cases named `<folder>/<file>::<vector>` (`stem` is the prefix).
pub fn trials(stem: &str, text: &str) -> Result<Vec<Trial>, String> {
    let header: Header = serde_saphyr::from_str(text).map_err(|e| format!("{stem}: {e}"))?;
    match header.kind.as_str() {
        "checksum" => make(stem, text, check_checksum),
        "dh_group" => make(stem, text, check_dh_group),
        "dh_shared_secret" => make(stem, text, check_dh_shared_secret),
        "dh_secret_encoding" => make(stem, text, check_dh_secret_encoding),
        "dh_public_key" => make(stem, text, check_dh_public_key),
        "certificate" => make(stem, text, check_certificate),
        "epd_selection" => make(stem, text, check_epd_selection),
        "glare" => make(stem, text, check_glare),
        "signature" => make(stem, text, check_signature),
        "session_keys" => make(stem, text, check_session_keys),
        "negotiation" => make(stem, text, check_negotiation),
        "key_agreement" => make(stem, text, check_key_agreement),
        "packet" => make(stem, text, check_packet),
        "packet_sequence" => make(stem, text, check_packet_sequence),
        "keylog" => make(stem, text, check_keylog),
        "inspect" => make(stem, text, check_inspect),
        other => Err(format!("{stem}: unknown kind {other:?}")),
    }
}

trait Named {
    fn name(&self) -> &str;
}

macro_rules! named {
    ($($t:ty),*) => { $(impl Named for $t { fn name(&self) -> &str { &self.name } })* };
}

fn make<V>(stem: &str, text: &str, check: fn(&V) -> Check) -> Result<Vec<Trial>, String>
where
    V: DeserializeOwned + Named + Send + 'static,
{
    let file: FileOf<V> = serde_saphyr::from_str(text).map_err(|e| format!("{stem}: {e}"))?;
    Ok(file
        .vectors
        .into_iter()
        .map(|v| {
            let name = format!("{stem}::{}", v.name());
            Trial::test(name, move || check(&v).map_err(Failed::from))
        })
        .collect())
}

// ---------------------------------------------------------------- checksum (4.7.3.1)

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChecksumV {
    name: String,
    #[allow(dead_code)]
    source: String,
    hex: Hex,
    expect: ChecksumE,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChecksumE {
    checksum: Hex,
}

fn check_checksum(v: &ChecksumV) -> Check {
    eq_hex(
        "checksum",
        &checksum(v.hex.b()).to_be_bytes(),
        v.expect.checksum.b(),
    )
}

// ---------------------------------------------------------------- DH (4.2, 4.6.2)

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DhGroupV {
    name: String,
    #[allow(dead_code)]
    source: String,
    group: u64,
    expect: DhGroupE,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DhGroupE {
    bits: usize,
    generator: u32,
    prime: Hex,
}

fn check_dh_group(v: &DhGroupV) -> Check {
    let g = group(v.group)?;
    eq("bits", g.bits(), v.expect.bits)?;
    eq("generator", dh::GENERATOR, v.expect.generator)?;
    eq_hex("prime", &g.prime().to_bytes_be(), v.expect.prime.b())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DhSecretV {
    name: String,
    #[allow(dead_code)]
    source: String,
    group: u64,
    private_a: Hex,
    private_b: Hex,
    expect: DhSecretE,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DhSecretE {
    public_a: Hex,
    public_b: Hex,
    dh_secret: Hex,
}

fn check_dh_shared_secret(v: &DhSecretV) -> Check {
    let g = group(v.group)?;
    let a = PrivateKey::from_exponent(g, v.private_a.b());
    let b = PrivateKey::from_exponent(g, v.private_b.b());
    eq_hex("public_a", a.public_key(), v.expect.public_a.b())?;
    eq_hex("public_b", b.public_key(), v.expect.public_b.b())?;
    let s = a
        .shared_secret(v.expect.public_b.b())
        .map_err(|e| e.to_string())?;
    eq_hex("dh_secret (a)", &s, v.expect.dh_secret.b())?;
    let s = b
        .shared_secret(v.expect.public_a.b())
        .map_err(|e| e.to_string())?;
    eq_hex("dh_secret (b)", &s, v.expect.dh_secret.b())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DhEncodingV {
    name: String,
    #[allow(dead_code)]
    source: String,
    value: Hex,
    expect: DhEncodingE,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DhEncodingE {
    dh_secret: Hex,
}

fn check_dh_secret_encoding(v: &DhEncodingV) -> Check {
    let n = BigUint::from_bytes_be(v.value.b());
    eq_hex("DH_SECRET", &dh::encode_secret(&n), v.expect.dh_secret.b())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PublicKeyV {
    name: String,
    #[allow(dead_code)]
    source: String,
    group: u64,
    key: Hex,
    #[serde(default)]
    expect: Option<Valid>,
    #[serde(default)]
    error: Option<ErrorSpec>,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Valid {
    valid: bool,
}

fn check_dh_public_key(v: &PublicKeyV) -> Check {
    let g = group(v.group)?;
    outcome(dh::check_public_key(g, v.key.b()), &v.error, |_| {
        eq("valid", true, v.expect.as_ref().is_some_and(|e| e.valid))
    })
}

// ---------------------------------------------------------------- certificates (4.3)

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CertificateV {
    name: String,
    #[allow(dead_code)]
    source: String,
    hex: Hex,
    #[serde(default)]
    expect: Option<CertificateE>,
    #[serde(default)]
    error: Option<ErrorSpec>,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CertificateE {
    canonical_len: usize,
    fingerprint: Hex,
    canonical_epd: Hex,
    hostname: Option<Hex>,
    accepts_ancillary_data: bool,
    ephemeral_groups: Vec<u64>,
    static_key_groups: Vec<u64>,
}

fn check_certificate(v: &CertificateV) -> Check {
    outcome(Certificate::decode(v.hex.b()), &v.error, |c| {
        let e = v.expect.as_ref().ok_or("no expect")?;
        eq("canonical_len", c.canonical_len, e.canonical_len)?;
        eq_hex("fingerprint", &c.fingerprint, e.fingerprint.b())?;
        eq_hex("canonical_epd", &c.canonical_epd(), e.canonical_epd.b())?;
        eq(
            "hostname",
            c.hostname.clone(),
            e.hostname.clone().map(|h| h.0),
        )?;
        eq(
            "accepts_ancillary_data",
            c.accepts_ancillary_data,
            e.accepts_ancillary_data,
        )?;
        eq("ephemeral_groups", &c.ephemeral_groups, &e.ephemeral_groups)?;
        let statics: Vec<u64> = c.static_keys.iter().map(|(g, _)| *g).collect();
        eq("static_key_groups", &statics, &e.static_key_groups)
    })
}

// ---------------------------------------------------------------- EPDs (4.4)

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EpdV {
    name: String,
    #[allow(dead_code)]
    source: String,
    epd: Hex,
    certificate: Hex,
    #[serde(default)]
    expect: Option<EpdE>,
    #[serde(default)]
    error: Option<ErrorSpec>,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EpdE {
    selected: bool,
}

fn check_epd_selection(v: &EpdV) -> Check {
    let cert = Certificate::decode(v.certificate.b()).map_err(|e| e.to_string())?;
    outcome(EndpointDiscriminator::decode(v.epd.b()), &v.error, |epd| {
        let e = v.expect.as_ref().ok_or("no expect")?;
        eq("selected", epd.selects(&cert), e.selected)
    })
}

// ---------------------------------------------------------------- glare (4.3.6, 4.3.7)

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GlareV {
    name: String,
    #[allow(dead_code)]
    source: String,
    near: Hex,
    far: Hex,
    expect: GlareE,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GlareE {
    near_prevails: bool,
    overrides: bool,
}

fn check_glare(v: &GlareV) -> Check {
    eq(
        "near_prevails",
        certificate::near_prevails_in_glare(v.near.b(), v.far.b()),
        v.expect.near_prevails,
    )?;
    eq(
        "overrides",
        certificate::overrides_session(v.near.b(), v.far.b()),
        v.expect.overrides,
    )
}

// ---------------------------------------------------------------- signatures (4.3.5)

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordY {
    id: Hex,
    secret: Hex,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignatureV {
    name: String,
    #[allow(dead_code)]
    source: String,
    message: Hex,
    signature: Hex,
    verify_with: Vec<PasswordY>,
    require: bool,
    #[serde(default)]
    sign_with: Option<Vec<PasswordY>>,
    #[serde(default)]
    expect: Option<Valid>,
    #[serde(default)]
    error: Option<ErrorSpec>,
}

fn passwords(p: &[PasswordY]) -> Vec<Password> {
    p.iter()
        .map(|p| Password::new(p.id.0.clone(), p.secret.0.clone()))
        .collect()
}

fn check_signature(v: &SignatureV) -> Check {
    if let Some(sign_with) = &v.sign_with {
        let sig = signature::sign(&[v.message.b()], &passwords(sign_with));
        eq_hex("signature", &sig, v.signature.b())?;
    }
    let policy = SignaturePolicy {
        sign_with: Vec::new(),
        verify_with: passwords(&v.verify_with),
        require: v.require,
    };
    // Split the message in two to exercise multi-part signing input.
    let m = v.message.b();
    let (a, b) = m.split_at(m.len() / 2);
    outcome(
        signature::verify(&[a, b], v.signature.b(), &policy),
        &v.error,
        |_| eq("valid", true, v.expect.as_ref().is_some_and(|e| e.valid)),
    )
}

// ---------------------------------------------------------------- key derivation (4.6.3 - 4.6.5)

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionKeysV {
    name: String,
    #[allow(dead_code)]
    source: String,
    dh_secret: Hex,
    sknc: Hex,
    skfc: Hex,
    expect: KeysE,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysE {
    #[serde(default)]
    encrypt_key: Option<Hex>,
    #[serde(default)]
    decrypt_key: Option<Hex>,
    aes_encrypt_key: Hex,
    aes_decrypt_key: Hex,
    hmac_send_key: Hex,
    hmac_recv_key: Hex,
    near_nonce: Hex,
    far_nonce: Hex,
}

fn check_material(m: &KeyMaterial, e: &KeysE) -> Check {
    if let Some(k) = &e.encrypt_key {
        eq_hex("encrypt_key", &m.encrypt_key, k.b())?;
    }
    if let Some(k) = &e.decrypt_key {
        eq_hex("decrypt_key", &m.decrypt_key, k.b())?;
    }
    eq_hex(
        "aes_encrypt_key",
        &m.aes_encrypt_key(),
        e.aes_encrypt_key.b(),
    )?;
    eq_hex(
        "aes_decrypt_key",
        &m.aes_decrypt_key(),
        e.aes_decrypt_key.b(),
    )?;
    eq_hex("hmac_send_key", &m.hmac_send_key, e.hmac_send_key.b())?;
    eq_hex("hmac_recv_key", &m.hmac_recv_key, e.hmac_recv_key.b())?;
    eq_hex("near_nonce", &m.near_nonce, e.near_nonce.b())?;
    eq_hex("far_nonce", &m.far_nonce, e.far_nonce.b())
}

fn check_session_keys(v: &SessionKeysV) -> Check {
    let m = KeyMaterial::derive(v.dh_secret.b(), v.sknc.b(), v.skfc.b());
    check_material(&m, &v.expect)
}

// ---------------------------------------------------------------- negotiation (4.6.4, 4.6.6)

#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct SettingsY {
    hmac_length: Option<usize>,
    sequence_numbers: bool,
}

impl SettingsY {
    fn to_settings(&self) -> DirectionSettings {
        DirectionSettings {
            hmac_length: self.hmac_length,
            sequence_numbers: self.sequence_numbers,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequireY {
    hmac: bool,
    sequence_numbers: bool,
}

impl RequireY {
    fn to_requirements(&self) -> Requirements {
        Requirements {
            hmac: self.hmac,
            sequence_numbers: self.sequence_numbers,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NegotiationV {
    name: String,
    #[allow(dead_code)]
    source: String,
    near: Hex,
    far: Hex,
    require: RequireY,
    #[serde(default)]
    expect: Option<NegotiationE>,
    #[serde(default)]
    error: Option<ErrorSpec>,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NegotiationE {
    send: SettingsY,
    receive: SettingsY,
}

fn check_negotiation(v: &NegotiationV) -> Check {
    let near = KeyingComponent::decode(v.near.b()).map_err(|e| e.to_string())?;
    let far = KeyingComponent::decode(v.far.b()).map_err(|e| e.to_string())?;
    outcome(
        keying::negotiate(&near, &far, v.require.to_requirements()),
        &v.error,
        |n| {
            let e = v.expect.as_ref().ok_or("no expect")?;
            eq("send", n.send, e.send.to_settings())?;
            eq("receive", n.receive, e.receive.to_settings())
        },
    )
}

// ---------------------------------------------------------------- key agreement (4.6)

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AgreementV {
    name: String,
    #[allow(dead_code)]
    source: String,
    role: String,
    near_certificate: Hex,
    near_private: Hex,
    far_certificate: Hex,
    skic: Hex,
    skrc: Hex,
    require: RequireY,
    #[serde(default)]
    expect: Option<AgreementE>,
    #[serde(default)]
    error: Option<ErrorSpec>,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AgreementE {
    group: u64,
    dh_secret: Hex,
    aes_encrypt_key: Hex,
    aes_decrypt_key: Hex,
    hmac_send_key: Hex,
    hmac_recv_key: Hex,
    near_nonce: Hex,
    far_nonce: Hex,
    send: SettingsY,
    receive: SettingsY,
}

impl AgreementE {
    fn keys(&self) -> KeysE {
        KeysE {
            encrypt_key: None,
            decrypt_key: None,
            aes_encrypt_key: self.aes_encrypt_key.clone(),
            aes_decrypt_key: self.aes_decrypt_key.clone(),
            hmac_send_key: self.hmac_send_key.clone(),
            hmac_recv_key: self.hmac_recv_key.clone(),
            near_nonce: self.near_nonce.clone(),
            far_nonce: self.far_nonce.clone(),
        }
    }
}

fn agree(v: &AgreementV) -> Result<Result<FlashSessionKeys, CryptoError>, String> {
    let role = match v.role.as_str() {
        "initiator" => Role::Initiator,
        "responder" => Role::Responder,
        other => return Err(format!("bad role {other:?}")),
    };
    let near = Certificate::decode(v.near_certificate.b()).map_err(|e| e.to_string())?;
    let far = Certificate::decode(v.far_certificate.b()).map_err(|e| e.to_string())?;
    // Learn the group first: the near private key is an exponent in it.
    let selection = (|| {
        let skic = KeyingComponent::decode(v.skic.b())?;
        match role {
            Role::Initiator => {
                let skrc = KeyingComponent::decode(v.skrc.b())?;
                session_keys::initiator_selection(&near, &skic, &far, &skrc)
            }
            Role::Responder => session_keys::responder_selection(&far, &skic),
        }
    })();
    let selection = match selection {
        Ok(s) => s,
        Err(e) => return Ok(Err(e)),
    };
    let private = PrivateKey::from_exponent(selection.group, v.near_private.b());
    // The vector's own component must carry this private key's public key, if any.
    let (own, _) = match role {
        Role::Initiator => (v.skic.b(), v.skrc.b()),
        Role::Responder => (v.skrc.b(), v.skic.b()),
    };
    if let Ok(c) = KeyingComponent::decode(own)
        && let Some((_, key)) = &c.ephemeral_public_key
        && key.as_slice() != private.public_key()
        && v.error.is_none()
    {
        return Err("near component's public key does not match near_private".into());
    }
    Ok(session_keys::agree(
        role,
        &private,
        &near,
        &far,
        v.skic.b(),
        v.skrc.b(),
        v.require.to_requirements(),
    ))
}

fn check_key_agreement(v: &AgreementV) -> Check {
    outcome(agree(v)?, &v.error, |k| {
        let e = v.expect.as_ref().ok_or("no expect")?;
        eq("group", k.group.id(), e.group)?;
        eq_hex("dh_secret", &k.dh_secret, e.dh_secret.b())?;
        check_material(&k.material, &e.keys())?;
        eq("send", k.negotiated.send, e.send.to_settings())?;
        eq("receive", k.negotiated.receive, e.receive.to_settings())
    })
}

// ---------------------------------------------------------------- packets (4.1, 4.7)

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PacketV {
    name: String,
    #[allow(dead_code)]
    source: String,
    key: Hex,
    #[serde(default)]
    hmac_key: Option<Hex>,
    settings: SettingsY,
    #[serde(default)]
    datagram: Option<Hex>,
    #[serde(default)]
    encrypted: Option<Hex>,
    #[serde(default)]
    session_id: Option<u32>,
    #[serde(default)]
    expect: Option<PacketE>,
    #[serde(default)]
    error: Option<ErrorSpec>,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PacketE {
    sequence: Option<u64>,
    plain: Hex,
}

fn packet_key(key: &Hex, hmac_key: &Option<Hex>, s: &SettingsY) -> Result<PacketKey, String> {
    let aes: [u8; 16] = key.b().try_into().map_err(|_| "key is not 16 bytes")?;
    let hk = hmac_key.as_ref().map(|h| h.b()).unwrap_or(&[]);
    Ok(PacketKey::new(&aes, hk, s.to_settings()))
}

fn check_packet(v: &PacketV) -> Check {
    let key = packet_key(&v.key, &v.hmac_key, &v.settings)?;
    let encrypted: &[u8] = match (&v.datagram, &v.encrypted) {
        (Some(d), None) => {
            let mux = rtmfp::wire::Multiplex::decode(d.b()).map_err(|e| e.to_string())?;
            let (sid, enc) = (mux.session_id(), mux.encrypted_packet);
            if let Some(want) = v.session_id {
                eq("session_id", sid, want)?;
            }
            enc
        }
        (None, Some(e)) => e.b(),
        _ => return Err("need exactly one of datagram and encrypted".into()),
    };
    let mut plain = Vec::new();
    outcome(key.open(encrypted, &mut plain), &v.error, |opened| {
        let e = v.expect.as_ref().ok_or("no expect")?;
        eq("sequence", opened.sequence, e.sequence)?;
        eq_hex("plain", &plain[opened.packet_start..], e.plain.b())?;
        // Encryption is deterministic (zero IV): re-encrypting gives the same bytes.
        let mut again = Vec::new();
        key.encrypt(e.sequence, e.plain.b(), &mut again);
        eq_hex("re-encrypted", &again, encrypted)?;
        // And the stateful cipher agrees.
        let mut cipher = FlashPacketCipher::new(key.clone(), key.clone());
        let mut out = Vec::new();
        let d = cipher
            .decrypt(encrypted, &mut out)
            .map_err(|e| e.to_string())?;
        eq("cipher sequence", d.session_sequence_number, e.sequence)?;
        eq_hex("cipher plain", &out, e.plain.b())
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SequenceV {
    name: String,
    #[allow(dead_code)]
    source: String,
    key: Hex,
    hmac_key: Hex,
    settings: SettingsY,
    steps: Vec<StepY>,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepY {
    encrypted: Hex,
    result: String,
}

fn check_packet_sequence(v: &SequenceV) -> Check {
    let key = packet_key(&v.key, &Some(Hex(v.hmac_key.0.clone())), &v.settings)?;
    let mut cipher = FlashPacketCipher::new(key.clone(), key);
    let mut plain = Vec::new();
    for (i, step) in v.steps.iter().enumerate() {
        let got = match cipher.decrypt(step.encrypted.b(), &mut plain) {
            Ok(_) => "ok",
            Err(e) => e.kind(),
        };
        eq(&format!("step {i}"), got, step.result.as_str())?;
    }
    Ok(())
}

// ---------------------------------------------------------------- key logs and inspection

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyLogV {
    name: String,
    #[allow(dead_code)]
    source: String,
    line: String,
    expect: KeyLogE,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyLogE {
    role: String,
    dh_group: u64,
    enc_key: Hex,
    dec_key: Hex,
    hmac_send: bool,
    hmac_recv: bool,
    sseq_send: bool,
    sseq_recv: bool,
    dh_secret_len: usize,
}

fn check_keylog(v: &KeyLogV) -> Check {
    let k = KeyLog::parse(&v.line).map_err(|e| e.to_string())?;
    let e = &v.expect;
    let role = match k.role {
        Role::Initiator => "initiator",
        Role::Responder => "responder",
    };
    eq("role", role, e.role.as_str())?;
    eq("dh_group", k.dh_group, e.dh_group)?;
    eq_hex("enc_key", &k.enc_key, e.enc_key.b())?;
    eq_hex("dec_key", &k.dec_key, e.dec_key.b())?;
    eq(
        "flags",
        (k.hmac_send, k.hmac_recv, k.sseq_send, k.sseq_recv),
        (e.hmac_send, e.hmac_recv, e.sseq_send, e.sseq_recv),
    )?;
    eq("dh_secret length", k.dh_secret.len(), e.dh_secret_len)?;
    // The formatter writes the same line back.
    let normalised = v.line.split_whitespace().collect::<Vec<_>>().join(" ");
    eq("formatted", k.to_string(), normalised)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InspectV {
    name: String,
    #[allow(dead_code)]
    source: String,
    datagram: Hex,
    key_logs: Vec<String>,
    expect: InspectE,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InspectE {
    session_id: u32,
    key: String,
    sequence: Option<u64>,
}

fn check_inspect(v: &InspectV) -> Check {
    let key_logs = v
        .key_logs
        .iter()
        .map(|l| KeyLog::parse(l))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let keys = Keys {
        raw: Vec::new(),
        key_logs,
    };
    let got = inspect::decrypt_datagram(v.datagram.b(), &keys).map_err(|e| e.to_string())?;
    eq("session_id", got.session_id, v.expect.session_id)?;
    let key = match got.key {
        KeyUsed::Default => "default",
        KeyUsed::Raw(_) => "raw",
        KeyUsed::KeyLog { sent: true, .. } => "key_log_sent",
        KeyUsed::KeyLog { sent: false, .. } => "key_log_received",
    };
    eq("key", key, v.expect.key.as_str())?;
    eq("sequence", got.sequence, v.expect.sequence)
}

named!(
    ChecksumV,
    DhGroupV,
    DhSecretV,
    DhEncodingV,
    PublicKeyV,
    CertificateV,
    EpdV,
    GlareV,
    SignatureV,
    SessionKeysV,
    NegotiationV,
    AgreementV,
    PacketV,
    SequenceV,
    KeyLogV,
    InspectV
);
