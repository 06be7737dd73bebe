//! Statistics and drop reasons (RFC 7016 2.2.3, 2.2.4, 2.3 and section 5: discard, ignore, count).
//!
//! Everything an endpoint refuses is counted by a [`DropReason`] with a stable
//! name, once per endpoint and, when a session is involved, once per session.
//! Counters live in `BTreeMap`s so that printed statistics come out in the same
//! order every run.

use std::collections::BTreeMap;

/// Why a datagram, packet or chunk was dropped or ignored.
///
/// The names ([`DropReason::name`]) are stable: statistics, traces and tests use them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DropReason {
    // --- Datagrams and packets ---
    /// Shorter than the 4-byte scrambled session ID (2.2.2).
    TooShort,
    /// No live session has this receive session ID (3.3).
    UnknownSessionId,
    /// Decryption or verification failed (2.2.3); the crypto error's kind.
    Crypto(&'static str),
    /// The plain packet's header does not decode (2.2.4).
    MalformedHeader,
    /// Packet mode 0 (2.2.4: MUST discard).
    ModeZero,
    /// An initiator got mode 1, or a responder mode 2, in its session (2.2.4).
    OwnMode,
    /// A startup-mode packet arrived under a session's own keys.
    StartupModeInSession,
    /// The session is not in a state that takes packets.
    SessionState,
    // --- Chunks ---
    /// A chunk whose payload does not decode (2.3: ignored, the rest processed).
    MalformedChunk,
    /// A chunk in a packet of the wrong mode (2.3: MUST ignore).
    ChunkWrongMode,
    /// A chunk under the wrong session ID or key (AMB-7016-12).
    ChunkWrongSession,
    /// A chunk type RFC 7016 does not define (2.3: MUST ignore).
    UnknownChunk,
    // --- Fragmentation (3.4) ---
    /// A Packet Fragment with no bytes.
    EmptyFragment,
    /// A fragment in a packet whose mode differs from the first fragment's.
    FragmentModeMismatch,
    /// A reassembled packet whose mode differs from its fragments'.
    ReassembledModeMismatch,
    /// No free reassembly buffer.
    ReassemblyBuffersFull,
    /// A reassembly buffer grew past its size limit and was dropped.
    ReassemblyTooLarge,
    /// A fragment whose number contradicts the packet's final fragment.
    FragmentInconsistent,
    /// A fragment already held.
    FragmentDuplicate,
    /// A reassembly buffer timed out incomplete.
    ReassemblyExpired,
    /// A Packet Fragment inside a reassembled packet.
    NestedFragment,
    /// The reassembled packet's header does not decode.
    ReassembledMalformed,
    // --- Startup (3.5.1) ---
    /// An Endpoint Discriminator the profile cannot decode.
    BadEndpointDiscriminator,
    /// An IHello for someone else, and no redirect or forward applies.
    IHelloNotForUs,
    /// An FIHello ignored by policy, or not for this endpoint.
    FIHelloIgnored,
    /// An RHello or Redirect whose tag matches no opening session.
    UnmatchedTag,
    /// An RHello or Redirect for a session no longer in S_IHELLO_SENT (3.5.1.1: first RHello wins).
    LateStartupReply,
    /// A certificate that is not authentic or not selected by the wanted EPD.
    CertificateRejected,
    /// The profile refused to key with this peer (no common group, bad component...).
    KeyingFailed,
    /// An IIKeying whose cookie this endpoint did not make.
    CookieNotAuthentic,
    /// An IIKeying whose cookie has expired.
    CookieExpired,
    /// A Cookie Change not matching the session's cookie, or a second one.
    CookieChangeRefused,
    /// A signature that does not verify.
    BadSignature,
    /// Glare, and this end prevails: the far IIKeying is discarded (3.5.1.3).
    GlareNearPrevails,
    /// An IIKeying for an S_OPEN session's peer that does not override it (3.5.1.1.2).
    NotOverriding,
    /// A keying chunk asking for session ID 0 (AMB-7016-18).
    SessionIdZero,
    /// Too many sessions.
    SessionLimit,
    /// An RIKeying for a session not in S_KEYING_SENT.
    UnexpectedRIKeying,
    /// The startup send queue was full.
    StartupQueueFull,
    // --- Open sessions ---
    /// A Ping Reply that no Ping of this end asked for.
    UnexpectedPingReply,
    /// A Ping arriving outside S_OPEN (AMB-7016-24).
    PingNotOpen,
    /// Too many Ping Replies waiting, or one too big for a packet.
    PingReplyDropped,
    /// A flow chunk outside S_OPEN (3.5.5, AMB-7016-24).
    FlowChunkNotOpen,
    /// A datagram arrived while the application had
    /// [`EndpointConfig::max_pending_events`](super::EndpointConfig::max_pending_events)
    /// events waiting: not processed until it polls.
    EventQueueFull,
    /// An outgoing packet could not be encoded or encrypted; it was not sent.
    SendFailed,
}

impl DropReason {
    /// The stable name, e.g. `unknown_session_id` or `crypto.bad_hmac`.
    pub fn name(&self) -> String {
        match self {
            DropReason::Crypto(kind) => format!("crypto.{kind}"),
            other => other.static_name().to_string(),
        }
    }

    fn static_name(&self) -> &'static str {
        use DropReason::*;
        match self {
            TooShort => "too_short",
            UnknownSessionId => "unknown_session_id",
            Crypto(_) => "crypto",
            MalformedHeader => "malformed_header",
            ModeZero => "mode_zero",
            OwnMode => "own_mode",
            StartupModeInSession => "startup_mode_in_session",
            SessionState => "session_state",
            MalformedChunk => "malformed_chunk",
            ChunkWrongMode => "chunk_wrong_mode",
            ChunkWrongSession => "chunk_wrong_session",
            UnknownChunk => "unknown_chunk",
            EmptyFragment => "empty_fragment",
            FragmentModeMismatch => "fragment_mode_mismatch",
            ReassembledModeMismatch => "reassembled_mode_mismatch",
            ReassemblyBuffersFull => "reassembly_buffers_full",
            ReassemblyTooLarge => "reassembly_too_large",
            FragmentInconsistent => "fragment_inconsistent",
            FragmentDuplicate => "fragment_duplicate",
            ReassemblyExpired => "reassembly_expired",
            NestedFragment => "nested_fragment",
            ReassembledMalformed => "reassembled_malformed",
            BadEndpointDiscriminator => "bad_endpoint_discriminator",
            IHelloNotForUs => "ihello_not_for_us",
            FIHelloIgnored => "fihello_ignored",
            UnmatchedTag => "unmatched_tag",
            LateStartupReply => "late_startup_reply",
            CertificateRejected => "certificate_rejected",
            KeyingFailed => "keying_failed",
            CookieNotAuthentic => "cookie_not_authentic",
            CookieExpired => "cookie_expired",
            CookieChangeRefused => "cookie_change_refused",
            BadSignature => "bad_signature",
            GlareNearPrevails => "glare_near_prevails",
            NotOverriding => "not_overriding",
            SessionIdZero => "session_id_zero",
            SessionLimit => "session_limit",
            UnexpectedRIKeying => "unexpected_rikeying",
            StartupQueueFull => "startup_queue_full",
            UnexpectedPingReply => "unexpected_ping_reply",
            PingNotOpen => "ping_not_open",
            PingReplyDropped => "ping_reply_dropped",
            FlowChunkNotOpen => "flow_chunk_not_open",
            EventQueueFull => "event_queue_full",
            SendFailed => "send_failed",
        }
    }
}

impl core::fmt::Display for DropReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.name())
    }
}

/// Counters by drop reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Drops(pub BTreeMap<DropReason, u64>);

impl Drops {
    /// Counts one.
    pub fn count(&mut self, reason: DropReason) {
        *self.0.entry(reason).or_insert(0) += 1;
    }

    /// How many of this reason.
    pub fn get(&self, reason: DropReason) -> u64 {
        self.0.get(&reason).copied().unwrap_or(0)
    }

    /// How many of any reason.
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    /// `(name, count)` pairs in a stable order.
    pub fn by_name(&self) -> Vec<(String, u64)> {
        let mut v: Vec<_> = self.0.iter().map(|(r, n)| (r.name(), *n)).collect();
        v.sort();
        v
    }
}

/// Per-endpoint statistics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointStats {
    /// Datagrams handed to `handle_datagram`.
    pub datagrams_received: u64,
    /// Bytes in them.
    pub bytes_received: u64,
    /// Datagrams handed out by `poll_transmit`.
    pub datagrams_sent: u64,
    /// Bytes in them.
    pub bytes_sent: u64,
    /// IHellos sent (first sends and retransmissions).
    pub ihellos_sent: u64,
    /// RHellos sent.
    pub rhellos_sent: u64,
    /// Redirects sent (including Implied Redirects).
    pub redirects_sent: u64,
    /// FIHellos forwarded.
    pub fihellos_sent: u64,
    /// IIKeyings sent.
    pub iikeyings_sent: u64,
    /// RIKeyings sent (including resends).
    pub rikeyings_sent: u64,
    /// Cookie Changes sent.
    pub cookie_changes_sent: u64,
    /// Packets sent as fragments.
    pub packets_fragmented: u64,
    /// Fragmented packets received whole.
    pub packets_reassembled: u64,
    /// Sessions that reached S_OPEN as initiator.
    pub sessions_opened: u64,
    /// Sessions accepted as responder.
    pub sessions_accepted: u64,
    /// Sessions that ended in S_OPEN_FAILED or were aborted while opening.
    pub sessions_failed: u64,
    /// Everything dropped or ignored, by reason.
    pub drops: Drops,
}

/// Per-session statistics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// Packets accepted (decrypted, verified, right mode).
    pub packets_received: u64,
    /// Session packets sent.
    pub packets_sent: u64,
    /// Pings received.
    pub pings_received: u64,
    /// Ping Replies sent.
    pub ping_replies_sent: u64,
    /// Keepalive Pings sent.
    pub keepalives_sent: u64,
    /// Mobility check Pings sent.
    pub mobility_checks_sent: u64,
    /// Path MTU probes sent.
    pub mtu_probes_sent: u64,
    /// Ping Replies received.
    pub ping_replies_received: u64,
    /// Close Requests sent.
    pub closes_sent: u64,
    /// Close Acks sent.
    pub close_acks_sent: u64,
    /// IHellos sent for this opening session.
    pub ihellos_sent: u64,
    /// IIKeyings sent for this opening session.
    pub iikeyings_sent: u64,
    /// Flow chunks (User Data, Next User Data, acknowledgements, Buffer
    /// Probe, Flow Exception Report) received while S_OPEN.
    pub flow_chunks_received: u64,
    /// Flow chunks sent.
    pub flow_chunks_sent: u64,
    /// Everything of this session dropped or ignored, by reason.
    pub drops: Drops,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_stable_and_counted() {
        let mut d = Drops::default();
        d.count(DropReason::Crypto("bad_hmac"));
        d.count(DropReason::UnknownSessionId);
        d.count(DropReason::UnknownSessionId);
        assert_eq!(d.get(DropReason::UnknownSessionId), 2);
        assert_eq!(d.total(), 3);
        assert_eq!(
            d.by_name(),
            vec![
                ("crypto.bad_hmac".to_string(), 1),
                ("unknown_session_id".to_string(), 2)
            ]
        );
        assert_eq!(DropReason::ModeZero.to_string(), "mode_zero");
    }
}
