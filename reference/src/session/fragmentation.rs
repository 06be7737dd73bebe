//! Packet fragmentation and reassembly, and the startup rate limit, RFC 7016 section 3.4.
//!
//! - [`fragment`] splits an unavoidably large plain packet (an RHello or
//!   IIKeying with a big certificate) into Packet Fragment packets that fit.
//! - [`Reassembly`] puts fragments back together, with the receive rules of
//!   3.4: packets identified by source (address for session ID 0, session
//!   otherwise) and packet ID; empty fragments discarded; all fragments of a
//!   packet in the same mode, and the reassembled packet in that mode too;
//!   bounded buffer count and size (64 KiB default); a packet kept up to 60 s
//!   while it makes progress.
//! - [`StartupPacer`] holds startup datagrams back so that no destination gets
//!   more than 4380 bytes or four packets in any 200 ms (3.4; AMB-7016-19
//!   applies this to all startup traffic, fragmented or not).

use core::net::SocketAddr;
use core::time::Duration;
use std::collections::{BTreeMap, VecDeque};

use crate::time::Instant;
use crate::wire::chunk::{ChunkPayload, PacketFragment};
use crate::wire::packet::{Header, Mode};
use crate::wire::vlu;

use super::SessionHandle;

/// Splits `plain` (a whole plain packet of mode `mode`) into plain packets of
/// at most `max_len` bytes, each carrying one Packet Fragment of packet
/// `packet_id`, numbered from 0 (RFC 7016 2.3.1). Returns an empty list when
/// `max_len` leaves no room for fragment bytes.
pub fn fragment(plain: &[u8], mode: Mode, packet_id: u64, max_len: usize) -> Vec<Vec<u8>> {
    let header = Header::new(mode);
    let mut out = Vec::new();
    let mut rest = plain;
    let mut num = 0u64;
    while !rest.is_empty() {
        // Header, chunk header, flags, two VLUs.
        let overhead = header.encoded_len()
            + crate::wire::chunk::HEADER_LEN
            + 1
            + vlu::encoded_len(packet_id)
            + vlu::encoded_len(num);
        let room = max_len.saturating_sub(overhead);
        if room == 0 {
            return Vec::new();
        }
        let (this, next) = rest.split_at(room.min(rest.len()));
        let chunk = PacketFragment {
            more_fragments: !next.is_empty(),
            reserved: 0,
            packet_id,
            fragment_num: num,
            fragment: this.to_vec(),
        };
        let mut packet = Vec::with_capacity(overhead + this.len());
        header.encode(&mut packet);
        packet.push(PacketFragment::TYPE);
        packet.extend_from_slice(&(chunk.encoded_len() as u16).to_be_bytes());
        chunk.encode(&mut packet);
        out.push(packet);
        rest = next;
        num += 1;
    }
    out
}

/// Whose fragments a reassembly buffer holds (RFC 7016 3.4: for session ID 0,
/// the source address; otherwise the session).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    /// Session ID 0, from this address.
    Startup(SocketAddr),
    /// A session (its packets can come from any address after a move).
    Session(SessionHandle),
}

/// Reassembly limits (RFC 7016 3.4 and section 5), overridable for tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReassemblyLimits {
    /// Concurrent buffers for session ID 0, over all addresses.
    pub startup_buffers: usize,
    /// Concurrent buffers per session.
    pub session_buffers: usize,
    /// Bytes per buffer: 65536 when nothing better is known.
    pub max_buffer_bytes: usize,
    /// Longest time a packet may take to reassemble: 60 s.
    pub lifetime: Duration,
    /// A buffer without a new fragment for this long is discarded. RFC 7016
    /// counts a packet as progressing while a new fragment came within the last
    /// second; the default, 5 s, keeps a buffer long enough for a retransmitted
    /// startup packet (1 s or more later) to fill its gaps.
    pub idle: Duration,
}

impl Default for ReassemblyLimits {
    fn default() -> Self {
        ReassemblyLimits {
            startup_buffers: 64,
            session_buffers: 4,
            max_buffer_bytes: 65536,
            lifetime: Duration::from_secs(60),
            idle: Duration::from_secs(5),
        }
    }
}

/// Why a fragment was not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FragmentRefusal {
    /// Its packetFragment was empty (3.4: MUST discard).
    Empty,
    /// Its packet's mode differs from that of the first fragment received (3.4: MUST discard).
    ModeMismatch,
    /// All buffers for its source class are in use.
    TooManyBuffers,
    /// The buffer would exceed its size limit; the whole buffer is dropped.
    TooLarge,
    /// Its number contradicts the final fragment's (after the end, or a second end).
    Inconsistent,
    /// A fragment with this number is already held.
    Duplicate,
}

/// The result of adding a fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reassembled {
    /// Stored; the packet is not complete yet.
    Pending,
    /// The packet is complete: its bytes, and the mode of the packets that carried it.
    Complete(Vec<u8>, Mode),
    /// The fragment was refused.
    Refused(FragmentRefusal),
}

#[derive(Debug, Clone)]
struct Buffer {
    mode: Mode,
    fragments: BTreeMap<u64, Vec<u8>>,
    bytes: usize,
    last: Option<u64>,
    started: Instant,
    progressed: Instant,
}

impl Buffer {
    fn complete(&self) -> bool {
        match self.last {
            // Keys are unique, so 0..=last all present iff the count matches
            // and the highest key is `last`.
            Some(last) => {
                self.fragments.len() as u64 == last.saturating_add(1)
                    && self.fragments.keys().next_back() == Some(&last)
            }
            None => false,
        }
    }
}

/// Reassembly buffers for every source (RFC 7016 3.4).
#[derive(Debug, Clone, Default)]
pub struct Reassembly {
    limits: ReassemblyLimits,
    buffers: BTreeMap<(Source, u64), Buffer>,
}

impl Reassembly {
    /// No buffers yet.
    pub fn new(limits: ReassemblyLimits) -> Self {
        Reassembly {
            limits,
            buffers: BTreeMap::new(),
        }
    }

    /// The number of buffers in use.
    pub fn buffers(&self) -> usize {
        self.buffers.len()
    }

    /// The bytes held in all buffers.
    pub fn bytes(&self) -> usize {
        self.buffers.values().map(|b| b.bytes).sum()
    }

    fn count(&self, source: Source) -> usize {
        match source {
            Source::Startup(_) => self
                .buffers
                .keys()
                .filter(|(s, _)| matches!(s, Source::Startup(_)))
                .count(),
            Source::Session(h) => self
                .buffers
                .keys()
                .filter(|(s, _)| *s == Source::Session(h))
                .count(),
        }
    }

    /// Adds one fragment that arrived in a packet of mode `mode`.
    pub fn add(
        &mut self,
        now: Instant,
        source: Source,
        mode: Mode,
        f: &PacketFragment,
    ) -> Reassembled {
        use FragmentRefusal::*;
        if f.fragment.is_empty() {
            return Reassembled::Refused(Empty);
        }
        self.expire(now);
        let key = (source, f.packet_id);
        if !self.buffers.contains_key(&key) {
            let limit = match source {
                Source::Startup(_) => self.limits.startup_buffers,
                Source::Session(_) => self.limits.session_buffers,
            };
            if self.count(source) >= limit {
                return Reassembled::Refused(TooManyBuffers);
            }
            self.buffers.insert(
                key,
                Buffer {
                    mode,
                    fragments: BTreeMap::new(),
                    bytes: 0,
                    last: None,
                    started: now,
                    progressed: now,
                },
            );
        }
        let max_bytes = self.limits.max_buffer_bytes;
        let Some(b) = self.buffers.get_mut(&key) else {
            return Reassembled::Refused(TooManyBuffers);
        };
        if b.mode != mode {
            return Reassembled::Refused(ModeMismatch);
        }
        if b.fragments.contains_key(&f.fragment_num) {
            return Reassembled::Refused(Duplicate);
        }
        let beyond_end = b.last.is_some_and(|last| f.fragment_num > last);
        let second_end = !f.more_fragments
            && (b.last.is_some()
                || b.fragments
                    .keys()
                    .next_back()
                    .is_some_and(|&k| k > f.fragment_num));
        if beyond_end || second_end {
            return Reassembled::Refused(Inconsistent);
        }
        if b.bytes + f.fragment.len() > max_bytes {
            self.buffers.remove(&key);
            return Reassembled::Refused(TooLarge);
        }
        b.bytes += f.fragment.len();
        b.fragments.insert(f.fragment_num, f.fragment.clone());
        b.progressed = now;
        if !f.more_fragments {
            b.last = Some(f.fragment_num);
        }
        if !b.complete() {
            return Reassembled::Pending;
        }
        let Some(b) = self.buffers.remove(&key) else {
            return Reassembled::Pending;
        };
        let mut packet = Vec::with_capacity(b.bytes);
        for part in b.fragments.values() {
            packet.extend_from_slice(part);
        }
        Reassembled::Complete(packet, b.mode)
    }

    /// Drops buffers past their lifetime or idle for too long; returns how many.
    pub fn expire(&mut self, now: Instant) -> usize {
        let before = self.buffers.len();
        let limits = self.limits;
        self.buffers.retain(|_, b| {
            now.saturating_duration_since(b.started) < limits.lifetime
                && now.saturating_duration_since(b.progressed) < limits.idle
        });
        before - self.buffers.len()
    }

    /// Drops every buffer of a session (when it closes).
    pub fn forget_session(&mut self, h: SessionHandle) {
        self.buffers.retain(|(s, _), _| *s != Source::Session(h));
    }

    /// When the next buffer expires.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.buffers
            .values()
            .map(|b| (b.started + self.limits.lifetime).min(b.progressed + self.limits.idle))
            .min()
    }
}

/// The startup rate limit (RFC 7016 3.4), overridable for tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// The sliding window: 200 ms.
    pub window: Duration,
    /// Bytes per destination per window: 4380.
    pub bytes: usize,
    /// Datagrams per destination per window: 4.
    pub packets: usize,
    /// Datagrams waiting, over all destinations; more are dropped.
    pub queue: usize,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            window: Duration::from_millis(200),
            bytes: 4380,
            packets: 4,
            queue: 256,
        }
    }
}

/// A startup datagram waiting to go out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    /// Where to.
    pub destination: SocketAddr,
    /// The whole datagram.
    pub contents: Vec<u8>,
}

/// Holds startup datagrams until each destination's budget allows them (RFC 7016 3.4).
#[derive(Debug, Clone, Default)]
pub struct StartupPacer {
    limit: RateLimit,
    queue: VecDeque<Queued>,
    sent: BTreeMap<SocketAddr, VecDeque<(Instant, usize)>>,
}

impl StartupPacer {
    /// An empty pacer.
    pub fn new(limit: RateLimit) -> Self {
        StartupPacer {
            limit,
            queue: VecDeque::new(),
            sent: BTreeMap::new(),
        }
    }

    /// Queues a datagram; `false` (and nothing queued) when the queue is full.
    pub fn push(&mut self, q: Queued) -> bool {
        if self.queue.len() >= self.limit.queue {
            return false;
        }
        self.queue.push_back(q);
        true
    }

    /// Datagrams waiting.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Destinations with recent sends remembered.
    pub fn tracked_destinations(&self) -> usize {
        self.sent.len()
    }

    fn prune(&mut self, now: Instant) {
        let window = self.limit.window;
        self.sent.retain(|_, log| {
            while log
                .front()
                .is_some_and(|(t, _)| now.saturating_duration_since(*t) >= window)
            {
                log.pop_front();
            }
            !log.is_empty()
        });
    }

    fn allowed(&self, dest: &SocketAddr, len: usize) -> bool {
        match self.sent.get(dest) {
            None => true,
            Some(log) => {
                let bytes: usize = log.iter().map(|(_, n)| n).sum();
                // A single datagram larger than the byte budget still goes
                // out on its own (else it could never be sent).
                log.len() < self.limit.packets && bytes + len <= self.limit.bytes
            }
        }
    }

    /// The first queued datagram allowed now, keeping each destination's order.
    pub fn pop(&mut self, now: Instant) -> Option<Queued> {
        self.prune(now);
        let mut blocked: Vec<SocketAddr> = Vec::new();
        let mut found = None;
        for (i, q) in self.queue.iter().enumerate() {
            if blocked.contains(&q.destination) {
                continue;
            }
            if self.allowed(&q.destination, q.contents.len()) {
                found = Some(i);
                break;
            }
            blocked.push(q.destination);
        }
        let q = self.queue.remove(found?)?;
        self.sent
            .entry(q.destination)
            .or_default()
            .push_back((now, q.contents.len()));
        Some(q)
    }

    /// When a held datagram may next be allowed (the oldest send in its
    /// destination's window leaves it), if any is held.
    pub fn next_ready(&self) -> Option<Instant> {
        if self.queue.is_empty() {
            return None;
        }
        self.queue
            .iter()
            .map(
                |q| match self.sent.get(&q.destination).and_then(|l| l.front()) {
                    Some((t, _)) => *t + self.limit.window,
                    None => Instant::ZERO,
                },
            )
            .min()
    }

    /// The earliest time remembered sends can be forgotten.
    pub fn next_prune(&self) -> Option<Instant> {
        self.sent
            .values()
            .filter_map(|l| l.front())
            .map(|(t, _)| *t + self.limit.window)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Chunk;
    use crate::wire::packet::PlainPacket;

    fn h() -> SessionHandle {
        SessionHandle(1)
    }

    fn frag(id: u64, num: u64, more: bool, bytes: &[u8]) -> PacketFragment {
        PacketFragment {
            more_fragments: more,
            reserved: 0,
            packet_id: id,
            fragment_num: num,
            fragment: bytes.to_vec(),
        }
    }

    fn decode_fragment(packet: &[u8]) -> (Mode, PacketFragment) {
        let p = PlainPacket::decode(packet).unwrap();
        let c = p.chunks().next().unwrap().decode().unwrap();
        let Chunk::PacketFragment(f) = c else {
            panic!("not a fragment")
        };
        (p.header.mode, f)
    }

    // spec: 7016-2.3.1-b, 7016-2.3.1-c, 7016-2.3.1-d, 7016-2.3.1-e, 7016-3.4-d
    #[test]
    fn split_and_reassemble_round_trip() {
        let plain: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
        let parts = fragment(&plain, Mode::Startup, 300, 200);
        assert!(parts.len() >= 6);
        let mut r = Reassembly::new(ReassemblyLimits::default());
        let src = Source::Startup("192.0.2.1:9".parse().unwrap());
        let t = Instant::from_millis(1);
        for (i, p) in parts.iter().enumerate() {
            assert!(p.len() <= 200);
            let (mode, f) = decode_fragment(p);
            assert_eq!(
                (mode, f.packet_id, f.fragment_num),
                (Mode::Startup, 300, i as u64)
            );
            assert_eq!(f.more_fragments, i + 1 < parts.len());
            assert!(!f.fragment.is_empty());
            let got = r.add(t, src, mode, &f);
            if i + 1 < parts.len() {
                assert_eq!(got, Reassembled::Pending);
            } else {
                assert_eq!(got, Reassembled::Complete(plain.clone(), Mode::Startup));
            }
        }
        assert_eq!(r.buffers(), 0);
        assert!(fragment(&plain, Mode::Startup, 1, 8).is_empty());
    }

    // spec: 7016-3.4-d
    #[test]
    fn reordered_and_duplicated_fragments() {
        let mut r = Reassembly::new(ReassemblyLimits::default());
        let src = Source::Session(h());
        let t = Instant::from_millis(1);
        assert_eq!(
            r.add(t, src, Mode::Initiator, &frag(1, 2, false, b"c")),
            Reassembled::Pending
        );
        assert_eq!(
            r.add(t, src, Mode::Initiator, &frag(1, 0, true, b"a")),
            Reassembled::Pending
        );
        assert_eq!(
            r.add(t, src, Mode::Initiator, &frag(1, 0, true, b"a")),
            Reassembled::Refused(FragmentRefusal::Duplicate)
        );
        assert_eq!(
            r.add(t, src, Mode::Initiator, &frag(1, 1, true, b"b")),
            Reassembled::Complete(b"abc".to_vec(), Mode::Initiator)
        );
    }

    // spec: 7016-3.4-g, 7016-3.4-i, 7016-3.4-e
    #[test]
    fn empty_and_wrong_mode_fragments_are_discarded() {
        let mut r = Reassembly::new(ReassemblyLimits::default());
        let a = Source::Startup("192.0.2.1:9".parse().unwrap());
        let b = Source::Startup("192.0.2.2:9".parse().unwrap());
        let t = Instant::from_millis(1);
        assert_eq!(
            r.add(t, a, Mode::Startup, &frag(1, 0, true, b"")),
            Reassembled::Refused(FragmentRefusal::Empty)
        );
        assert_eq!(
            r.add(t, a, Mode::Startup, &frag(1, 0, true, b"x")),
            Reassembled::Pending
        );
        assert_eq!(
            r.add(t, a, Mode::Initiator, &frag(1, 1, false, b"y")),
            Reassembled::Refused(FragmentRefusal::ModeMismatch)
        );
        // The same packet ID from another address is another packet.
        assert_eq!(
            r.add(t, b, Mode::Startup, &frag(1, 1, false, b"y")),
            Reassembled::Pending
        );
        assert_eq!(r.buffers(), 2);
    }

    // spec: 7016-3.4-n, 7016-3.4-o
    #[test]
    fn buffer_count_and_size_are_limited() {
        let limits = ReassemblyLimits {
            startup_buffers: 2,
            max_buffer_bytes: 10,
            ..ReassemblyLimits::default()
        };
        let mut r = Reassembly::new(limits);
        let a = Source::Startup("192.0.2.1:9".parse().unwrap());
        let t = Instant::from_millis(1);
        assert_eq!(
            r.add(t, a, Mode::Startup, &frag(1, 0, true, b"x")),
            Reassembled::Pending
        );
        assert_eq!(
            r.add(t, a, Mode::Startup, &frag(2, 0, true, b"x")),
            Reassembled::Pending
        );
        assert_eq!(
            r.add(t, a, Mode::Startup, &frag(3, 0, true, b"x")),
            Reassembled::Refused(FragmentRefusal::TooManyBuffers)
        );
        // Session buffers have their own budget.
        assert_eq!(
            r.add(
                t,
                Source::Session(h()),
                Mode::Startup,
                &frag(3, 0, true, b"x")
            ),
            Reassembled::Pending
        );
        assert_eq!(
            r.add(t, a, Mode::Startup, &frag(1, 1, true, &[0; 10])),
            Reassembled::Refused(FragmentRefusal::TooLarge)
        );
        assert_eq!(r.buffers(), 2);
    }

    // spec: 7016-3.4-f
    #[test]
    fn progressing_packets_live_up_to_60_s() {
        let mut r = Reassembly::new(ReassemblyLimits::default());
        let a = Source::Startup("192.0.2.1:9".parse().unwrap());
        let t0 = Instant::from_millis(1);
        for i in 0..59u64 {
            let t = t0 + Duration::from_secs(i);
            assert_eq!(
                r.add(t, a, Mode::Startup, &frag(1, i, true, b"x")),
                Reassembled::Pending
            );
        }
        assert_eq!(r.buffers(), 1);
        assert_eq!(r.next_expiry(), Some(t0 + Duration::from_secs(60)));
        assert_eq!(r.expire(t0 + Duration::from_secs(60)), 1);
        // A stalled one goes after the idle time.
        r.add(t0, a, Mode::Startup, &frag(2, 0, true, b"x"));
        assert_eq!(r.expire(t0 + Duration::from_millis(4999)), 0);
        assert_eq!(r.expire(t0 + Duration::from_secs(5)), 1);
    }

    #[test]
    fn inconsistent_ends_are_refused() {
        let mut r = Reassembly::new(ReassemblyLimits::default());
        let a = Source::Session(h());
        let t = Instant::from_millis(1);
        r.add(t, a, Mode::Startup, &frag(1, 3, true, b"x"));
        assert_eq!(
            r.add(t, a, Mode::Startup, &frag(1, 1, false, b"x")),
            Reassembled::Refused(FragmentRefusal::Inconsistent)
        );
        r.add(t, a, Mode::Startup, &frag(1, 5, false, b"x"));
        assert_eq!(
            r.add(t, a, Mode::Startup, &frag(1, 6, true, b"x")),
            Reassembled::Refused(FragmentRefusal::Inconsistent)
        );
    }

    fn q(dest: &str, len: usize) -> Queued {
        Queued {
            destination: dest.parse().unwrap(),
            contents: vec![0; len],
        }
    }

    // spec: 7016-3.4-k, 7016-3.4-l, 7016-3.4-m
    #[test]
    fn pacer_allows_four_packets_and_4380_bytes_per_200_ms_per_destination() {
        let mut p = StartupPacer::new(RateLimit::default());
        let t = Instant::from_millis(1000);
        for _ in 0..6 {
            assert!(p.push(q("192.0.2.1:1", 100)));
        }
        assert!(p.push(q("192.0.2.2:1", 4000)));
        assert!(p.push(q("192.0.2.2:1", 1000)));
        let mut sent = Vec::new();
        while let Some(d) = p.pop(t) {
            sent.push(d.destination.to_string());
        }
        // Four to .1, the big one to .2; the 1000-byte one would exceed 4380.
        assert_eq!(sent.len(), 5);
        assert_eq!(
            sent.iter().filter(|d| d.starts_with("192.0.2.1")).count(),
            4
        );
        assert_eq!(p.next_ready(), Some(t + Duration::from_millis(200)));
        assert!(p.pop(t + Duration::from_millis(199)).is_none());
        let later = t + Duration::from_millis(200);
        assert_eq!(p.pop(later).map(|d| d.contents.len()), Some(100));
        assert_eq!(p.pop(later).map(|d| d.contents.len()), Some(100));
        assert_eq!(p.pop(later).map(|d| d.contents.len()), Some(1000));
        assert_eq!(p.queued(), 0);
        let mut small = StartupPacer::new(RateLimit {
            queue: 1,
            ..RateLimit::default()
        });
        assert!(small.push(q("192.0.2.1:1", 1)));
        assert!(!small.push(q("192.0.2.1:1", 1)));
    }
}
