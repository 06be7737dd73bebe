//! Link faults through the whole engine, checked statistically and record by record, and
//! the determinism of runs: same scenario and seed, same bytes; a new host perturbs nothing.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Chatter, node, scenario};
use rtmfp_sim::{DropReason, Limits, Sim, TraceEvent};

const N: u64 = 20_000;

/// alice sends N datagrams of "alice <n>" plus padding to bob, one per millisecond, over a
/// link whose `up` direction has `faults`; payloads are summarised as hex.
fn flood(faults: &str, seed: u64) -> Sim<Chatter> {
    let text = format!(
        "hosts:
  alice: {{ address: 192.0.2.1:1935, link: {{ up: {faults} }} }}
  bob: {{ address: 192.0.2.2:1935 }}
"
    );
    let s = scenario(&text);
    let mut sim = Sim::new(&s.topology, seed, |h| {
        let c = Chatter::new(h);
        if h.name == "alice" {
            c.talk("192.0.2.2:1935", N, 0, Duration::from_millis(1))
                .padded(16)
        } else {
            c
        }
    });
    sim.trace_mut().set_summarizer(Box::new(|d: &[u8]| {
        d.iter().map(|b| format!("{b:02x}")).collect()
    }));
    sim.run(Limits::default());
    sim
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

/// Payloads by datagram id, from `sent` and `delivered` records.
fn payloads(sim: &Sim<Chatter>) -> (BTreeMap<u64, Vec<u8>>, BTreeMap<u64, Vec<u8>>) {
    let (mut sent, mut delivered) = (BTreeMap::new(), BTreeMap::new());
    for r in sim.trace().records() {
        let data = || unhex(r.summary.as_deref().unwrap_or(""));
        match r.event {
            TraceEvent::Sent { id, .. } => drop(sent.insert(id, data())),
            TraceEvent::Delivered { id, .. } => drop(delivered.insert(id, data())),
            _ => {}
        }
    }
    (sent, delivered)
}

/// `count` is within `k` binomial standard deviations of `n * p`.
fn near(count: u64, n: u64, p: f64, k: f64) -> bool {
    let mean = n as f64 * p;
    let sd = (n as f64 * p * (1.0 - p)).sqrt();
    (count as f64 - mean).abs() <= k * sd
}

#[test]
fn independent_loss_drops_its_share() {
    let sim = flood("{ loss: 0.1 }", 1);
    let lost = sim
        .trace()
        .stats()
        .dropped
        .get(&DropReason::Loss)
        .copied()
        .unwrap_or(0);
    assert!(near(lost, N, 0.1, 6.0), "{lost}");
    assert_eq!(node(&sim, "bob").received.len() as u64, N - lost);
}

#[test]
fn bursty_loss_comes_in_runs() {
    // Mean burst 1/0.25 = 4 datagrams; stationary loss 0.02/(0.02+0.25), about 7.4%.
    let sim = flood(
        "{ burst_loss: { p_good_to_bad: 0.02, p_bad_to_good: 0.25 } }",
        1,
    );
    let lost: Vec<bool> = {
        let mut fate = BTreeMap::new();
        for r in sim.trace().records() {
            match &r.event {
                TraceEvent::Sent { id, .. } => drop(fate.insert(*id, false)),
                TraceEvent::Dropped {
                    id,
                    reason: DropReason::BurstLoss,
                    ..
                } => drop(fate.insert(*id, true)),
                _ => {}
            }
        }
        fate.into_values().collect()
    };
    let losses = lost.iter().filter(|l| **l).count() as f64;
    let bursts = lost.windows(2).filter(|w| !w[0] && w[1]).count() as f64;
    let rate = losses / N as f64;
    assert!((0.055..0.095).contains(&rate), "loss rate {rate}");
    let mean_burst = losses / bursts;
    assert!((3.0..5.0).contains(&mean_burst), "mean burst {mean_burst}");
}

#[test]
fn duplicates_are_extra_deliveries_of_the_same_bytes() {
    let sim = flood("{ duplicate: 0.05 }", 1);
    let dups = sim.trace().stats().duplicated;
    assert!(near(dups, N, 0.05, 6.0), "{dups}");
    assert_eq!(node(&sim, "bob").received.len() as u64, N + dups);
    let (sent, delivered) = payloads(&sim);
    for r in sim.trace().records() {
        if let TraceEvent::Duplicated { id, copy, .. } = r.event {
            assert_eq!(delivered.get(&copy), sent.get(&id), "copy #{copy} of #{id}");
        }
    }
}

#[test]
fn corruption_flips_the_recorded_bit_and_truncation_cuts_to_the_recorded_length() {
    let sim = flood("{ corrupt: 0.05, truncate: 0.05 }", 1);
    let stats = sim.trace().stats();
    assert!(near(stats.corrupted, N, 0.05, 6.0), "{}", stats.corrupted);
    assert!(near(stats.truncated, N, 0.05, 6.0), "{}", stats.truncated);
    let (sent, delivered) = payloads(&sim);
    let mut expected = sent.clone();
    for r in sim.trace().records() {
        match r.event {
            TraceEvent::Corrupted { id, bit, .. } => {
                let data = expected.get_mut(&id).expect("sent");
                data[bit / 8] ^= 0x80 >> (bit % 8);
            }
            TraceEvent::Truncated { id, from, to, .. } => {
                let data = expected.get_mut(&id).expect("sent");
                assert_eq!(data.len(), from);
                data.truncate(to);
            }
            _ => {}
        }
    }
    assert_eq!(
        delivered, expected,
        "every delivered payload is the sent one with exactly the traced damage"
    );
    let damaged = sent
        .iter()
        .filter(|(id, data)| delivered.get(id) != Some(data))
        .count() as u64;
    assert!(damaged <= stats.corrupted + stats.truncated);
}

#[test]
fn jitter_and_reordering_delay_within_their_bounds() {
    let sim = flood(
        "{ latency: 10ms, jitter: 5ms, reorder: { probability: 0.1, delay: 50ms } }",
        1,
    );
    let mut sent_at = BTreeMap::new();
    let mut reordered = BTreeMap::new();
    let mut delays = Vec::new();
    for r in sim.trace().records() {
        match r.event {
            TraceEvent::Sent { id, .. } => drop(sent_at.insert(id, r.at)),
            TraceEvent::Reordered { id, extra, .. } => drop(reordered.insert(id, extra)),
            TraceEvent::Delivered { id, .. } => {
                let delay = r.at - sent_at[&id];
                let base = delay.saturating_sub(reordered.get(&id).copied().unwrap_or_default());
                assert!(
                    (Duration::from_millis(10)..=Duration::from_millis(15)).contains(&base),
                    "{delay:?}"
                );
                delays.push(base.as_micros() as f64);
            }
            _ => {}
        }
    }
    let mean = delays.iter().sum::<f64>() / delays.len() as f64;
    assert!(
        (12_400.0..12_600.0).contains(&mean),
        "mean delay {mean} us, expected 12.5 ms"
    );
    assert!(
        near(reordered.len() as u64, N, 0.1, 6.0),
        "{}",
        reordered.len()
    );
    // Held back 50 ms behind datagrams sent every millisecond: bob sees them out of order.
    let order: Vec<u64> = node(&sim, "bob")
        .received
        .iter()
        .map(|r| {
            String::from_utf8_lossy(&r.3)
                .split([' ', '.'])
                .nth(1)
                .and_then(|n| n.parse().ok())
                .expect("seq")
        })
        .collect();
    let inversions = order.windows(2).filter(|w| w[0] > w[1]).count();
    assert!(inversions > 1000, "{inversions}");
}

/// A scenario where randomness matters everywhere: faults on every link, a NAT with random
/// ports, and timed events.
const BUSY: &str = "duration: 20s
networks:
  home: { nat: { type: symmetric, address: 198.51.100.1, port_allocation: random }, link: { latency: 3ms, jitter: 2ms } }
hosts:
  alice:
    network: home
    address: 192.168.1.10:1935
    link: { latency: 20ms, jitter: 10ms, loss: 0.05, duplicate: 0.02, corrupt: 0.02, truncate: 0.01,
            reorder: { probability: 0.05, delay: 30ms }, up: { rate: 2Mbit/s, queue: 8KiB } }
  bob:
    address: 203.0.113.9:1935
    link: { latency: 15ms, burst_loss: { p_good_to_bad: 0.05, p_bad_to_good: 0.5 } }
events:
  - outage: { at: 3s, link: alice, for: 500ms }
  - partition: { at: 6s, for: 1s, sides: [[home], [bob]] }
  - rebind: { at: 9s, nat: home }
  - faults: { at: 12s, link: bob, set: { latency: 40ms, loss: 0.1 } }
  - move: { at: 15s, host: alice, network: internet, address: 203.0.113.50:1935, offline: 200ms }
";

fn busy(text: &str, seed: u64) -> Sim<Chatter> {
    let s = scenario(text);
    let mut sim = Sim::new(&s.topology, seed, |h| {
        let c = Chatter::new(h);
        match h.name.as_str() {
            "alice" => c
                .talk("203.0.113.9:1935", 2000, 0, Duration::from_millis(9))
                .padded(200),
            "bob" => c.echoing(),
            "zed1" => c
                .talk("203.0.113.201:1935", 2000, 1, Duration::from_millis(7))
                .padded(100),
            _ => c.echoing(),
        }
    });
    sim.enable_capture();
    sim.run(s.limits());
    sim
}

#[test]
fn the_same_scenario_and_seed_give_the_same_bytes() {
    let a = busy(BUSY, 7);
    let b = busy(BUSY, 7);
    assert!(a.trace().records().len() > 5000);
    assert_eq!(a.trace().to_text(), b.trace().to_text());
    let pcap = |s: &Sim<Chatter>| {
        s.capture()
            .expect("capture")
            .write_merged(Vec::new())
            .expect("pcap")
    };
    assert_eq!(pcap(&a), pcap(&b));
    let c = busy(BUSY, 8);
    assert_ne!(
        a.trace().to_text(),
        c.trace().to_text(),
        "another seed, another run"
    );
}

#[test]
fn adding_hosts_does_not_perturb_other_links_randomness() {
    let extended = format!(
        "{}  zed1: {{ address: 203.0.113.200:1935, link: {{ loss: 0.3, jitter: 5ms }} }}\n  zed2: {{ address: 203.0.113.201:1935, link: {{ duplicate: 0.3 }} }}\n",
        BUSY.split("events:").next().expect("hosts part")
    ) + "events:"
        + BUSY.split("events:").nth(1).expect("events part");
    let base = busy(BUSY, 7);
    let more = busy(&extended, 7);
    assert!(
        more.trace().stats().sent > base.trace().stats().sent + 2000,
        "zed hosts talk"
    );
    // Strip datagram numbers (a global counter) and drop the zed hosts' lines: what is left
    // must be the same, fate for fate and microsecond for microsecond.
    let strip = |sim: &Sim<Chatter>| -> Vec<String> {
        sim.trace()
            .to_text()
            .lines()
            .filter(|l| !l.contains("203.0.113.20") && !l.contains("zed"))
            .map(|l| {
                l.split(' ')
                    .filter(|w| !w.starts_with('#'))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    };
    let (a, b) = (strip(&base), strip(&more));
    assert_eq!(a.len(), b.len());
    assert!(
        a == b,
        "first difference: {:?}",
        a.iter().zip(&b).find(|(x, y)| x != y)
    );
}
