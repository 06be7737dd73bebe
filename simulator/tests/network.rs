//! The simulated network end to end, with small text nodes: timing, NATs, mobility,
//! outages, partitions and run limits. Expected times are worked out by hand in comments.

mod common;

use std::time::Duration;

use common::{Chatter, lines_with, node, run, run_to, scenario, send};
use rtmfp::time::Instant;
use rtmfp_sim::{DropReason, Limits, Sim, Stop};

fn ms(n: u64) -> Instant {
    Instant::from_millis(n)
}

fn addr(s: &str) -> std::net::SocketAddr {
    s.parse().expect("address")
}

fn dropped(sim: &Sim<Chatter>, reason: DropReason) -> u64 {
    sim.trace()
        .stats()
        .dropped
        .get(&reason)
        .copied()
        .unwrap_or(0)
}

#[test]
fn one_way_delay_is_the_sum_of_the_links_crossed() {
    let text = "duration: 1s
hosts:
  alice: { address: 192.0.2.1:1935, link: { up: { latency: 10ms }, down: { latency: 1ms } } }
  bob: { address: 192.0.2.2:1935, link: { up: { latency: 7ms }, down: { latency: 20ms } } }
";
    let sim = run(text, 1, |h| {
        let c = Chatter::new(h);
        if h.name == "alice" {
            c.talk("192.0.2.2:1935", 1, 0, Duration::ZERO)
        } else {
            c.echoing()
        }
    });
    // alice up (10 ms) + bob down (20 ms) = 30 ms; reply: bob up (7) + alice down (1) = 38 ms.
    let bob = node(&sim, "bob");
    assert_eq!(bob.received.len(), 1);
    assert_eq!(bob.received[0].0, ms(30));
    assert_eq!(bob.received[0].2, addr("192.0.2.1:1935"));
    let alice = node(&sim, "alice");
    assert_eq!(alice.received[0].0, ms(38));
    assert_eq!(alice.received_texts(), ["re: alice 0"]);
    assert_eq!(sim.trace().stats().delivered, 2);
}

fn nat_scenario(kind: &str, extra: &str) -> String {
    format!(
        "duration: 10s
networks:
  home: {{ nat: {{ type: {kind}, address: 198.51.100.1 {extra} }} }}
hosts:
  alice: {{ network: home, address: 192.168.1.10:1935 }}
  bob: {{ address: 203.0.113.9:1935 }}
  carol: {{ address: 203.0.113.77:1935 }}
"
    )
}

// RFC 4787 sections 4 and 5 through the whole engine: nothing gets in before alice sends;
// her peer's answer gets in; a stranger gets in only through a full cone; a symmetric NAT
// gives each remote its own port.
#[test]
fn nat_presets_map_and_filter_as_their_names_say() {
    for (kind, stranger_gets_in, same_port_for_all) in [
        ("full-cone", true, true),
        ("restricted-cone", false, true),
        ("port-restricted-cone", false, true),
        ("symmetric", false, false),
    ] {
        let mut sim = Sim::new(&scenario(&nat_scenario(kind, "")).topology, 1, Chatter::new);
        send(&mut sim, "bob", "198.51.100.1:49152", "unsolicited");
        run_to(&mut sim, 10);
        assert_eq!(dropped(&sim, DropReason::NatNoMapping), 1, "{kind}");
        send(&mut sim, "alice", "203.0.113.9:1935", "hello bob");
        run_to(&mut sim, 20);
        let bob = node(&sim, "bob");
        assert_eq!(
            bob.received.last().map(|r| r.2),
            Some(addr("198.51.100.1:49152")),
            "{kind}"
        );
        send(&mut sim, "bob", "198.51.100.1:49152", "hello alice");
        run_to(&mut sim, 30);
        assert_eq!(
            node(&sim, "alice").received_texts(),
            ["hello alice"],
            "{kind}"
        );
        send(&mut sim, "carol", "198.51.100.1:49152", "stranger");
        run_to(&mut sim, 40);
        let got_in = node(&sim, "alice")
            .received_texts()
            .contains(&"stranger".to_string());
        assert_eq!(got_in, stranger_gets_in, "{kind}");
        assert_eq!(
            dropped(&sim, DropReason::NatFiltered),
            u64::from(!stranger_gets_in),
            "{kind}"
        );
        send(&mut sim, "alice", "203.0.113.77:1935", "hello carol");
        run_to(&mut sim, 50);
        let carol_saw = node(&sim, "carol").received.last().map(|r| r.2);
        let expected = if same_port_for_all {
            "198.51.100.1:49152"
        } else {
            "198.51.100.1:49153"
        };
        assert_eq!(carol_saw, Some(addr(expected)), "{kind}");
    }
}

#[test]
fn hairpinning_reaches_a_neighbour_through_the_outside_address_only_when_enabled() {
    for hairpinning in [true, false] {
        let text = format!(
            "networks:
  home: {{ nat: {{ type: full-cone, address: 198.51.100.1, hairpinning: {hairpinning} }} }}
hosts:
  alice: {{ network: home, address: 192.168.1.10:1935 }}
  bob: {{ network: home, address: 192.168.1.11:1935 }}
  carol: {{ address: 203.0.113.77:1935 }}
"
        );
        let mut sim = Sim::new(&scenario(&text).topology, 1, Chatter::new);
        // bob's mapping is created first: 49152. alice's, made by the hairpin, is 49153.
        send(&mut sim, "bob", "203.0.113.77:1935", "make a mapping");
        run_to(&mut sim, 10);
        send(&mut sim, "alice", "198.51.100.1:49152", "via the outside");
        run_to(&mut sim, 20);
        let bob = node(&sim, "bob");
        if hairpinning {
            assert_eq!(bob.received_texts(), ["via the outside"]);
            assert_eq!(
                bob.received[0].2,
                addr("198.51.100.1:49153"),
                "source is alice's mapping"
            );
            assert_eq!(lines_with(&sim, "hairpin").len(), 2, "nat-out and nat-in");
        } else {
            assert!(bob.received.is_empty());
            assert_eq!(dropped(&sim, DropReason::HairpinOff), 1);
        }
        // Neighbours always reach each other directly on the LAN.
        send(&mut sim, "alice", "192.168.1.11:1935", "direct");
        run_to(&mut sim, 30);
        assert_eq!(
            node(&sim, "bob").received.last().map(|r| r.2),
            Some(addr("192.168.1.10:1935"))
        );
    }
}

// RFC 4787 REQ-5/REQ-6: a mapping lives `mapping_timeout` after the last outbound datagram;
// inbound traffic refreshes it only when configured to.
#[test]
fn mappings_time_out_and_the_idle_time_costs_nothing() {
    for inbound_refresh in [false, true] {
        let extra = format!(", mapping_timeout: 30s, inbound_refresh: {inbound_refresh}");
        let mut sim = Sim::new(
            &scenario(&nat_scenario("full-cone", &extra)).topology,
            1,
            Chatter::new,
        );
        send(&mut sim, "alice", "203.0.113.9:1935", "open");
        run_to(&mut sim, 29_000);
        send(&mut sim, "bob", "198.51.100.1:49152", "at 29 s");
        run_to(&mut sim, 31_000);
        send(&mut sim, "bob", "198.51.100.1:49152", "at 31 s");
        run_to(&mut sim, 100_000);
        let expected: &[&str] = if inbound_refresh {
            &["at 29 s", "at 31 s"]
        } else {
            &["at 29 s"]
        };
        assert_eq!(node(&sim, "alice").received_texts(), expected);
        let expiry = lines_with(&sim, "nat-expire");
        assert_eq!(expiry.len(), 1);
        // Without inbound refresh it expires 30 s after the outbound datagram at 0 s; with it,
        // 30 s after the last inbound one, at 31 s.
        let when = if inbound_refresh {
            "    61.000000"
        } else {
            "    30.000000"
        };
        assert!(expiry[0].starts_with(when), "{}", expiry[0]);
        assert!(
            sim.events_run() < 40,
            "100 simulated seconds took {} events",
            sim.events_run()
        );
    }
}

#[test]
fn rebinding_changes_the_source_port_mid_session_and_strands_replies_in_flight() {
    let text = "duration: 20s
networks:
  home: { nat: { type: port-restricted-cone, address: 198.51.100.1 } }
hosts:
  alice: { network: home, address: 192.168.1.10:1935, link: { latency: 100ms } }
  bob: { address: 203.0.113.9:1935, link: { latency: 200ms } }
events:
  - rebind: { at: 4450ms, nat: home }
";
    let sim = run(text, 1, |h| {
        let c = Chatter::new(h);
        if h.name == "alice" {
            c.talk("203.0.113.9:1935", 8, 0, Duration::from_secs(1))
        } else {
            c.echoing()
        }
    });
    let ports: Vec<u16> = node(&sim, "bob")
        .received
        .iter()
        .map(|r| r.2.port())
        .collect();
    assert_eq!(
        ports,
        [49152, 49152, 49152, 49152, 49152, 49153, 49153, 49153]
    );
    // alice's datagram of 4 s reaches bob at 4.3 s; his reply reaches the NAT at 4.5 s, after
    // the rebinding at 4.45 s, so it finds no mapping.
    let drops = lines_with(&sim, "nat-no-mapping");
    assert_eq!(drops.len(), 1);
    assert!(
        drops[0].starts_with("     4.500000 dropped"),
        "{}",
        drops[0]
    );
    assert_eq!(node(&sim, "alice").received.len(), 7);
    assert_eq!(lines_with(&sim, "nat-rebind").len(), 1);
}

fn laptop(follow_moves: bool, wildcard: bool, offline: &str) -> Sim<Chatter> {
    let text = format!(
        "duration: 6s
networks:
  wifi: {{ nat: {{ type: port-restricted-cone, address: 198.51.100.1 }} }}
hosts:
  laptop: {{ network: wifi, address: 192.168.1.10:1935, link: {{ latency: 100ms }} }}
  bob: {{ address: 203.0.113.9:1935, link: {{ latency: 100ms }} }}
events:
  - move: {{ at: 2350ms, host: laptop, network: internet, address: 203.0.113.50:1935, link: {{ latency: 10ms }} {offline} }}
"
    );
    run(&text, 1, |h| {
        let mut c = Chatter::new(h);
        c.follow_moves = follow_moves;
        c.wildcard = wildcard;
        if h.name == "laptop" {
            c.talk("203.0.113.9:1935", 5, 0, Duration::from_secs(1))
        } else {
            c.echoing()
        }
    })
}

#[test]
fn a_host_that_moves_gets_a_new_address_and_loses_what_was_in_flight() {
    let sim = laptop(true, false, "");
    let sources: Vec<String> = node(&sim, "bob")
        .received
        .iter()
        .map(|r| r.2.to_string())
        .collect();
    assert_eq!(
        sources,
        [
            "198.51.100.1:49152",
            "198.51.100.1:49152",
            "198.51.100.1:49152",
            "203.0.113.50:1935",
            "203.0.113.50:1935"
        ]
    );
    // The reply to the datagram of 2 s comes down the wifi link at 2.4 s, after the move.
    let lost = lines_with(&sim, "not-attached");
    assert_eq!(lost.len(), 1);
    assert!(lost[0].starts_with("     2.400000 dropped"), "{}", lost[0]);
    let laptop = node(&sim, "laptop");
    assert_eq!(laptop.received.len(), 4);
    assert_eq!(
        laptop.address_changes,
        [(ms(2350), vec![addr("203.0.113.50:1935")])]
    );
    assert_eq!(lines_with(&sim, "leaves wifi").len(), 1);
    assert_eq!(lines_with(&sim, "joins internet").len(), 1);
}

#[test]
fn after_a_move_a_stale_source_is_refused_but_a_wildcard_one_follows() {
    let stale = laptop(false, false, "");
    assert_eq!(
        dropped(&stale, DropReason::BadSource),
        2,
        "datagrams of 3 s and 4 s"
    );
    let wildcard = laptop(false, true, "");
    assert_eq!(dropped(&wildcard, DropReason::BadSource), 0);
    assert_eq!(node(&wildcard, "bob").received.len(), 5);
}

#[test]
fn an_offline_gap_drops_what_the_host_sends_meanwhile() {
    let sim = laptop(true, false, ", offline: 1s");
    // Offline from 2.35 s to 3.35 s: the datagram of 3 s is refused.
    assert_eq!(dropped(&sim, DropReason::HostOffline), 1);
    let changes = &node(&sim, "laptop").address_changes;
    assert_eq!(
        changes,
        &[
            (ms(2350), vec![]),
            (ms(3350), vec![addr("203.0.113.50:1935")])
        ]
    );
}

#[test]
fn what_reaches_a_mapping_of_a_host_that_left_dies_inside_the_nat() {
    // The laptop's datagram at 0 s maps 192.168.1.10:1935 to 198.51.100.1:49152 (full cone).
    // It leaves at 1 s; bob's datagram to the old mapping at 2 s is translated in, finds no
    // host at 192.168.1.10 and is dropped there, not sent back out through the NAT.
    let text = "duration: 5s
networks:
  wifi: { nat: { type: full-cone, address: 198.51.100.1 } }
hosts:
  laptop: { network: wifi, address: 192.168.1.10:1935, link: { latency: 10ms } }
  bob: { address: 203.0.113.9:1935, link: { latency: 10ms } }
events:
  - move: { at: 1s, host: laptop, network: internet, address: 203.0.113.50:1935 }
";
    let sim = run(text, 1, |h| {
        let c = Chatter::new(h);
        if h.name == "laptop" {
            c.talk("203.0.113.9:1935", 1, 0, Duration::from_secs(1))
        } else {
            c.talk("198.51.100.1:49152", 1, 2000, Duration::from_secs(1))
        }
    });
    let dropped_lines = lines_with(&sim, "dropped");
    assert_eq!(dropped_lines.len(), 1, "{dropped_lines:?}");
    assert!(
        dropped_lines[0].contains("no-route at net wifi 203.0.113.9:1935 -> 192.168.1.10:1935"),
        "{}",
        dropped_lines[0]
    );
    assert!(
        lines_with(&sim, "nat-out").len() == 1,
        "only the laptop's datagram went out"
    );
}

fn talking_pair(events: &str) -> Sim<Chatter> {
    let text = format!(
        "duration: 2s
networks:
  home: {{ nat: {{ type: full-cone, address: 198.51.100.1 }} }}
hosts:
  alice: {{ network: home, address: 192.168.1.10:1935 }}
  bob: {{ address: 203.0.113.9:1935 }}
events:
{events}"
    );
    run(&text, 1, |h| {
        let c = Chatter::new(h);
        if h.name == "alice" {
            c.talk("203.0.113.9:1935", 10, 0, Duration::from_millis(100))
        } else {
            c
        }
    })
}

#[test]
fn outages_drop_everything_on_the_link_while_they_last() {
    // Down from 250 ms to 550 ms: the datagrams of 300, 400 and 500 ms are lost.
    let sim = talking_pair("  - outage: { at: 250ms, link: alice, for: 300ms }\n");
    assert_eq!(dropped(&sim, DropReason::Outage), 3);
    assert_eq!(node(&sim, "bob").received.len(), 7);
    let outage = lines_with(&sim, "outage");
    assert_eq!(
        outage.len(),
        4 + 3,
        "two directions begin and end, plus three drops"
    );
    // An outage of the NAT's own link cuts the whole site.
    let sim = talking_pair("  - outage: { at: 250ms, link: home, direction: up, for: 300ms }\n");
    assert_eq!(dropped(&sim, DropReason::Outage), 3);
    assert_eq!(lines_with(&sim, "at home@internet/up").len(), 5);
}

#[test]
fn partitions_separate_sides_until_they_end() {
    let sim = talking_pair("  - partition: { at: 250ms, for: 300ms, sides: [[home], [bob]] }\n");
    assert_eq!(dropped(&sim, DropReason::Partition), 3);
    assert!(lines_with(&sim, "partition  begins [home] | [bob]").len() == 1);
    // A partition between alice and her NAT drops at the private network.
    let sim = talking_pair("  - partition: { at: 250ms, sides: [[alice], [home]] }\n");
    let drops = lines_with(&sim, "partition at net home");
    assert_eq!(drops.len(), 7, "300 ms to 900 ms, no end");
}

#[test]
fn a_partition_between_two_hosts_holds_across_nats_in_both_directions() {
    let events = "  - partition: { at: 250ms, for: 300ms, sides: [[alice], [bob]] }\n";
    let sim = talking_pair(events);
    let cut = lines_with(&sim, "partition at net internet");
    assert_eq!(
        cut.len(),
        3,
        "alice's 300, 400 and 500 ms datagrams, once out of her NAT"
    );
    // bob answers through alice's NAT: it gets in, and is cut inside her network.
    let text = format!(
        "networks:
  home: {{ nat: {{ type: full-cone, address: 198.51.100.1 }} }}
hosts:
  alice: {{ network: home, address: 192.168.1.10:1935 }}
  bob: {{ address: 203.0.113.9:1935 }}
events:
{events}"
    );
    let mut sim = Sim::new(&scenario(&text).topology, 1, Chatter::new);
    send(&mut sim, "alice", "203.0.113.9:1935", "open the NAT");
    run_to(&mut sim, 300);
    send(&mut sim, "bob", "198.51.100.1:49152", "during");
    run_to(&mut sim, 600);
    send(&mut sim, "bob", "198.51.100.1:49152", "after");
    run_to(&mut sim, 700);
    assert_eq!(lines_with(&sim, "partition at net home").len(), 1);
    assert_eq!(node(&sim, "alice").received_texts(), ["after"]);
}

#[test]
fn faults_can_be_changed_on_a_timetable() {
    let sim =
        talking_pair("  - faults: { at: 450ms, link: bob, direction: down, set: { loss: 1 } }\n");
    assert_eq!(dropped(&sim, DropReason::Loss), 5, "from 500 ms on");
    assert_eq!(
        lines_with(&sim, "faults     changed at bob@internet/down").len(),
        1
    );
}

#[test]
fn nested_nats_translate_twice() {
    let text = "duration: 1s
networks:
  carrier: { nat: { type: symmetric, address: 198.51.100.1, ports: 60000-60099 } }
  home: { parent: carrier, nat: { type: full-cone, address: 100.64.0.5 } }
hosts:
  alice: { network: home, address: 192.168.1.10:1935 }
  bob: { address: 203.0.113.9:1935 }
";
    let sim = run(text, 1, |h| {
        let c = Chatter::new(h);
        if h.name == "alice" {
            c.talk("203.0.113.9:1935", 1, 0, Duration::ZERO)
        } else {
            c.echoing()
        }
    });
    assert_eq!(node(&sim, "bob").received[0].2, addr("198.51.100.1:60000"));
    assert_eq!(node(&sim, "alice").received_texts(), ["re: alice 0"]);
    assert_eq!(node(&sim, "alice").received[0].2, addr("203.0.113.9:1935"));
    assert_eq!(lines_with(&sim, "nat-out").len(), 2);
    assert_eq!(lines_with(&sim, "nat-in").len(), 2);
}

#[test]
fn a_bottleneck_serialises_and_its_queue_overflows() {
    // 8 Mbit/s is one byte per microsecond. "alice N" is 7 bytes; 965 bytes of padding make a
    // 972-byte payload, 1000 bytes with IPv4 and UDP headers. Queue: 2500 bytes.
    let text = "duration: 1s
hosts:
  alice: { address: 192.0.2.1:1935, link: { up: { rate: 8Mbit/s, queue: 2500 } } }
  bob: { address: 192.0.2.2:1935 }
";
    let sim = run(text, 1, |h| {
        let c = Chatter::new(h);
        if h.name == "alice" {
            c.talk("192.0.2.2:1935", 3, 0, Duration::ZERO).padded(965)
        } else {
            c
        }
    });
    let times: Vec<Instant> = node(&sim, "bob").received.iter().map(|r| r.0).collect();
    assert_eq!(
        times,
        [Instant::from_micros(1000), Instant::from_micros(2000)]
    );
    assert_eq!(dropped(&sim, DropReason::QueueFull), 1);
}

#[test]
fn an_mtu_counts_ip_and_udp_headers() {
    // 972 + 28 = 1000 bytes fits an MTU of 1000; 973 + 28 does not.
    for (pad, delivered) in [(965, 1), (966, 0)] {
        let text = "hosts:
  alice: { address: 192.0.2.1:1935 }
  bob: { address: 192.0.2.2:1935, link: { down: { mtu: 1000 } } }
";
        let sim = run(text, 1, |h| {
            let c = Chatter::new(h);
            if h.name == "alice" {
                c.talk("192.0.2.2:1935", 1, 0, Duration::ZERO).padded(pad)
            } else {
                c
            }
        });
        assert_eq!(node(&sim, "bob").received.len(), delivered, "pad {pad}");
        assert_eq!(dropped(&sim, DropReason::Mtu), 1 - delivered as u64);
    }
}

#[test]
fn wrong_ports_and_unknown_addresses_are_dropped_with_reasons() {
    let text = "hosts:
  alice: { address: 192.0.2.1:1935 }
  bob: { address: 192.0.2.2:1935 }
";
    let mut sim = Sim::new(&scenario(text).topology, 1, Chatter::new);
    send(&mut sim, "alice", "192.0.2.2:9999", "wrong port");
    send(&mut sim, "alice", "192.0.2.99:1935", "nobody");
    send(&mut sim, "alice", "[2001:db8::1]:1935", "other family");
    run_to(&mut sim, 10);
    assert_eq!(dropped(&sim, DropReason::PortUnreachable), 1);
    assert_eq!(dropped(&sim, DropReason::NoRoute), 2);
    assert_eq!(sim.trace().stats().sent, 3);
}

#[test]
fn an_idle_simulated_day_costs_a_handful_of_events() {
    let text = "hosts:
  alice: { address: 192.0.2.1:1935 }
  bob: { address: 192.0.2.2:1935 }
";
    let mut sim = Sim::new(&scenario(text).topology, 1, |h| {
        let c = Chatter::new(h);
        if h.name == "alice" {
            c.talk("192.0.2.2:1935", 24, 0, Duration::from_secs(3600))
        } else {
            c
        }
    });
    let stop = sim.run(Limits {
        until: Some(Instant::ZERO + Duration::from_secs(86_400)),
        max_events: None,
    });
    assert_eq!(stop, Stop::Idle);
    assert_eq!(node(&sim, "bob").received.len(), 24);
    // Per datagram: a timer, the exit from alice's link, the exit from bob's; plus 2 starts.
    assert_eq!(sim.events_run(), 2 + 24 * 3);
    assert_eq!(sim.now(), Instant::ZERO + Duration::from_secs(86_400));
}

#[test]
fn runs_stop_at_the_deadline_or_the_event_budget() {
    let text = "hosts:
  alice: { address: 192.0.2.1:1935 }
  bob: { address: 192.0.2.2:1935 }
";
    let make = |h: &rtmfp_sim::HostInfo| {
        let c = Chatter::new(h);
        if h.name == "alice" {
            c.talk("192.0.2.2:1935", u64::MAX, 0, Duration::from_millis(10))
        } else {
            c
        }
    };
    let mut sim = Sim::new(&scenario(text).topology, 1, make);
    let stop = sim.run(Limits {
        until: Some(ms(1000)),
        max_events: None,
    });
    assert_eq!(stop, Stop::Deadline);
    assert_eq!(sim.now(), ms(1000));
    // Sends at 0, 10, ..., 1000 ms: 101.
    assert_eq!(node(&sim, "bob").received.len(), 101);
    let mut sim = Sim::new(&scenario(text).topology, 1, make);
    assert_eq!(
        sim.run(Limits {
            until: None,
            max_events: Some(500)
        }),
        Stop::EventBudget
    );
    assert_eq!(sim.events_run(), 500);
}
