//! Trace snapshots of small scenario files (tests/scenarios/*.yaml) run with text nodes.
//!
//! The files' `workload:` sections are read into a typed `Plan` per host, the way the RTMFP
//! workload will be: `Scenario<Workload>` with the simulator's error reporting. Each snapshot
//! was read line by line when accepted; the comments in each test give the numbers checked by
//! hand, and the assertions re-check the key ones so a changed snapshot cannot hide them.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::Chatter;
use rtmfp_sim::units::DurationValue;
use rtmfp_sim::{Scenario, Sim};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Plan {
    to: Option<String>,
    count: Option<u64>,
    start: Option<DurationValue>,
    every: Option<DurationValue>,
    pad: Option<usize>,
    burst: Option<u64>,
    echo: Option<bool>,
}

type Workload = BTreeMap<String, Plan>;

fn run_file(name: &str) -> (Sim<Chatter>, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scenarios")
        .join(name);
    let s = match Scenario::<Workload>::load(&path) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    let workload = s.workload.as_ref().expect("a workload");
    let mut sim = Sim::new(&s.topology, s.seed, |h| {
        let mut c = Chatter::new(h);
        if let Some(plan) = workload.get(&h.name) {
            if let Some(to) = &plan.to {
                let start = plan.start.map_or(0, |d| d.0.as_millis() as u64);
                let every = plan.every.map_or(std::time::Duration::ZERO, |d| d.0);
                c = c.talk(to, plan.count.unwrap_or(1), start, every);
            }
            c.pad = plan.pad.unwrap_or(0);
            c.burst = plan.burst.unwrap_or(1);
            c.echo = plan.echo.unwrap_or(false);
        }
        c
    });
    sim.trace_mut().set_summarizer(Box::new(|d: &[u8]| {
        String::from_utf8_lossy(d)
            .trim_end_matches('.')
            .escape_debug()
            .to_string()
    }));
    sim.run(s.limits());
    let text = sim.trace().to_text();
    (sim, text)
}

fn has_line(text: &str, start: &str) -> bool {
    text.lines().any(|l| l.starts_with(start))
}

#[test]
fn nat_echo() {
    let (sim, text) = run_file("nat_echo.yaml");
    // bob's datagram at 0: 30 ms up his link, then 5 ms down the NAT's: no mapping at 35 ms.
    assert!(
        has_line(
            &text,
            "     0.035000 dropped    #1 nat-no-mapping at nat home"
        ),
        "{text}"
    );
    // alice at 0.1 s: 20 ms up her link, mapped to the first port, 5 ms up the NAT's, 30 ms
    // down bob's: delivered at 155 ms from 198.51.100.1:40000.
    assert!(
        has_line(&text, "     0.155000 delivered  #2 bob 198.51.100.1:40000"),
        "{text}"
    );
    // carol at 1.5 s: 1 ms + 5 ms to the NAT, which filters her.
    assert!(has_line(&text, "     1.506000 dropped"), "{text}");
    assert!(text.contains("nat-filtered at nat home 203.0.113.77:1935"));
    // Rebinding at 2.5 s moves alice to port 40001; her last datagram, at 3.1 s, refreshes
    // the mapping at 3.120 s; it expires 10 s later.
    assert!(has_line(
        &text,
        "     2.500000 nat-rebind home 192.168.1.10:1935 => 198.51.100.1:40000 now 198.51.100.1:40001"
    ));
    assert!(
        has_line(
            &text,
            "    13.120000 nat-expire home 192.168.1.10:1935 => 198.51.100.1:40001 (timeout)"
        ),
        "{text}"
    );
    assert_eq!(
        sim.node(sim.host_id("alice").expect("alice"))
            .expect("node")
            .received
            .len(),
        4
    );
    insta::assert_snapshot!(text);
}

#[test]
fn mobility() {
    let (_, text) = run_file("mobility.yaml");
    // The datagram of 1 s meets the uplink outage (0.9 to 1.1 s); the one of 2 s reaches the
    // internet at 2.010 s during the partition (1.9 to 2.1 s) between the site and the server.
    assert!(
        has_line(
            &text,
            "     1.000000 dropped    #3 outage at laptop@wifi/up"
        ),
        "{text}"
    );
    assert!(
        has_line(
            &text,
            "     2.010000 dropped    #4 partition at net internet"
        ),
        "{text}"
    );
    // Port preservation keeps 1935 outside.
    assert!(text.contains("wifi 192.168.1.10:1935 => 198.51.100.1:1935 for 203.0.113.9:1935"));
    // Offline from 2.95 to 3.45 s: the datagram of 3 s is refused; the one of 4 s goes out
    // from the new address and its echo returns 2 + 40 + 40 + 2 = 84 ms later.
    assert!(
        has_line(
            &text,
            "     3.000000 dropped    #5 host-offline at host laptop"
        ),
        "{text}"
    );
    assert!(
        has_line(
            &text,
            "     4.084000 delivered  #7 laptop 203.0.113.9:1935 -> 203.0.113.50:1935"
        ),
        "{text}"
    );
    insta::assert_snapshot!(text);
}

#[test]
fn lossy() {
    let (sim, text) = run_file("lossy.yaml");
    let stats = sim.trace().stats();
    // With seed 3 every kind of fault shows up at least once in these 20 datagrams.
    assert!(
        stats.duplicated > 0 && stats.corrupted > 0 && stats.truncated > 0 && stats.reordered > 0,
        "{stats:?}"
    );
    assert!(stats.dropped.len() >= 2, "loss and burst loss: {stats:?}");
    insta::assert_snapshot!(text);
}

#[test]
fn bottleneck() {
    let (_, text) = run_file("bottleneck.yaml");
    // Burst at 0: three fit the 3000-byte queue and leave at 8, 16, 24 ms, arriving 10 ms
    // later; three are dropped. At 20 ms 500 bytes remain queued, so two more fit: they leave
    // at 32 and 40 ms; the other four are dropped.
    for at in ["0.018000", "0.026000", "0.034000", "0.042000", "0.050000"] {
        assert!(
            text.contains(&format!("     {at} delivered")),
            "{at}\n{text}"
        );
    }
    assert_eq!(text.matches("queue-full").count(), 3 + 4);
    insta::assert_snapshot!(text);
}

#[test]
fn a_bad_workload_is_reported_like_a_bad_network() {
    let text =
        "hosts:\n  a: { address: 192.0.2.1:1 }\nworkload:\n  a: { to: 192.0.2.2:1, every: soon }\n";
    let e = Scenario::<Workload>::parse("w.yaml", text).expect_err("bad duration");
    assert_eq!((e.line, e.field.as_str()), (4, "workload.a.every"), "{e}");
}
