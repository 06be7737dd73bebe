//! Decodes the real rtmfp-cpp capture (vectors/captures/): every datagram is
//! decrypted with the key log (RFC 7425 4.7, `rtmfp::crypto::inspect`) and
//! every chunk parsed with `rtmfp::wire` (RFC 7016 2.2, 2.3). The expected
//! counts come from an independent Python decoder
//! (vectors/captures/tools/summarize_capture.py), not from this code.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use pcap_file::DataLink;
use pcap_file::pcap::PcapReader;
use rtmfp::crypto::flash::keylog::KeyLog;
use rtmfp::crypto::flash::session_keys::Role;
use rtmfp::crypto::inspect::{KeyUsed, Keys, decrypt_datagram};
use rtmfp::wire::chunk::{self, Chunk};
use rtmfp::wire::packet::{Mode, PlainPacket};
use serde::Deserialize;

fn folder() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../vectors/captures")
}

/// One UDP datagram of the capture.
struct Datagram {
    src_port: u16,
    payload: Vec<u8>,
}

/// The UDP payload of an Ethernet/IPv4/UDP frame, or `None` for anything else.
fn udp_payload(frame: &[u8]) -> Option<(u16, Vec<u8>)> {
    if frame.get(12..14)? != [0x08, 0x00] {
        return None;
    }
    let ip = frame.get(14..)?;
    let ihl = usize::from(ip.first()? & 0x0f) * 4;
    if *ip.get(9)? != 17 {
        return None;
    }
    let udp = ip.get(ihl..)?;
    let src_port = u16::from_be_bytes([*udp.first()?, *udp.get(1)?]);
    let len = usize::from(u16::from_be_bytes([*udp.get(4)?, *udp.get(5)?]));
    Some((src_port, udp.get(8..len)?.to_vec()))
}

fn datagrams() -> Vec<Datagram> {
    let file = std::fs::File::open(folder().join("rtmfpcpp-fcclient-echoserver.pcap")).unwrap();
    let mut reader = PcapReader::new(file).unwrap();
    assert_eq!(reader.header().datalink, DataLink::ETHERNET);
    let mut out = Vec::new();
    // Bounded by the file: the reader stops at its end.
    while let Some(packet) = reader.next_packet() {
        let packet = packet.unwrap();
        if let Some((src_port, payload)) = udp_payload(&packet.data) {
            out.push(Datagram { src_port, payload });
        }
    }
    out
}

fn keys() -> Keys {
    let text =
        std::fs::read_to_string(folder().join("rtmfpcpp-fcclient-echoserver.keylog")).unwrap();
    Keys {
        key_logs: KeyLog::parse_all(&text).unwrap(),
        ..Keys::default()
    }
}

/// The independent summary (vectors/captures/*.summary.yaml).
#[derive(Debug, Deserialize)]
struct Summary {
    source: String,
    datagrams: usize,
    undecrypted: usize,
    client_datagrams: usize,
    server_datagrams: usize,
    first_chunk_types: Vec<u8>,
    chunk_counts: BTreeMap<String, BTreeMap<u8, usize>>,
    flows: Vec<FlowSummary>,
    acks: Vec<AckSummary>,
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
struct FlowSummary {
    sender: String,
    flow_id: u64,
    chunks: usize,
    first_sequence_number: u64,
    last_sequence_number: u64,
    distinct: usize,
    contiguous: bool,
    new_numbers_in_order: bool,
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
struct AckSummary {
    sender: String,
    flow_id: u64,
    count: usize,
    final_cumulative_ack: u64,
    never_decreases: bool,
}

fn summary() -> Summary {
    let text = std::fs::read_to_string(folder().join("rtmfpcpp-fcclient-echoserver.summary.yaml"))
        .unwrap();
    serde_saphyr::from_str(&text).unwrap()
}

/// What the Rust decoders make of one datagram.
struct Decoded {
    sender: &'static str,
    session_id: u32,
    key: KeyUsed,
    sequence: Option<u64>,
    mode: Mode,
    chunks: Vec<(
        Chunk,
        Option<rtmfp::wire::chunk::next_user_data::FlowPosition>,
    )>,
}

fn decode_all() -> Vec<Decoded> {
    let keys = keys();
    let all = datagrams();
    let client_port = all[0].src_port;
    all.iter()
        .enumerate()
        .map(|(i, d)| {
            let sender = if d.src_port == client_port {
                "client"
            } else {
                "server"
            };
            let opened = decrypt_datagram(&d.payload, &keys)
                .unwrap_or_else(|e| panic!("datagram {}: {e}", i + 1));
            let packet = PlainPacket::decode(&opened.plain)
                .unwrap_or_else(|e| panic!("datagram {}: {e}", i + 1));
            let chunks = packet
                .decoded_chunks()
                .map(|c| match c.chunk {
                    Ok(chunk) => (chunk, c.position),
                    Err(e) => panic!("datagram {}: chunk at {}: {e}", i + 1, c.raw.offset),
                })
                .collect();
            Decoded {
                sender,
                session_id: opened.session_id,
                key: opened.key,
                sequence: opened.sequence,
                mode: packet.header.mode,
                chunks,
            }
        })
        .collect()
}

// RFC 7425 4.7 (decryption and verification) and RFC 7016 2.2.4, 2.3 (packet and chunks).
// spec: 7425-4.7.3.2-e, 7016-2.2.4-e
#[test]
fn every_datagram_verifies_and_every_chunk_parses() {
    let s = summary();
    assert!(s.source.contains("rtmfp-cpp"));
    let decoded = decode_all();
    assert_eq!(decoded.len(), 603);
    assert_eq!(decoded.len(), s.datagrams);
    assert_eq!(s.undecrypted, 0);
    let from = |who| decoded.iter().filter(|d| d.sender == who).count();
    assert_eq!(from("client"), s.client_datagrams);
    assert_eq!(from("server"), s.server_datagrams);

    let mut counts: BTreeMap<String, BTreeMap<u8, usize>> = BTreeMap::new();
    for d in &decoded {
        for (c, _) in &d.chunks {
            *counts
                .entry(d.sender.to_string())
                .or_default()
                .entry(c.chunk_type())
                .or_default() += 1;
        }
    }
    assert_eq!(counts, s.chunk_counts);
    // The experimental ECN Report (0xEC) is not RFC 7016's: an unknown chunk, ignored.
    assert!(
        decoded
            .iter()
            .flat_map(|d| &d.chunks)
            .any(|(c, _)| matches!(c, Chunk::Unknown(_)) && c.chunk_type() == 0xec)
    );
}

// RFC 7016 3.5.1.1: IHello, RHello, IIKeying, RIKeying; the session IDs they
// carry are the ones the session then uses (2.2.2, 3.5.1.1.1, 3.5.1.1.2).
// spec: 7016-2.2.3-f
#[test]
fn the_handshake_and_its_session_ids() {
    let s = summary();
    let decoded = decode_all();
    let first: Vec<u8> = decoded[..4]
        .iter()
        .map(|d| d.chunks[0].0.chunk_type())
        .collect();
    assert_eq!(first, s.first_chunk_types);
    assert_eq!(
        first,
        [
            chunk::IHELLO,
            chunk::RHELLO,
            chunk::IIKEYING,
            chunk::RIKEYING
        ]
    );
    let senders: Vec<&str> = decoded[..4].iter().map(|d| d.sender).collect();
    assert_eq!(senders, ["client", "server", "client", "server"]);
    // IHello, RHello and IIKeying go to session ID 0 under the Default Session Key.
    for d in &decoded[..3] {
        assert_eq!(
            (d.session_id, d.key, d.mode),
            (0, KeyUsed::Default, Mode::Startup)
        );
    }
    let Chunk::IIKeying(ii) = &decoded[2].chunks[0].0 else {
        panic!("IIKeying expected")
    };
    let Chunk::RIKeying(ri) = &decoded[3].chunks[0].0 else {
        panic!("RIKeying expected")
    };
    // RIKeying: the initiator's session ID, still the Default Session Key (2.2.3).
    assert_eq!(decoded[3].session_id, ii.initiator_session_id);
    assert_eq!(decoded[3].key, KeyUsed::Default);
    // Afterwards each end sends to the ID the other chose, under the session keys.
    let logs = keys().key_logs;
    for d in &decoded[4..] {
        let expected_id = if d.sender == "client" {
            ri.responder_session_id
        } else {
            ii.initiator_session_id
        };
        assert_eq!(d.session_id, expected_id);
        let KeyUsed::KeyLog { index, sent } = d.key else {
            panic!("session key expected, got {:?}", d.key)
        };
        // The key that opened it belongs to its sender: the sending end's
        // enc_key or the receiving end's dec_key.
        let sender_role = match (logs[index].role, sent) {
            (Role::Initiator, true) | (Role::Responder, false) => "client",
            _ => "server",
        };
        assert_eq!(sender_role, d.sender);
        // 2.2.4: an initiator marks its packets mode 1, a responder mode 2.
        let mode = if d.sender == "client" {
            Mode::Initiator
        } else {
            Mode::Responder
        };
        assert_eq!(d.mode, mode);
    }
}

// RFC 7425 4.6.6, 4.7.3.3: with session sequence numbers negotiated both
// ways (rtmfp-cpp's default), every session packet carries one; each sender's
// start at zero and grow by one per packet (the loopback capture lost nothing).
#[test]
fn session_sequence_numbers_increase_per_sender() {
    let decoded = decode_all();
    let mut last: BTreeMap<&str, u64> = BTreeMap::new();
    for (i, d) in decoded.iter().enumerate().skip(4) {
        let seq = d
            .sequence
            .unwrap_or_else(|| panic!("datagram {}: no session sequence number", i + 1));
        let expected = last.get(d.sender).map_or(0, |prev| prev + 1);
        assert_eq!(seq, expected, "datagram {} from the {}", i + 1, d.sender);
        last.insert(d.sender, seq);
    }
    assert_eq!(last.len(), 2);
}

// RFC 7016 2.3.11-2.3.14, 3.6.2: each flow's sequence numbers start at 1, grow
// without gaps, new numbers appear in order, and the receiver's cumulative
// acknowledgements never go back and end at the last one.
#[test]
fn flow_sequence_numbers_progress_and_are_acknowledged() {
    let s = summary();
    let decoded = decode_all();
    struct Flow {
        chunks: usize,
        seqs: BTreeSet<u64>,
        in_order: bool,
    }
    let mut flows: BTreeMap<(String, u64), Flow> = BTreeMap::new();
    let mut acks: BTreeMap<(String, u64), Vec<u64>> = BTreeMap::new();
    for d in &decoded {
        for (c, position) in &d.chunks {
            if let Some(p) = position {
                let f = flows
                    .entry((d.sender.to_string(), p.flow_id))
                    .or_insert(Flow {
                        chunks: 0,
                        seqs: BTreeSet::new(),
                        in_order: true,
                    });
                f.chunks += 1;
                let newest = f.seqs.last().copied().unwrap_or(0);
                if !f.seqs.contains(&p.sequence_number) && p.sequence_number < newest {
                    f.in_order = false;
                }
                f.seqs.insert(p.sequence_number);
            }
            let ack = match c {
                Chunk::BitmapAck(a) => Some((a.flow_id, a.cumulative_ack)),
                Chunk::RangeAck(a) => Some((a.flow_id, a.cumulative_ack)),
                _ => None,
            };
            if let Some((flow, cumulative)) = ack {
                acks.entry((d.sender.to_string(), flow))
                    .or_default()
                    .push(cumulative);
            }
        }
    }
    let got: Vec<FlowSummary> = flows
        .iter()
        .map(|((sender, flow_id), f)| {
            let first = f.seqs.first().copied().unwrap_or(0);
            let last = f.seqs.last().copied().unwrap_or(0);
            FlowSummary {
                sender: sender.clone(),
                flow_id: *flow_id,
                chunks: f.chunks,
                first_sequence_number: first,
                last_sequence_number: last,
                distinct: f.seqs.len(),
                contiguous: f.seqs.len() as u64 == last - first + 1,
                new_numbers_in_order: f.in_order,
            }
        })
        .collect();
    assert_eq!(got, s.flows);
    for f in &got {
        assert_eq!(f.first_sequence_number, 1, "{f:?}");
        assert!(f.contiguous && f.new_numbers_in_order, "{f:?}");
    }
    let got_acks: Vec<AckSummary> = acks
        .iter()
        .map(|((sender, flow_id), v)| AckSummary {
            sender: sender.clone(),
            flow_id: *flow_id,
            count: v.len(),
            final_cumulative_ack: v.last().copied().unwrap_or(0),
            never_decreases: v.windows(2).all(|w| w[0] <= w[1]),
        })
        .collect();
    assert_eq!(got_acks, s.acks);
    // Each flow's data is acknowledged in full by the other end.
    for f in &got {
        let receiver = if f.sender == "client" {
            "server"
        } else {
            "client"
        };
        let a = got_acks
            .iter()
            .find(|a| a.sender == receiver && a.flow_id == f.flow_id)
            .unwrap_or_else(|| panic!("no acknowledgement for {f:?}"));
        assert!(a.never_decreases);
        assert_eq!(a.final_cumulative_ack, f.last_sequence_number, "{f:?}");
    }
}
