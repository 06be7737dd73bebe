//! The RTMFP workload and expectations: located errors for bad files, unmet expectations
//! reported with their line, the transparent profile, and captures that the reference's own
//! inspector decrypts with the run's key log.

use rtmfp::crypto::flash::keylog::KeyLog;
use rtmfp::crypto::inspect::{self, KeyUsed, Keys};
use rtmfp_sim::run::{self, RunOptions};

const NET: &str = "duration: 10s
hosts:
  alice: { address: 192.0.2.10:50000, link: { latency: 10ms } }
  bob: { address: 203.0.113.5:1935, link: { latency: 15ms } }
";

fn error(text: &str) -> rtmfp_sim::ScenarioError {
    match run::parse("bad.yaml", text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e,
    }
}

#[test]
fn bad_workloads_name_the_file_line_and_field() {
    let cases: &[(&str, u64, &str, &str)] = &[
        (
            "workload:\n  hosts:\n    alice:\n      actions:\n        - connect: { at: 0s, to: carol }\n",
            9,
            "workload.hosts.alice.actions[0].connect.to",
            "neither a host nor a socket address",
        ),
        (
            "workload:\n  hosts:\n    carol: {}\n",
            7,
            "workload.hosts.carol",
            "no host called `carol`",
        ),
        (
            "workload:\n  dh_group: 3\n",
            6,
            "workload.dh_group",
            "not a Diffie-Hellman group",
        ),
        (
            "workload:\n  hosts:\n    alice:\n      actions:\n        - connect: { at: soon, to: bob }\n",
            9,
            "workload.hosts.alice.actions[0].connect.at",
            "expected a duration",
        ),
        (
            "workload:\n  hosts:\n    alice:\n      actions:\n        - conect: { at: 0s, to: bob }\n",
            9,
            "workload.hosts.alice.actions[0]",
            "unknown variant `conect`",
        ),
        (
            "workload:\n  hosts:\n    alice:\n      actions:\n        - connect: { at: 0s, via: [192.0.2.99:1935] }\n",
            9,
            "workload.hosts.alice.actions[0].connect",
            "give `epd`",
        ),
        (
            "workload:\n  hosts:\n    alice:\n      actions:\n        - close: { at: 1s, session: nope }\n",
            9,
            "workload.hosts.alice.actions[0].close.session",
            "not a session alice opened",
        ),
        (
            "workload:\n  profile: transparent\n  hosts:\n    alice:\n      actions:\n        - connect: { at: 0s, to: bob, epd: { hostname: bob.example } }\n",
            10,
            "workload.hosts.alice.actions[0].connect.epd",
            "transparent profile",
        ),
        (
            "workload:\n  hosts:\n    alice:\n      actions:\n        - connect: { at: 0s, to: bob }\n        - connect: { at: 1s, to: bob }\n",
            10,
            "workload.hosts.alice.actions[1].connect.name",
            "already used",
        ),
    ];
    for (extra, line, field, message) in cases {
        let e = error(&format!("{NET}{extra}"));
        assert_eq!(e.file, "bad.yaml");
        assert_eq!((e.line, e.field.as_str()), (*line, *field), "{e}");
        assert!(e.message.contains(message), "{e}");
        assert!(
            e.to_string().starts_with(&format!("bad.yaml:{line}:")),
            "{e}"
        );
    }
}

#[test]
fn bad_expectations_name_the_file_line_and_field() {
    let connect = "workload:\n  hosts:\n    alice:\n      actions:\n        - connect: { at: 0s, to: bob, name: a2b }\n";
    let cases: &[(&str, u64, &str, &str)] = &[
        (
            "expect:\n  sessions:\n    b2a: { result: opened }\n",
            12,
            "expect.sessions.b2a",
            "no `connect` is named `b2a` (sessions: a2b)",
        ),
        (
            "expect:\n  sessions:\n    a2b: { result: openned }\n",
            12,
            "expect.sessions.a2b.result",
            "not a session result",
        ),
        (
            "expect:\n  sessions:\n    a2b: { state: OPEN }\n",
            12,
            "expect.sessions.a2b.state",
            "not a session state",
        ),
        (
            "expect:\n  drops:\n    - { reason: lost, count: 1 }\n",
            12,
            "expect.drops[0].reason",
            "not a drop reason",
        ),
        (
            "expect:\n  hosts:\n    bob: { incoming: \">=x\" }\n",
            12,
            "expect.hosts.bob.incoming",
            "expected a count",
        ),
        (
            "expect:\n  connected:\n    - [alice]\n",
            12,
            "expect.connected[0]",
            "give two hosts",
        ),
    ];
    for (extra, line, field, message) in cases {
        let e = error(&format!("{NET}{connect}{extra}"));
        assert_eq!((e.line, e.field.as_str()), (*line, *field), "{e}");
        assert!(e.message.contains(message), "{e}");
    }
}

#[test]
fn unmet_expectations_are_reported_with_their_line() {
    // Opening takes two round trips of 50 ms: 100 ms, so `by: 60ms` cannot hold; bob gets
    // one incoming session, not two; nothing is closed.
    let text = format!(
        "{NET}workload:\n  hosts:\n    alice:\n      actions:\n        - connect: {{ at: 0s, to: bob, name: a2b }}\nexpect:\n  sessions:\n    a2b: {{ result: opened, by: 60ms, closed: far-close }}\n  hosts:\n    bob: {{ incoming: 2 }}\n"
    );
    let loaded = run::parse("x.yaml", &text).expect("valid");
    let report = run::run(&loaded, &RunOptions::default());
    assert!(!report.passed());
    assert_eq!(report.checked, 4);
    let failures: Vec<String> = report.failures.iter().map(ToString::to_string).collect();
    assert_eq!(
        failures,
        [
            "line 12: session a2b result by 0.060000s: opened at 0.100000s",
            "line 12: session a2b closed far-close: not closed",
            "line 14: host bob incoming sessions 2: 1",
        ]
    );
    assert!(
        report.summary().contains("3 NOT MET"),
        "{}",
        report.summary()
    );
}

#[test]
fn the_transparent_profile_runs_readable_sessions() {
    let text = format!(
        "{NET}workload:\n  profile: transparent\n  hosts:\n    alice:\n      actions:\n        - connect: {{ at: 0s, to: bob, name: a2b }}\n        - close: {{ at: 1s, session: a2b, how: abrupt }}\nexpect:\n  sessions:\n    a2b: {{ result: opened, by: 100ms, closed: local-abrupt, far_closed: far-abrupt }}\n"
    );
    let loaded = run::parse("t.yaml", &text).expect("valid");
    let report = run::run(
        &loaded,
        &RunOptions {
            trace: true,
            ..RunOptions::default()
        },
    );
    assert!(report.passed(), "{}", report.summary());
    let trace = report.trace_text();
    // The transparent identity is the host name, and so is its EPD.
    assert!(trace.contains("S: IHello epd=fp(bob)"), "{trace}");
    assert!(trace.contains("RHello tag="), "{trace}");
    assert!(trace.contains(" I: CloseAck\n"), "{trace}");
    assert_eq!(report.key_log(), "", "no keys to log without encryption");
}

#[test]
fn captured_datagrams_decrypt_with_the_key_log_of_the_run() {
    // The handshake scenario: 6 datagrams (IHello, RHello, IIKeying, RIKeying, Close, Close
    // Ack), each captured on the two links it crosses.
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/handshake.yaml");
    let loaded = run::load(path.as_ref()).expect("library scenario");
    let report = run::run(
        &loaded,
        &RunOptions {
            capture: true,
            ..RunOptions::default()
        },
    );
    let logs = KeyLog::parse_all(&report.key_log()).expect("a valid key-log file");
    assert_eq!(logs.len(), 2, "one line per end of the one session");
    let keys = Keys {
        raw: Vec::new(),
        key_logs: logs,
    };
    let capture = report.sim.capture().expect("captured");
    let mut used = Vec::new();
    for link in capture.link_names() {
        for p in capture.packets(link) {
            match inspect::decrypt_datagram(&p.data, &keys) {
                Ok(d) => used.push(d.key),
                Err(e) => panic!("{link}: {e}"),
            }
        }
    }
    assert_eq!(used.len(), 12);
    let by_log = used
        .iter()
        .filter(|k| matches!(k, KeyUsed::KeyLog { .. }))
        .count();
    // The Close and the Close Ack, on two links each, need the session keys.
    assert_eq!(by_log, 4);
}

mod robustness {
    use proptest::prelude::*;
    use rtmfp_sim::run;

    const REDIRECT: &str = include_str!("../scenarios/redirect.yaml");

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, .. ProptestConfig::default() })]

        // A scenario file is input: a damaged one parses or fails with a message, never panics.
        #[test]
        fn damaged_rtmfp_scenarios_never_panic(cut in 0usize..REDIRECT.len(), byte in any::<u8>(), at in 0usize..REDIRECT.len()) {
            let mut bytes = REDIRECT.as_bytes()[..cut.max(at)].to_vec();
            if let Some(b) = bytes.get_mut(at) {
                *b = byte;
            }
            let text = String::from_utf8_lossy(&bytes);
            if let Err(e) = run::parse("fuzz.yaml", &text) {
                prop_assert!(!e.message.is_empty());
            }
        }
    }
}
