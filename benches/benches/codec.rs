//! Wire codec and Flash packet protection (RFC 7016 2.2.4, 2.3.11; RFC 7425 4.7), each beside a
//! baseline measured in the same process: copying the same bytes for the codec, raw
//! AES-128-CBC of the same bytes for the packet cipher. `cargo run -p rtmfp-benches --release
//! --bin ratios` turns criterion's estimates into the table in README.

use std::hint::black_box;

use aes::Aes128;
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rtmfp::crypto::flash::packet::{DirectionSettings, PacketKey};
use rtmfp::wire::chunk::UserData;
use rtmfp::wire::chunk::user_data::UserDataFlags;
use rtmfp::wire::{Chunk, Header, Mode, Packet};

/// A packet as a bulk sender builds it: header with timestamp and echo, one User Data chunk
/// carrying `len` bytes of a message.
fn user_data_packet(len: usize) -> Packet {
    let mut header = Header::new(Mode::Initiator);
    header.timestamp = Some(0x1234);
    header.timestamp_echo = Some(0x1200);
    let mut p = Packet::new(header);
    p.chunks.push(Chunk::UserData(UserData {
        flow_id: 3,
        sequence_number: 100_000,
        fsn_offset: 12,
        flags: UserDataFlags::default(),
        options: None,
        data: (0..len).map(|i| i as u8).collect(),
    }));
    p
}

fn codec(c: &mut Criterion) {
    let packet = user_data_packet(1200);
    let mut bytes = Vec::new();
    packet.encode(&mut bytes).expect("encodes");
    let mut g = c.benchmark_group("codec");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("baseline_copy", |b| {
        b.iter(|| black_box(black_box(bytes.as_slice()).to_vec()))
    });
    g.bench_function("decode_user_data_1200", |b| {
        b.iter(|| Packet::decode(black_box(&bytes)).expect("decodes"))
    });
    g.bench_function("encode_user_data_1200", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(bytes.len());
            black_box(&packet).encode(&mut out).expect("encodes");
            out
        })
    });
    g.finish();
}

fn protection(c: &mut Criterion) {
    let plain = {
        let mut v = Vec::new();
        user_data_packet(1150).encode(&mut v).expect("encodes");
        v
    };
    let key = [7u8; 16];
    let hmac_key = [9u8; 32];
    let flash = PacketKey::new(
        &key,
        &hmac_key,
        DirectionSettings {
            hmac_length: Some(16),
            sequence_numbers: true,
        },
    );
    let checksum = PacketKey::new(&key, &[], DirectionSettings::DEFAULT);
    // The baseline encrypts and decrypts as many whole blocks as the HMAC packet holds.
    let mut sealed = Vec::new();
    flash.encrypt(Some(1), &plain, &mut sealed);
    let blocks = sealed.len() / 16 * 16;
    let mut g = c.benchmark_group("protection");
    g.throughput(Throughput::Bytes(plain.len() as u64));
    g.bench_function("baseline_aes_cbc", |b| {
        let mut buf = vec![0x5au8; blocks];
        b.iter(|| {
            let iv = [0u8; 16];
            let mut enc = cbc::Encryptor::<Aes128>::new(&key.into(), &iv.into());
            let (chunks, _) = aes::Block::slice_as_chunks_mut(&mut buf);
            enc.encrypt_blocks(chunks);
            let mut dec = cbc::Decryptor::<Aes128>::new(&key.into(), &iv.into());
            let (chunks, _) = aes::Block::slice_as_chunks_mut(&mut buf);
            dec.decrypt_blocks(chunks);
            black_box(&buf);
        })
    });
    for (name, k, seq) in [
        ("seal_open_hmac16_sseq", &flash, Some(1u64)),
        ("seal_open_checksum", &checksum, None),
    ] {
        g.bench_function(name, |b| {
            let mut out = Vec::with_capacity(plain.len() + 64);
            let mut back = Vec::with_capacity(plain.len() + 64);
            b.iter(|| {
                out.clear();
                back.clear();
                k.encrypt(seq, black_box(&plain), &mut out);
                k.open(&out, &mut back).expect("verifies");
                black_box(&back);
            })
        });
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .measurement_time(std::time::Duration::from_secs(3))
        .warm_up_time(std::time::Duration::from_secs(1))
}

criterion_group! { name = benches; config = config(); targets = codec, protection }
criterion_main!(benches);
