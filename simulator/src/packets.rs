//! One-line summaries of RTMFP datagrams for the trace (RFC 7016 2.2 and 2.3, RFC 7425 4.7),
//! and the key log that decrypts them.
//!
//! A [`KeyBook`] learns each session's keys from the endpoints themselves (the key-log line
//! and session IDs in [`SessionInfo`], registered by the endpoint node the moment a session
//! opens, before its first packet under those keys), and every host's identity (to name far
//! ends). [`KeyBook::summarize`] unscrambles the session ID, decrypts with the keys logged for
//! that ID or the Default Session Key (startup packets, RIKeying, Cookie Change), and lists the
//! chunks with their key fields:
//!
//! ```text
//! sid=0 S: IHello epd=fp(bob) tag=8f0c3a71
//! sid=5e01a2b4 I: UD flow=2 seq=17 fsn=15 len=1024; RangeAck flow=1 cum=30 ranges=32,34-46
//! ```
//!
//! The mode letter is `S` (startup, mode 3), `I` (initiator, 1) or `R` (responder, 2),
//! followed by ` TC`/` TCR` when those flags are set. A summary depends only on the datagram
//! and the keys, so traces stay deterministic.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use rtmfp::crypto::PacketCipher;
use rtmfp::crypto::flash::certificate::Certificate;
use rtmfp::crypto::flash::endpoint_discriminator::EndpointDiscriminator;
use rtmfp::crypto::flash::keylog::KeyLog;
use rtmfp::crypto::inspect::{self, Keys};
use rtmfp::crypto::transparent::TransparentCipher;
use rtmfp::endpoint::SessionInfo;
use rtmfp::wire::chunk::ack::SeqRange;
use rtmfp::wire::packet::Mode;
use rtmfp::wire::{Chunk, Multiplex, PlainPacket};

use crate::workload::ProfileKind;

/// How many acknowledged ranges a summary lists before `+N`.
const MAX_RANGES_SHOWN: usize = 8;

/// Identities and session keys, shared by the endpoint nodes (which fill it) and the trace's
/// summariser and the key-log writer (which read it).
#[derive(Debug, Default)]
pub struct KeyBook {
    profile: ProfileKind,
    /// Canonical EPD (Flash: `0x21 0x0f` + fingerprint; transparent: the identity) -> host.
    names: BTreeMap<Vec<u8>, String>,
    /// Session ID -> the key logs of sessions using it (both ends register).
    by_id: BTreeMap<u32, Keys>,
    /// Key-log lines in the order sessions opened.
    lines: Vec<String>,
    seen: BTreeSet<String>,
}

impl KeyBook {
    /// An empty book for `profile`.
    pub fn new(profile: ProfileKind) -> KeyBook {
        KeyBook {
            profile,
            ..KeyBook::default()
        }
    }

    /// Names the endpoint whose canonical EPD is `canonical_epd`.
    pub fn add_identity(&mut self, host: &str, canonical_epd: Vec<u8>) {
        self.names.insert(canonical_epd, host.to_string());
    }

    /// The host with this canonical EPD.
    pub fn host_of(&self, canonical_epd: &[u8]) -> Option<&str> {
        self.names.get(canonical_epd).map(String::as_str)
    }

    /// Learns an open session's keys and IDs (once per session end).
    pub fn register(&mut self, info: &SessionInfo) {
        let Some(line) = &info.key_log else {
            return;
        };
        if !self.seen.insert(line.clone()) {
            return;
        }
        let Ok(log) = KeyLog::parse(line) else {
            return;
        };
        self.lines.push(line.clone());
        let mut ids = vec![info.receive_session_id, info.send_session_id];
        ids.retain(|id| *id != 0);
        ids.dedup();
        for id in ids {
            self.by_id.entry(id).or_default().key_logs.push(log.clone());
        }
    }

    /// The key-log file (format: spec/keylog.md), one line per session end, in the order the
    /// sessions opened; `rtmfp decode --keylog FILE` reads it.
    pub fn key_log(&self) -> String {
        let mut out = String::new();
        for l in &self.lines {
            out.push_str(l);
            out.push('\n');
        }
        out
    }

    /// One line describing datagram `data`.
    pub fn summarize(&self, data: &[u8]) -> String {
        let Ok(mux) = Multiplex::decode(data) else {
            return format!("not RTMFP ({} bytes)", data.len());
        };
        let sid = mux.session_id();
        let sid_text = if sid == 0 {
            "sid=0".to_string()
        } else {
            format!("sid={sid:08x}")
        };
        let plain = match self.profile {
            ProfileKind::Flash => {
                let none = Keys::default();
                let keys = if sid == 0 {
                    &none
                } else {
                    self.by_id.get(&sid).unwrap_or(&none)
                };
                match inspect::decrypt_datagram(data, keys) {
                    Ok(d) => d.plain,
                    Err(_) => return format!("{sid_text} undecryptable"),
                }
            }
            ProfileKind::Transparent => {
                let mut plain = Vec::new();
                if TransparentCipher
                    .decrypt(mux.encrypted_packet, &mut plain)
                    .is_err()
                {
                    return format!("{sid_text} bad checksum");
                }
                plain
            }
        };
        let packet = match PlainPacket::decode(&plain) {
            Ok(p) => p,
            Err(e) => return format!("{sid_text} malformed packet ({})", e.kind.name()),
        };
        let h = packet.header;
        let mut out = sid_text;
        out.push(' ');
        out.push(match h.mode {
            Mode::Startup => 'S',
            Mode::Initiator => 'I',
            Mode::Responder => 'R',
        });
        if h.time_critical {
            out.push_str(" TC");
        }
        if h.time_critical_reverse {
            out.push_str(" TCR");
        }
        out.push(':');
        let mut first = true;
        for dc in packet.decoded_chunks() {
            let text = match &dc.chunk {
                Ok(Chunk::Padding(_)) => continue,
                Ok(c) => self.chunk(c, dc.position.as_ref()),
                Err(_) => format!("malformed {}", dc.raw.name()),
            };
            out.push_str(if first { " " } else { "; " });
            first = false;
            out.push_str(&text);
        }
        if first {
            out.push_str(" no chunks");
        }
        out
    }

    fn epd(&self, epd: &[u8]) -> String {
        match self.profile {
            ProfileKind::Transparent => match self.host_of(epd) {
                Some(h) => format!("fp({h})"),
                None => format!("{:?}", String::from_utf8_lossy(epd)),
            },
            ProfileKind::Flash => {
                let Ok(d) = EndpointDiscriminator::decode(epd) else {
                    return format!("malformed({})", short_hex(epd));
                };
                let mut parts = Vec::new();
                if let Some(fp) = &d.fingerprint {
                    let canonical =
                        rtmfp::crypto::flash::endpoint_discriminator::canonical(fp).to_vec();
                    parts.push(match self.host_of(&canonical) {
                        Some(h) => format!("fp({h})"),
                        None => format!("fp({})", short_hex(fp)),
                    });
                }
                if let Some(h) = &d.required_hostname {
                    parts.push(format!("host({})", String::from_utf8_lossy(h)));
                }
                if let Some(a) = &d.ancillary_data {
                    parts.push(format!("url({})", String::from_utf8_lossy(a)));
                }
                if parts.is_empty() {
                    "empty".into()
                } else {
                    parts.join("+")
                }
            }
        }
    }

    fn cert(&self, cert: &[u8]) -> String {
        let canonical = match self.profile {
            ProfileKind::Transparent => Some(cert.to_vec()),
            ProfileKind::Flash => Certificate::decode(cert)
                .ok()
                .map(|c| c.canonical_epd().to_vec()),
        };
        match canonical.as_deref().and_then(|c| self.host_of(c)) {
            Some(h) => h.to_string(),
            None => format!("{}B", cert.len()),
        }
    }

    fn chunk(
        &self,
        c: &Chunk,
        position: Option<&rtmfp::wire::chunk::next_user_data::FlowPosition>,
    ) -> String {
        match c {
            Chunk::IHello(x) => format!(
                "IHello epd={} tag={}",
                self.epd(&x.endpoint_discriminator),
                short_hex(&x.tag)
            ),
            Chunk::FIHello(x) => format!(
                "FIHello epd={} reply={} tag={}",
                self.epd(&x.endpoint_discriminator),
                x.reply_address.socket,
                short_hex(&x.tag)
            ),
            Chunk::RHello(x) => format!(
                "RHello tag={} cookie={}B cert={}",
                short_hex(&x.tag_echo),
                x.cookie.len(),
                self.cert(&x.responder_certificate)
            ),
            Chunk::Redirect(x) => {
                if x.is_implied() {
                    format!("Redirect tag={} implied", short_hex(&x.tag_echo))
                } else {
                    let to: Vec<String> = x
                        .destinations
                        .iter()
                        .map(|a| a.socket.to_string())
                        .collect();
                    format!(
                        "Redirect tag={} to={}",
                        short_hex(&x.tag_echo),
                        to.join(",")
                    )
                }
            }
            Chunk::RHelloCookieChange(x) => format!(
                "CookieChange old={}B new={}B",
                x.old_cookie.len(),
                x.new_cookie.len()
            ),
            Chunk::IIKeying(x) => format!(
                "IIKeying isid={:08x} cookie={}B cert={} skic={}B",
                x.initiator_session_id,
                x.cookie_echo.len(),
                self.cert(&x.initiator_certificate),
                x.session_key_initiator_component.len()
            ),
            Chunk::RIKeying(x) => format!(
                "RIKeying rsid={:08x} skrc={}B",
                x.responder_session_id,
                x.session_key_responder_component.len()
            ),
            Chunk::Ping(x) => format!("Ping len={}", x.message.len()),
            Chunk::PingReply(x) => format!("PingReply len={}", x.message_echo.len()),
            Chunk::UserData(x) => {
                let mut s = format!(
                    "UD flow={} seq={} fsn={} len={}",
                    x.flow_id,
                    x.sequence_number,
                    x.forward_sequence_number(),
                    x.data.len()
                );
                user_data_flags(&mut s, &x.flags, x.options.is_some());
                if let Some(m) = x.metadata() {
                    let _ = write!(s, " meta={:?}", String::from_utf8_lossy(m));
                }
                if let Some(r) = x.return_flow_association() {
                    let _ = write!(s, " return={r}");
                }
                s
            }
            Chunk::NextUserData(x) => {
                let mut s = match position {
                    Some(p) => format!(
                        "NUD flow={} seq={} fsn={} len={}",
                        p.flow_id,
                        p.sequence_number,
                        p.forward_sequence_number,
                        x.data.len()
                    ),
                    None => format!("NUD len={}", x.data.len()),
                };
                user_data_flags(&mut s, &x.flags, x.options.is_some());
                s
            }
            Chunk::BitmapAck(x) => ack_text(
                "BitmapAck",
                x.flow_id,
                x.buffer_bytes_available(),
                &x.acknowledged_ranges(),
            ),
            Chunk::RangeAck(x) => ack_text(
                "RangeAck",
                x.flow_id,
                x.buffer_bytes_available(),
                &x.acknowledged_ranges(),
            ),
            Chunk::BufferProbe(x) => format!("BufferProbe flow={}", x.flow_id),
            Chunk::FlowExceptionReport(x) => {
                format!("FlowException flow={} code={}", x.flow_id, x.exception)
            }
            Chunk::Close(_) => "Close".into(),
            Chunk::CloseAck(_) => "CloseAck".into(),
            Chunk::PacketFragment(x) => format!(
                "Fragment id={} num={}{} len={}",
                x.packet_id,
                x.fragment_num,
                if x.more_fragments { " more" } else { "" },
                x.fragment.len()
            ),
            Chunk::Padding(_) => String::new(),
            Chunk::Unknown(x) => format!("Unknown(0x{:02x}) len={}", x.chunk_type, x.payload.len()),
        }
    }
}

fn user_data_flags(
    s: &mut String,
    f: &rtmfp::wire::chunk::user_data::UserDataFlags,
    options: bool,
) {
    use rtmfp::wire::chunk::user_data::FragmentControl;
    if f.fragment_control != FragmentControl::Whole {
        let _ = write!(s, " frag={}", f.fragment_control.name());
    }
    if f.abandon {
        s.push_str(" ABN");
    }
    if f.fin {
        s.push_str(" FIN");
    }
    if options {
        s.push_str(" OPT");
    }
}

/// `RangeAck flow=2 cum=30 ranges=32,34-46 buf=65536`: the ranges after the cumulative one.
fn ack_text(name: &str, flow: u64, buffer: u64, ranges: &[SeqRange]) -> String {
    let cum = ranges.first().map_or(0, |r| *r.end());
    let mut s = format!("{name} flow={flow} cum={cum}");
    let rest = ranges.get(1..).unwrap_or(&[]);
    if !rest.is_empty() {
        let shown: Vec<String> = rest
            .iter()
            .take(MAX_RANGES_SHOWN)
            .map(|r| {
                if r.start() == r.end() {
                    r.start().to_string()
                } else {
                    format!("{}-{}", r.start(), r.end())
                }
            })
            .collect();
        let _ = write!(s, " ranges={}", shown.join(","));
        if rest.len() > MAX_RANGES_SHOWN {
            let _ = write!(s, ",+{}", rest.len() - MAX_RANGES_SHOWN);
        }
    }
    let _ = write!(s, " buf={buffer}");
    s
}

/// The first four bytes in hex, with `…` when there are more.
fn short_hex(bytes: &[u8]) -> String {
    let mut s = String::new();
    for b in bytes.iter().take(4) {
        let _ = write!(s, "{b:02x}");
    }
    if bytes.len() > 4 {
        s.push('…');
    }
    if s.is_empty() {
        s.push('-');
    }
    s
}
