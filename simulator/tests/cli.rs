//! The `rtmfp-sim` command line: exit statuses, the files it writes, and sweeps whose output
//! does not depend on the number of threads.

use std::path::PathBuf;
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rtmfp-sim"))
}

fn scenario(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name)
}

fn text(o: &[u8]) -> String {
    String::from_utf8_lossy(o).into_owned()
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("rtmfp-sim runs")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rtmfp-sim-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir.join(name)
}

#[test]
fn run_prints_a_summary_writes_trace_pcap_and_keys_and_exits_0() {
    let file = scenario("handshake.yaml");
    let trace = scratch("hs.trace");
    let pcap = scratch("hs.pcap");
    let o = run(&[
        "run",
        file.to_str().expect("utf-8 path"),
        "--seed",
        "1",
        "--trace",
        trace.to_str().expect("utf-8"),
        "--pcap",
        pcap.to_str().expect("utf-8"),
    ]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}{}", text(&o.stderr));
    assert!(out.contains(", seed 1\n"), "{out}");
    assert!(
        out.contains("network: 6 datagrams sent, 6 delivered, 0 dropped"),
        "{out}"
    );
    assert!(out.contains("expectations: 7 checked, all met"), "{out}");
    assert!(out.contains("x real time"), "{out}");
    let t = std::fs::read_to_string(&trace).expect("trace written");
    assert!(t.contains("IHello epd=fp(bob)"), "{t}");
    let keys = std::fs::read_to_string(format!("{}.keylog", pcap.display())).expect("keys");
    assert_eq!(keys.lines().count(), 2);
    assert!(keys.starts_with("RTMFP_KEYLOG "));
    let cap = std::fs::read(&pcap).expect("pcap written");
    assert_eq!(
        &cap[..4],
        &[0xd4, 0xc3, 0xb2, 0xa1],
        "little-endian pcap magic"
    );
}

#[test]
fn unmet_expectations_exit_1_and_bad_files_exit_2() {
    let dir = scratch("x");
    let failing = dir.with_file_name("failing.yaml");
    std::fs::write(
        &failing,
        "duration: 5s\nhosts:\n  a: { address: 192.0.2.1:1 }\n  b: { address: 192.0.2.2:1 }\nworkload:\n  hosts:\n    b: { off: true }\n    a: { actions: [ connect: { at: 0s, to: b, name: ab } ] }\nexpect:\n  sessions:\n    ab: { result: opened }\n",
    )
    .expect("write");
    let o = run(&["run", failing.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(1));
    let out = text(&o.stdout);
    assert!(out.contains("1 NOT MET"), "{out}");
    assert!(
        out.contains(
            "failing.yaml:line 11: session ab result opened: still S_IHELLO_SENT at the end"
        ),
        "{out}"
    );
    let bad = dir.with_file_name("bad.yaml");
    std::fs::write(&bad, "hosts:\n  a: { address: 192.0.2.1:1, linc: {} }\n").expect("write");
    let o = run(&["run", bad.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(err.contains("bad.yaml:2:"), "{err}");
    assert!(err.contains("hosts.a.linc"), "{err}");
    let o = run(&["sweep", bad.to_str().expect("utf-8"), "--seeds", "5..2"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("holds no seed"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn a_sweep_lists_failing_seeds_with_their_replay_command_whatever_the_threads() {
    // Loss of 30% on bob's link: whether alice's session opens within 400 ms (two round trips
    // of 100 ms plus one retransmission at least would not fit) depends on which datagrams the
    // seed drops, so some seeds fail and some pass.
    let file = scratch("lossy.yaml");
    std::fs::write(
        &file,
        "duration: 3s\nhosts:\n  alice: { address: 192.0.2.1:1935, link: { latency: 25ms } }\n  bob: { address: 192.0.2.2:1935, link: { latency: 25ms, loss: 0.3 } }\nworkload:\n  hosts:\n    alice: { actions: [ connect: { at: 0s, to: bob, name: ab } ] }\nexpect:\n  sessions:\n    ab: { result: opened, by: 400ms }\n",
    )
    .expect("write");
    let f = file.to_str().expect("utf-8");
    let one = run(&["sweep", f, "--seeds", "0..12", "--jobs", "1"]);
    let two = run(&["sweep", f, "--seeds", "0..=11", "--jobs", "2"]);
    let (a, b) = (text(&one.stdout), text(&two.stdout));
    assert_eq!(a, b, "the output depends only on the seeds");
    assert_eq!(one.status.code(), Some(1), "{a}");
    let failing: Vec<&str> = a.lines().filter(|l| l.starts_with("seed ")).collect();
    assert!(!failing.is_empty() && failing.len() < 12, "{a}");
    for line in failing {
        let seed = line
            .strip_prefix("seed ")
            .and_then(|r| r.split(':').next())
            .expect("seed number");
        let replay = format!("  replay: rtmfp-sim run {f} --seed {seed} --trace seed-{seed}.trace");
        assert!(a.contains(&replay), "{a}");
        // Replaying the seed fails the same way.
        let o = run(&["run", f, "--seed", seed]);
        assert_eq!(o.status.code(), Some(1), "seed {seed}");
    }
    assert!(a.ends_with(" of 12 seeds passed\n"), "{a}");
}

#[test]
fn check_validates_without_running() {
    let o = run(&[
        "check",
        scenario("nat_matrix.yaml").to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        text(&o.stdout).contains("ok (11 hosts, 30 sessions to open"),
        "{}",
        text(&o.stdout)
    );
}
