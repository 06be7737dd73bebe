//! The trace: one line per network event, in virtual-time order, formatted deterministically.
//!
//! Every line starts with the virtual time as `seconds.microseconds`, right-aligned in a
//! fixed width, then the event name padded to a fixed width, then its details. Datagrams are
//! numbered (`#12`) in the order they are created, so a datagram can be followed from `sent`
//! through NAT translations to `delivered` or `dropped`; a duplicate gets its own number. The
//! caller may supply a summariser (for example a decoder holding session keys) whose one-line
//! summary of the payload is appended after ` | ` to `sent`, `delivered` and `dropped` lines.
//!
//! Counters ([`Stats`]) are kept even when the trace itself is switched off.

use core::fmt;
use core::time::Duration;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use rtmfp::time::Instant;

/// Why a datagram was dropped. Every drop in a run has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DropReason {
    /// The link direction was in an outage.
    Outage,
    /// An active partition separates the sender's side from the receiver's.
    Partition,
    /// The IP packet was larger than the link's MTU.
    Mtu,
    /// Independent random loss.
    Loss,
    /// Bursty loss (the Gilbert-Elliott channel).
    BurstLoss,
    /// The bottleneck's drop-tail queue was full.
    QueueFull,
    /// No host, NAT or gateway in the network has the destination address.
    NoRoute,
    /// The destination host exists but has no socket on that port.
    PortUnreachable,
    /// The datagram reached a host that had left that network (it moved or went offline).
    NotAttached,
    /// The node sent while its host was offline.
    HostOffline,
    /// The node sent from an address its host does not have (any more).
    BadSource,
    /// Inbound to a NAT port that has no mapping.
    NatNoMapping,
    /// Inbound to a mapped NAT port from a remote the filtering rule does not admit.
    NatFiltered,
    /// The NAT had no free external port for a new mapping.
    NatPortsExhausted,
    /// A host sent to its own NAT's outside address and the NAT does not hairpin.
    HairpinOff,
}

impl DropReason {
    /// Every reason, for reports.
    pub const ALL: [DropReason; 15] = [
        DropReason::Outage,
        DropReason::Partition,
        DropReason::Mtu,
        DropReason::Loss,
        DropReason::BurstLoss,
        DropReason::QueueFull,
        DropReason::NoRoute,
        DropReason::PortUnreachable,
        DropReason::NotAttached,
        DropReason::HostOffline,
        DropReason::BadSource,
        DropReason::NatNoMapping,
        DropReason::NatFiltered,
        DropReason::NatPortsExhausted,
        DropReason::HairpinOff,
    ];

    /// The stable, kebab-case name used in traces.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Outage => "outage",
            DropReason::Partition => "partition",
            DropReason::Mtu => "mtu",
            DropReason::Loss => "loss",
            DropReason::BurstLoss => "burst-loss",
            DropReason::QueueFull => "queue-full",
            DropReason::NoRoute => "no-route",
            DropReason::PortUnreachable => "port-unreachable",
            DropReason::NotAttached => "not-attached",
            DropReason::HostOffline => "host-offline",
            DropReason::BadSource => "bad-source",
            DropReason::NatNoMapping => "nat-no-mapping",
            DropReason::NatFiltered => "nat-filtered",
            DropReason::NatPortsExhausted => "nat-ports-exhausted",
            DropReason::HairpinOff => "hairpin-off",
        }
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which way a NAT translated a datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NatWay {
    /// Inside to outside: the source was rewritten.
    Out,
    /// Outside to inside: the destination was rewritten.
    In,
}

/// One thing that happened in the network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TraceEvent {
    /// A node handed a datagram to the network.
    Sent {
        /// Datagram number.
        id: u64,
        /// Sending host.
        host: Arc<str>,
        /// Source and destination as sent.
        src: SocketAddr,
        /// Destination as sent.
        dst: SocketAddr,
        /// Payload length.
        len: usize,
    },
    /// A datagram reached a node.
    Delivered {
        /// Datagram number.
        id: u64,
        /// The host that sent it (not shown in the line; counted in [`Stats`]).
        origin: Arc<str>,
        /// Receiving host.
        host: Arc<str>,
        /// Source as the receiver sees it.
        src: SocketAddr,
        /// Destination (the receiver's address).
        dst: SocketAddr,
        /// Payload length.
        len: usize,
    },
    /// A datagram was dropped.
    Dropped {
        /// Datagram number.
        id: u64,
        /// The host that sent it (not shown in the line; counted in [`Stats`]).
        origin: Arc<str>,
        /// Why.
        reason: DropReason,
        /// Where: a link direction (`alice@home/up`), `nat NAME`, `net NAME` or `host NAME`.
        place: Arc<str>,
        /// Source on the wire at that point.
        src: SocketAddr,
        /// Destination on the wire at that point.
        dst: SocketAddr,
        /// Payload length.
        len: usize,
    },
    /// A link made a second copy of a datagram.
    Duplicated {
        /// The original.
        id: u64,
        /// The copy's number.
        copy: u64,
        /// Link direction.
        place: Arc<str>,
    },
    /// A link inverted one bit of a datagram.
    Corrupted {
        /// Datagram number.
        id: u64,
        /// Bit index from the most significant bit of byte 0.
        bit: usize,
        /// Link direction.
        place: Arc<str>,
    },
    /// A link cut a datagram short.
    Truncated {
        /// Datagram number.
        id: u64,
        /// Length before.
        from: usize,
        /// Length after.
        to: usize,
        /// Link direction.
        place: Arc<str>,
    },
    /// A link held a datagram back so that later ones overtake it.
    Reordered {
        /// Datagram number.
        id: u64,
        /// Extra delay.
        extra: Duration,
        /// Link direction.
        place: Arc<str>,
    },
    /// A NAT rewrote a datagram's address.
    NatTranslated {
        /// Datagram number.
        id: u64,
        /// NAT (its private network's name).
        nat: Arc<str>,
        /// Outbound (source rewritten) or inbound (destination rewritten).
        way: NatWay,
        /// Address before.
        before: SocketAddr,
        /// Address after.
        after: SocketAddr,
        /// Whether this was a hairpin (inside to inside through the outside address).
        hairpin: bool,
    },
    /// A NAT created a mapping.
    NatMapped {
        /// NAT.
        nat: Arc<str>,
        /// Inside address.
        internal: SocketAddr,
        /// Outside address.
        external: SocketAddr,
        /// The remote the mapping is specific to, for dependent mapping behaviours.
        remote: Option<String>,
    },
    /// A NAT mapping timed out (or was flushed).
    NatExpired {
        /// NAT.
        nat: Arc<str>,
        /// Inside address.
        internal: SocketAddr,
        /// Outside address.
        external: SocketAddr,
        /// `timeout` or `flush`.
        why: &'static str,
    },
    /// A NAT moved a mapping to another outside port.
    NatRebound {
        /// NAT.
        nat: Arc<str>,
        /// Inside address.
        internal: SocketAddr,
        /// Outside address before.
        old: SocketAddr,
        /// Outside address after.
        new: SocketAddr,
    },
    /// A host left its network.
    Detached {
        /// Host.
        host: Arc<str>,
        /// Network it left.
        network: Arc<str>,
        /// Address it lost.
        addr: SocketAddr,
    },
    /// A host joined a network.
    Attached {
        /// Host.
        host: Arc<str>,
        /// Network it joined.
        network: Arc<str>,
        /// Its new address.
        addr: SocketAddr,
    },
    /// A partition began.
    PartitionBegins {
        /// The sides, as `[a b] | [c]`.
        sides: String,
    },
    /// A partition ended.
    PartitionEnds {
        /// The sides, as `[a b] | [c]`.
        sides: String,
    },
    /// A link direction went down.
    OutageBegins {
        /// Link direction.
        place: Arc<str>,
    },
    /// A link direction came back.
    OutageEnds {
        /// Link direction.
        place: Arc<str>,
    },
    /// A link direction's fault model was replaced.
    FaultsChanged {
        /// Link direction.
        place: Arc<str>,
    },
    /// A node's own line: an application event (see [`crate::node::Node::poll_note`]).
    Note {
        /// Host.
        host: Arc<str>,
        /// What the node said.
        text: String,
    },
    /// A node produced more datagrams in one go than the simulator accepts; the rest of that
    /// burst was not taken.
    NodeFlood {
        /// Host.
        host: Arc<str>,
        /// How many were taken.
        taken: u64,
    },
}

impl TraceEvent {
    /// The fixed name shown in the event column.
    pub fn name(&self) -> &'static str {
        match self {
            TraceEvent::Sent { .. } => "sent",
            TraceEvent::Delivered { .. } => "delivered",
            TraceEvent::Dropped { .. } => "dropped",
            TraceEvent::Duplicated { .. } => "duplicated",
            TraceEvent::Corrupted { .. } => "corrupted",
            TraceEvent::Truncated { .. } => "truncated",
            TraceEvent::Reordered { .. } => "reordered",
            TraceEvent::NatTranslated {
                way: NatWay::Out, ..
            } => "nat-out",
            TraceEvent::NatTranslated {
                way: NatWay::In, ..
            } => "nat-in",
            TraceEvent::NatMapped { .. } => "nat-map",
            TraceEvent::NatExpired { .. } => "nat-expire",
            TraceEvent::NatRebound { .. } => "nat-rebind",
            TraceEvent::Detached { .. } => "detached",
            TraceEvent::Attached { .. } => "attached",
            TraceEvent::PartitionBegins { .. } => "partition",
            TraceEvent::PartitionEnds { .. } => "partition",
            TraceEvent::OutageBegins { .. } => "outage",
            TraceEvent::OutageEnds { .. } => "outage",
            TraceEvent::FaultsChanged { .. } => "faults",
            TraceEvent::NodeFlood { .. } => "node-flood",
            TraceEvent::Note { .. } => "node",
        }
    }
}

impl fmt::Display for TraceEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:<10} ", self.name())?;
        match self {
            TraceEvent::Sent {
                id,
                host,
                src,
                dst,
                len,
            }
            | TraceEvent::Delivered {
                id,
                host,
                src,
                dst,
                len,
                ..
            } => {
                write!(f, "#{id} {host} {src} -> {dst} len={len}")
            }
            TraceEvent::Dropped {
                id,
                reason,
                place,
                src,
                dst,
                len,
                ..
            } => {
                write!(f, "#{id} {reason} at {place} {src} -> {dst} len={len}")
            }
            TraceEvent::Duplicated { id, copy, place } => write!(f, "#{id} as #{copy} at {place}"),
            TraceEvent::Corrupted { id, bit, place } => write!(f, "#{id} bit {bit} at {place}"),
            TraceEvent::Truncated {
                id,
                from,
                to,
                place,
            } => {
                write!(f, "#{id} {from} -> {to} bytes at {place}")
            }
            TraceEvent::Reordered { id, extra, place } => {
                write!(f, "#{id} +{}us at {place}", extra.as_micros())
            }
            TraceEvent::NatTranslated {
                id,
                nat,
                way,
                before,
                after,
                hairpin,
            } => {
                let field = match way {
                    NatWay::Out => "src",
                    NatWay::In => "dst",
                };
                let hairpin = if *hairpin { " hairpin" } else { "" };
                write!(f, "#{id} {nat} {field} {before} => {after}{hairpin}")
            }
            TraceEvent::NatMapped {
                nat,
                internal,
                external,
                remote,
            } => {
                write!(f, "{nat} {internal} => {external}")?;
                match remote {
                    Some(r) => write!(f, " for {r}"),
                    None => f.write_str(" for any"),
                }
            }
            TraceEvent::NatExpired {
                nat,
                internal,
                external,
                why,
            } => {
                write!(f, "{nat} {internal} => {external} ({why})")
            }
            TraceEvent::NatRebound {
                nat,
                internal,
                old,
                new,
            } => {
                write!(f, "{nat} {internal} => {old} now {new}")
            }
            TraceEvent::Detached {
                host,
                network,
                addr,
            } => {
                write!(f, "{host} {addr} leaves {network}")
            }
            TraceEvent::Attached {
                host,
                network,
                addr,
            } => {
                write!(f, "{host} {addr} joins {network}")
            }
            TraceEvent::PartitionBegins { sides } => write!(f, "begins {sides}"),
            TraceEvent::PartitionEnds { sides } => write!(f, "ends {sides}"),
            TraceEvent::OutageBegins { place } => write!(f, "begins at {place}"),
            TraceEvent::OutageEnds { place } => write!(f, "ends at {place}"),
            TraceEvent::FaultsChanged { place } => write!(f, "changed at {place}"),
            TraceEvent::NodeFlood { host, taken } => {
                write!(f, "{host} sent more than {taken} datagrams at once")
            }
            TraceEvent::Note { host, text } => write!(f, "{host} {text}"),
        }
    }
}

/// One line of the trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceRecord {
    /// Virtual time.
    pub at: Instant,
    /// What happened.
    pub event: TraceEvent,
    /// The summariser's description of the payload, if there is a summariser and a payload.
    pub summary: Option<String>,
}

impl fmt::Display for TraceRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let micros = self.at.as_micros();
        write!(
            f,
            "{:>6}.{:06} {}",
            micros / 1_000_000,
            micros % 1_000_000,
            self.event
        )?;
        match &self.summary {
            Some(summary) if !summary.is_empty() => write!(f, " | {summary}")?,
            _ => {}
        }
        Ok(())
    }
}

/// Counters over a run, kept whether or not the trace records lines.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Datagrams handed to the network by nodes.
    pub sent: u64,
    /// Datagrams handed to nodes.
    pub delivered: u64,
    /// Drops by reason.
    pub dropped: BTreeMap<DropReason, u64>,
    /// Copies made by duplication.
    pub duplicated: u64,
    /// Datagrams with a flipped bit.
    pub corrupted: u64,
    /// Datagrams cut short.
    pub truncated: u64,
    /// Datagrams held back for reordering.
    pub reordered: u64,
    /// NAT mappings created.
    pub nat_mappings: u64,
    /// Per host: (sent, delivered).
    pub per_host: BTreeMap<Arc<str>, (u64, u64)>,
    /// Drops by (reason, place, sending host): where each kind of loss hit whose traffic.
    pub dropped_at: BTreeMap<(DropReason, Arc<str>, Arc<str>), u64>,
    /// Datagrams delivered, by (sending host, receiving host).
    pub delivered_between: BTreeMap<(Arc<str>, Arc<str>), u64>,
}

impl Stats {
    /// Total drops, whatever the reason.
    pub fn total_dropped(&self) -> u64 {
        self.dropped.values().sum()
    }

    fn count(&mut self, event: &TraceEvent) {
        match event {
            TraceEvent::Sent { host, .. } => {
                self.sent += 1;
                self.per_host.entry(host.clone()).or_default().0 += 1;
            }
            TraceEvent::Delivered { host, origin, .. } => {
                self.delivered += 1;
                self.per_host.entry(host.clone()).or_default().1 += 1;
                *self
                    .delivered_between
                    .entry((origin.clone(), host.clone()))
                    .or_default() += 1;
            }
            TraceEvent::Dropped {
                reason,
                place,
                origin,
                ..
            } => {
                *self.dropped.entry(*reason).or_default() += 1;
                *self
                    .dropped_at
                    .entry((*reason, place.clone(), origin.clone()))
                    .or_default() += 1;
            }
            TraceEvent::Duplicated { .. } => self.duplicated += 1,
            TraceEvent::Corrupted { .. } => self.corrupted += 1,
            TraceEvent::Truncated { .. } => self.truncated += 1,
            TraceEvent::Reordered { .. } => self.reordered += 1,
            TraceEvent::NatMapped { .. } => self.nat_mappings += 1,
            _ => {}
        }
    }
}

/// A caller-supplied one-line description of a datagram's payload.
pub type Summarizer = Box<dyn FnMut(&[u8]) -> String>;

/// The trace of a run: records (unless switched off) and counters.
#[derive(Default)]
pub struct Trace {
    keep: bool,
    records: Vec<TraceRecord>,
    stats: Stats,
    summarizer: Option<Summarizer>,
}

impl fmt::Debug for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trace")
            .field("keep", &self.keep)
            .field("records", &self.records.len())
            .field("stats", &self.stats)
            .finish()
    }
}

impl Trace {
    /// A trace that records every line.
    pub fn new() -> Trace {
        Trace {
            keep: true,
            ..Trace::default()
        }
    }

    /// A trace that only counts (for long or heavy runs).
    pub fn counting_only() -> Trace {
        Trace {
            keep: false,
            ..Trace::default()
        }
    }

    /// Sets the payload summariser, e.g. an RTMFP decoder holding session keys.
    pub fn set_summarizer(&mut self, summarizer: Summarizer) {
        self.summarizer = Some(summarizer);
    }

    /// Records `event` at `at`; `payload` is offered to the summariser.
    pub fn record(&mut self, at: Instant, event: TraceEvent, payload: Option<&[u8]>) {
        self.stats.count(&event);
        if !self.keep {
            return;
        }
        let summary = match (payload, self.summarizer.as_mut()) {
            (Some(data), Some(summarize)) => Some(summarize(data)),
            _ => None,
        };
        self.records.push(TraceRecord { at, event, summary });
    }

    /// The records so far.
    pub fn records(&self) -> &[TraceRecord] {
        &self.records
    }

    /// The counters so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The whole trace as text, one line per record, each ending in a newline.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for record in &self.records {
            use fmt::Write as _;
            let _ = writeln!(out, "{record}");
        }
        out
    }

    /// Writes the whole trace as text.
    pub fn write_to<W: std::io::Write>(&self, mut w: W) -> std::io::Result<()> {
        for record in &self.records {
            writeln!(w, "{record}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("test address")
    }

    #[test]
    fn lines_have_fixed_width_time_and_event_columns() {
        let record = TraceRecord {
            at: Instant::from_micros(12_000_250),
            event: TraceEvent::Dropped {
                id: 7,
                origin: "alice".into(),
                reason: DropReason::QueueFull,
                place: "alice@internet/up".into(),
                src: addr("10.0.0.1:1935"),
                dst: addr("[2001:db8::1]:1935"),
                len: 48,
            },
            summary: Some("IHello".into()),
        };
        assert_eq!(
            record.to_string(),
            "    12.000250 dropped    #7 queue-full at alice@internet/up 10.0.0.1:1935 -> [2001:db8::1]:1935 len=48 | IHello"
        );
    }

    #[test]
    fn counting_only_keeps_counters_but_no_lines() {
        let mut trace = Trace::counting_only();
        let sent = TraceEvent::Sent {
            id: 1,
            host: "a".into(),
            src: addr("10.0.0.1:1"),
            dst: addr("10.0.0.2:1"),
            len: 3,
        };
        trace.record(Instant::ZERO, sent, Some(&[1, 2, 3]));
        assert!(trace.records().is_empty());
        assert_eq!(trace.stats().sent, 1);
        assert_eq!(trace.stats().per_host.get("a"), Some(&(1, 0)));
    }

    #[test]
    fn the_summarizer_sees_the_payload() {
        let mut trace = Trace::new();
        trace.set_summarizer(Box::new(|data: &[u8]| format!("{} bytes", data.len())));
        let sent = TraceEvent::Sent {
            id: 1,
            host: "a".into(),
            src: addr("10.0.0.1:1"),
            dst: addr("10.0.0.2:1"),
            len: 3,
        };
        trace.record(Instant::ZERO, sent, Some(&[1, 2, 3]));
        assert!(
            trace.to_text().ends_with("len=3 | 3 bytes\n"),
            "{}",
            trace.to_text()
        );
    }

    #[test]
    fn every_drop_reason_has_a_distinct_name() {
        let names: std::collections::BTreeSet<_> =
            DropReason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(names.len(), DropReason::ALL.len());
    }
}
