//! The fault model of one direction of one link: what can happen to a datagram on the wire.
//!
//! Faults are applied in a fixed order when a datagram enters the link (see [`crate::link`]):
//! outage, MTU, bursty loss (Gilbert-Elliott), independent loss, the bottleneck queue,
//! duplication, then for each copy corruption, truncation and the delay (latency, jitter,
//! reordering). Every probability is drawn from the link direction's own random stream, and a
//! fault that is off draws nothing.

use core::time::Duration;

use crate::rng::SimRng;

/// Everything that can go wrong on one direction of a link. The default is a perfect wire:
/// no delay, no loss, no limit.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultConfig {
    /// Fixed one-way propagation delay.
    pub latency: Duration,
    /// Extra delay drawn uniformly from `0..=jitter` for each datagram. Independent draws
    /// can reorder datagrams that are sent closer together than the jitter.
    pub jitter: Duration,
    /// Probability that a datagram is lost, independently of the others.
    pub loss: f64,
    /// Bursty loss, drawn before the independent loss.
    pub burst_loss: Option<GilbertElliott>,
    /// Occasional extra delay that makes a datagram overtake later ones.
    pub reorder: Option<Reorder>,
    /// Probability that a datagram is delivered twice (the copy gets its own delay).
    pub duplicate: f64,
    /// Probability that one uniformly chosen bit of the payload is flipped.
    pub corrupt: f64,
    /// Probability that the payload is cut to a uniformly chosen shorter length.
    pub truncate: f64,
    /// Largest IP packet (payload plus IP and UDP headers) the link carries; larger ones are
    /// dropped, as a router does with the don't-fragment bit set.
    pub mtu: Option<u32>,
    /// A rate limit with a drop-tail queue in front of it.
    pub bottleneck: Option<Bottleneck>,
}

/// The two-state Gilbert-Elliott model of bursty loss.
///
/// Before each datagram the channel may change state (good to bad with `p_good_to_bad`, bad to
/// good with `p_bad_to_good`); the datagram is then lost with the loss probability of the state
/// it is in. With the defaults (`loss_in_good` 0, `loss_in_bad` 1) the mean burst length is
/// `1 / p_bad_to_good` datagrams.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GilbertElliott {
    /// Probability of moving from the good state to the bad one, per datagram.
    pub p_good_to_bad: f64,
    /// Probability of moving from the bad state back to the good one, per datagram.
    pub p_bad_to_good: f64,
    /// Loss probability in the good state.
    pub loss_in_good: f64,
    /// Loss probability in the bad state.
    pub loss_in_bad: f64,
}

/// With probability `probability`, a datagram is held back an extra `delay`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reorder {
    /// Probability that a datagram is held back.
    pub probability: f64,
    /// How long it is held back, on top of latency and jitter.
    pub delay: Duration,
}

/// A serialising bottleneck: datagrams leave one after another at `rate`, waiting in a
/// first-in first-out queue of at most `queue` bytes; a datagram that does not fit is dropped
/// (drop-tail).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bottleneck {
    /// Bits per second.
    pub rate: u64,
    /// Queue capacity in bytes, counting the datagram being serialised.
    pub queue: u64,
}

impl Bottleneck {
    /// The default queue capacity when a scenario gives a rate but no queue size.
    pub const DEFAULT_QUEUE: u64 = 64 * 1024;

    /// Time to put `bytes` on the wire, rounded up to the microsecond.
    pub fn serialisation(&self, bytes: u64) -> Duration {
        let rate = u128::from(self.rate.max(1));
        let micros = (u128::from(bytes) * 8 * 1_000_000).div_ceil(rate);
        Duration::from_micros(u64::try_from(micros).unwrap_or(u64::MAX))
    }

    /// Bytes still queued (including the one being sent) when the wire is busy for `busy`.
    pub fn backlog(&self, busy: Duration) -> u64 {
        let bytes = busy.as_micros() * u128::from(self.rate) / 8_000_000;
        u64::try_from(bytes).unwrap_or(u64::MAX)
    }
}

/// The state of the Gilbert-Elliott channel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ChannelState {
    /// Few or no losses.
    #[default]
    Good,
    /// Most or all datagrams lost.
    Bad,
}

impl GilbertElliott {
    /// Moves the channel on by one datagram and says whether that datagram is lost.
    pub fn step(&self, state: &mut ChannelState, rng: &mut SimRng) -> bool {
        *state = match *state {
            ChannelState::Good if rng.chance(self.p_good_to_bad) => ChannelState::Bad,
            ChannelState::Bad if rng.chance(self.p_bad_to_good) => ChannelState::Good,
            s => s,
        };
        match *state {
            ChannelState::Good => rng.chance(self.loss_in_good),
            ChannelState::Bad => rng.chance(self.loss_in_bad),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialisation_rounds_up_to_the_microsecond() {
        let b = Bottleneck {
            rate: 8_000_000,
            queue: 0,
        };
        // 1 byte at 1 MB/s is exactly 1 us; 1000 bytes 1 ms.
        assert_eq!(b.serialisation(1), Duration::from_micros(1));
        assert_eq!(b.serialisation(1000), Duration::from_millis(1));
        let slow = Bottleneck { rate: 3, queue: 0 };
        assert_eq!(slow.serialisation(1), Duration::from_micros(2_666_667));
        assert_eq!(b.backlog(Duration::from_millis(1)), 1000);
    }

    #[test]
    fn gilbert_elliott_loses_in_bursts() {
        // Enter the bad state rarely, stay in it for 10 datagrams on average, lose all there.
        let ge = GilbertElliott {
            p_good_to_bad: 0.01,
            p_bad_to_good: 0.1,
            loss_in_good: 0.0,
            loss_in_bad: 1.0,
        };
        let mut rng = SimRng::stream(5, "ge");
        let mut state = ChannelState::Good;
        let lost: Vec<bool> = (0..200_000)
            .map(|_| ge.step(&mut state, &mut rng))
            .collect();
        let losses = lost.iter().filter(|l| **l).count() as f64;
        let bursts = lost.windows(2).filter(|w| !w[0] && w[1]).count() as f64;
        // Stationary loss rate p/(p+r) = 0.01/0.11 (about 9.1%); mean burst 1/r = 10.
        let rate = losses / lost.len() as f64;
        assert!((0.08..0.10).contains(&rate), "loss rate {rate}");
        let mean_burst = losses / bursts;
        assert!((8.5..11.5).contains(&mean_burst), "mean burst {mean_burst}");
    }
}
