//! A link: the wire between a host (or a NAT's outside interface) and the network it is
//! attached to, with an independent fault model in each direction.
//!
//! `up` carries datagrams from the attached host or NAT into the network, `down` carries them
//! from the network to it. A datagram enters a direction at some instant; the direction either
//! drops it (with a [`DropReason`]) or says when each copy of it comes out the far end and
//! whether it was altered on the way.

use std::net::SocketAddr;
use std::sync::Arc;

use rtmfp::time::Instant;

use crate::fault::{Bottleneck, ChannelState, FaultConfig};
use crate::rng::SimRng;
use crate::topology::Via;
use crate::trace::DropReason;

/// Bytes an IPv4 and a UDP header add to a payload on the wire.
pub const IPV4_UDP_OVERHEAD: u64 = 20 + 8;
/// Bytes an IPv6 and a UDP header add to a payload on the wire.
pub const IPV6_UDP_OVERHEAD: u64 = 40 + 8;

/// A UDP datagram travelling through the simulated network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Datagram {
    /// Unique per run, in order of creation; a duplicate gets a fresh id.
    pub id: u64,
    /// Source address as currently seen on the wire (NATs rewrite it).
    pub src: SocketAddr,
    /// Destination address as currently seen on the wire (NATs rewrite it).
    pub dst: SocketAddr,
    /// UDP payload.
    pub data: Vec<u8>,
    /// Who it has passed through, for partitions.
    pub via: Via,
}

impl Datagram {
    /// Size of the IP packet carrying this datagram: what MTUs and rates count.
    pub fn wire_size(&self) -> u64 {
        let overhead = if self.dst.is_ipv4() {
            IPV4_UDP_OVERHEAD
        } else {
            IPV6_UDP_OVERHEAD
        };
        self.data.len() as u64 + overhead
    }
}

/// Which way a datagram crosses a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    /// From the attached host or NAT into the network.
    Up,
    /// From the network to the attached host or NAT.
    Down,
}

impl Direction {
    /// `up` or `down`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
        }
    }
}

/// How a copy of a datagram was damaged on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alteration {
    /// Bit `bit` (counting from the most significant bit of byte 0) was inverted.
    BitFlipped {
        /// Index of the flipped bit.
        bit: usize,
    },
    /// The payload was cut from `from` bytes to `to` bytes.
    Truncated {
        /// Length before.
        from: usize,
        /// Length after.
        to: usize,
    },
}

/// One copy of a datagram that made it through a link direction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Passage {
    /// When it comes out of the far end.
    pub arrives: Instant,
    /// Its payload, possibly altered.
    pub data: Vec<u8>,
    /// Whether this is the extra copy made by duplication.
    pub duplicate: bool,
    /// Damage done on the way, if any (at most one of each kind, corruption first).
    pub altered: Vec<Alteration>,
    /// Whether the reordering fault held it back.
    pub reordered: bool,
}

/// One direction of a link: its fault model, its random stream and its queue.
#[derive(Clone, Debug)]
pub struct LinkDirection {
    config: FaultConfig,
    rng: SimRng,
    channel: ChannelState,
    /// When the bottleneck finishes sending what is already queued.
    busy_until: Instant,
    /// Number of outages in force (they may overlap).
    outages: u32,
}

impl LinkDirection {
    /// A direction with `config`, drawing from `rng`.
    pub fn new(config: FaultConfig, rng: SimRng) -> LinkDirection {
        LinkDirection {
            config,
            rng,
            channel: ChannelState::Good,
            busy_until: Instant::ZERO,
            outages: 0,
        }
    }

    /// The fault model in force.
    pub fn config(&self) -> &FaultConfig {
        &self.config
    }

    /// Replaces the fault model from now on. Datagrams already on the wire are unaffected;
    /// the queue and the Gilbert-Elliott state carry over.
    pub fn set_config(&mut self, config: FaultConfig) {
        self.config = config;
    }

    /// Starts an outage: every datagram entering is dropped until [`LinkDirection::end_outage`].
    pub fn begin_outage(&mut self) {
        self.outages = self.outages.saturating_add(1);
    }

    /// Ends one outage.
    pub fn end_outage(&mut self) {
        self.outages = self.outages.saturating_sub(1);
    }

    /// Whether an outage is in force.
    pub fn is_down(&self) -> bool {
        self.outages > 0
    }

    /// A datagram of `wire_size` bytes on the wire enters at `now`: drop it, or say when and
    /// how each copy of `data` leaves. This is [`LinkDirection::admit`] then
    /// [`LinkDirection::pass`].
    pub fn enter(
        &mut self,
        now: Instant,
        wire_size: u64,
        data: Vec<u8>,
    ) -> Result<Vec<Passage>, DropReason> {
        let departs = self.admit(now, wire_size)?;
        Ok(self.pass(departs, data))
    }

    /// The faults that decide whether a datagram of `wire_size` bytes entering at `now` gets
    /// through at all (outage, MTU, bursty and independent loss, the queue); if it does,
    /// returns when its last bit leaves the queue.
    pub fn admit(&mut self, now: Instant, wire_size: u64) -> Result<Instant, DropReason> {
        if self.is_down() {
            return Err(DropReason::Outage);
        }
        let config = &self.config;
        if config.mtu.is_some_and(|mtu| wire_size > u64::from(mtu)) {
            return Err(DropReason::Mtu);
        }
        if let Some(ge) = &config.burst_loss
            && ge.step(&mut self.channel, &mut self.rng)
        {
            return Err(DropReason::BurstLoss);
        }
        if self.rng.chance(config.loss) {
            return Err(DropReason::Loss);
        }
        match config.bottleneck {
            Some(bottleneck) => self.enqueue(now, wire_size, bottleneck),
            None => Ok(now),
        }
    }

    /// The faults that act on an admitted datagram that left the queue at `departs`:
    /// duplication, then for each copy corruption, truncation and delay.
    pub fn pass(&mut self, departs: Instant, data: Vec<u8>) -> Vec<Passage> {
        let copies = if self.rng.chance(self.config.duplicate) {
            2
        } else {
            1
        };
        let mut passages = Vec::with_capacity(copies);
        let mut data = Some(data);
        for copy in 0..copies {
            let payload = if copy + 1 == copies {
                data.take().unwrap_or_default()
            } else {
                data.clone().unwrap_or_default()
            };
            passages.push(self.pass_copy(departs, payload, copy > 0));
        }
        passages
    }

    /// Puts a datagram in the bottleneck queue and returns when its last bit leaves.
    fn enqueue(
        &mut self,
        now: Instant,
        wire_size: u64,
        bottleneck: Bottleneck,
    ) -> Result<Instant, DropReason> {
        let backlog = bottleneck.backlog(self.busy_until - now);
        if backlog.saturating_add(wire_size) > bottleneck.queue {
            return Err(DropReason::QueueFull);
        }
        let start = self.busy_until.max(now);
        self.busy_until = start + bottleneck.serialisation(wire_size);
        Ok(self.busy_until)
    }

    /// Damages and delays one copy that left the queue at `departs`.
    fn pass_copy(&mut self, departs: Instant, mut data: Vec<u8>, duplicate: bool) -> Passage {
        let config = &self.config;
        let mut altered = Vec::new();
        if !data.is_empty() && self.rng.chance(config.corrupt) {
            let bit = self.rng.below(data.len() as u64 * 8) as usize;
            if let Some(byte) = data.get_mut(bit / 8) {
                *byte ^= 0x80 >> (bit % 8);
                altered.push(Alteration::BitFlipped { bit });
            }
        }
        if !data.is_empty() && self.rng.chance(config.truncate) {
            let from = data.len();
            let to = self.rng.below(from as u64) as usize;
            data.truncate(to);
            altered.push(Alteration::Truncated { from, to });
        }
        let mut delay = config.latency + self.rng.up_to(config.jitter);
        let mut reordered = false;
        if let Some(reorder) = config.reorder
            && self.rng.chance(reorder.probability)
        {
            delay += reorder.delay;
            reordered = true;
        }
        Passage {
            arrives: departs + delay,
            data,
            duplicate,
            altered,
            reordered,
        }
    }
}

/// A link: a name for traces and captures, and its two directions.
#[derive(Clone, Debug)]
pub struct Link {
    /// `host@network` for a host's link, `nat@network` for a NAT's outside link.
    pub name: Arc<str>,
    /// From the attached host or NAT into the network.
    pub up: LinkDirection,
    /// From the network to the attached host or NAT.
    pub down: LinkDirection,
}

impl Link {
    /// The direction `dir`.
    pub fn direction_mut(&mut self, dir: Direction) -> &mut LinkDirection {
        match dir {
            Direction::Up => &mut self.up,
            Direction::Down => &mut self.down,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::{GilbertElliott, Reorder};
    use core::time::Duration;

    fn dir(config: FaultConfig) -> LinkDirection {
        LinkDirection::new(config, SimRng::stream(9, "test"))
    }

    fn at(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    #[test]
    fn a_perfect_link_delivers_after_its_latency() {
        let mut d = dir(FaultConfig {
            latency: Duration::from_millis(20),
            ..Default::default()
        });
        let p = d.enter(at(5), 100, vec![1, 2, 3]).expect("delivered");
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].arrives, at(25));
        assert_eq!(p[0].data, vec![1, 2, 3]);
        assert!(p[0].altered.is_empty() && !p[0].duplicate && !p[0].reordered);
    }

    #[test]
    fn outage_and_mtu_drop_with_their_reasons() {
        let mut d = dir(FaultConfig {
            mtu: Some(100),
            ..Default::default()
        });
        assert_eq!(d.enter(at(0), 101, vec![]), Err(DropReason::Mtu));
        assert!(d.enter(at(0), 100, vec![]).is_ok());
        d.begin_outage();
        d.begin_outage();
        d.end_outage();
        assert_eq!(d.enter(at(0), 10, vec![]), Err(DropReason::Outage));
        d.end_outage();
        assert!(d.enter(at(0), 10, vec![]).is_ok());
    }

    #[test]
    fn certain_loss_and_certain_burst_loss_drop_everything() {
        let mut d = dir(FaultConfig {
            loss: 1.0,
            ..Default::default()
        });
        assert_eq!(d.enter(at(0), 10, vec![]), Err(DropReason::Loss));
        let always_bad = GilbertElliott {
            p_good_to_bad: 1.0,
            p_bad_to_good: 0.0,
            loss_in_good: 0.0,
            loss_in_bad: 1.0,
        };
        let mut d = dir(FaultConfig {
            burst_loss: Some(always_bad),
            ..Default::default()
        });
        assert_eq!(d.enter(at(0), 10, vec![]), Err(DropReason::BurstLoss));
    }

    #[test]
    fn independent_loss_matches_its_rate() {
        let mut d = dir(FaultConfig {
            loss: 0.1,
            ..Default::default()
        });
        let lost = (0..50_000)
            .filter(|_| d.enter(at(0), 10, vec![]) == Err(DropReason::Loss))
            .count();
        // Binomial(50000, 0.1): sd about 67.
        assert!((4_600..5_400).contains(&lost), "{lost}");
    }

    #[test]
    fn bottleneck_serialises_back_to_back_and_drops_at_the_tail() {
        // 8 Mbit/s = 1 byte per microsecond; queue holds 2500 bytes.
        let mut d = dir(FaultConfig {
            latency: Duration::from_millis(10),
            bottleneck: Some(Bottleneck {
                rate: 8_000_000,
                queue: 2500,
            }),
            ..Default::default()
        });
        let first = d.enter(at(0), 1000, vec![]).expect("first");
        let second = d.enter(at(0), 1000, vec![]).expect("second");
        assert_eq!(first[0].arrives, Instant::from_micros(1000 + 10_000));
        assert_eq!(second[0].arrives, Instant::from_micros(2000 + 10_000));
        // 2000 bytes queued; 1000 more would make 3000 > 2500.
        assert_eq!(d.enter(at(0), 1000, vec![]), Err(DropReason::QueueFull));
        // After 1.5 ms, 500 bytes remain: room again.
        let third = d
            .enter(Instant::from_micros(1500), 1000, vec![])
            .expect("third");
        assert_eq!(third[0].arrives, Instant::from_micros(3000 + 10_000));
        // An idle link starts serialising at once.
        let later = d.enter(at(100), 500, vec![]).expect("later");
        assert_eq!(
            later[0].arrives,
            Instant::from_micros(100_000 + 500 + 10_000)
        );
    }

    #[test]
    fn duplication_makes_an_identical_second_copy() {
        let mut d = dir(FaultConfig {
            duplicate: 1.0,
            latency: Duration::from_millis(1),
            ..Default::default()
        });
        let p = d.enter(at(0), 10, vec![7, 7]).expect("delivered");
        assert_eq!(p.len(), 2);
        assert!(!p[0].duplicate && p[1].duplicate);
        assert_eq!(p[0].data, p[1].data);
    }

    #[test]
    fn corruption_flips_exactly_one_bit_and_truncation_shortens() {
        let mut d = dir(FaultConfig {
            corrupt: 1.0,
            ..Default::default()
        });
        let original = vec![0u8; 64];
        let p = d.enter(at(0), 10, original.clone()).expect("delivered");
        let flipped: u32 = p[0].data.iter().map(|b| b.count_ones()).sum();
        assert_eq!(flipped, 1);
        let Some(Alteration::BitFlipped { bit }) = p[0].altered.first().copied() else {
            panic!("no alteration recorded: {:?}", p[0].altered);
        };
        assert_eq!(p[0].data[bit / 8], 0x80 >> (bit % 8));

        let mut d = dir(FaultConfig {
            truncate: 1.0,
            ..Default::default()
        });
        let p = d.enter(at(0), 10, original).expect("delivered");
        let Some(Alteration::Truncated { from: 64, to }) = p[0].altered.first().copied() else {
            panic!("no truncation recorded: {:?}", p[0].altered);
        };
        assert!(to < 64);
        assert_eq!(p[0].data.len(), to);
    }

    #[test]
    fn jitter_stays_in_bounds_and_reordering_adds_its_delay() {
        let mut d = dir(FaultConfig {
            latency: Duration::from_millis(10),
            jitter: Duration::from_millis(5),
            ..Default::default()
        });
        for _ in 0..1000 {
            let p = d.enter(at(0), 10, vec![]).expect("delivered");
            assert!((at(10)..=at(15)).contains(&p[0].arrives));
        }
        let mut d = dir(FaultConfig {
            latency: Duration::from_millis(10),
            reorder: Some(Reorder {
                probability: 1.0,
                delay: Duration::from_millis(30),
            }),
            ..Default::default()
        });
        let p = d.enter(at(0), 10, vec![]).expect("delivered");
        assert!(p[0].reordered);
        assert_eq!(p[0].arrives, at(40));
    }

    #[test]
    fn empty_payloads_cannot_be_corrupted_or_truncated() {
        let mut d = dir(FaultConfig {
            corrupt: 1.0,
            truncate: 1.0,
            ..Default::default()
        });
        let p = d.enter(at(0), 28, vec![]).expect("delivered");
        assert!(p[0].altered.is_empty());
    }
}
