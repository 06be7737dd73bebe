//! Prints the NAT traversal success matrix of `scenarios/nat_matrix.yaml`: for each pair of
//! NAT types (initiator row, responder column), whether the introduced peer-to-peer session
//! opened, next to the scenario's prediction.
//!
//! `cargo run --release -p rtmfp-sim --example nat_matrix [-- SEED]`

use std::path::Path;

use rtmfp_sim::expect::Outcome;
use rtmfp_sim::run::{self, RunOptions};

const TYPES: [&str; 5] = ["none", "full", "restricted", "port", "sym"];

fn main() {
    let seed: Option<u64> = std::env::args().nth(1).and_then(|s| s.parse().ok());
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/nat_matrix.yaml");
    let loaded = match run::load(&path) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let report = run::run(
        &loaded,
        &RunOptions {
            seed,
            ..RunOptions::default()
        },
    );
    let expect = loaded.scenario.expect.clone().unwrap_or_default();
    println!(
        "NAT traversal through an introduction server, seed {} (cell: observed/predicted)",
        report.seed
    );
    print!("{:<14}", "initiator");
    for t in TYPES {
        print!("{:>14}", format!("b_{t}"));
    }
    println!();
    for a in TYPES {
        print!("{:<14}", format!("a_{a}"));
        for b in TYPES {
            let name = format!("a_{a}->b_{b}");
            let observed = report
                .sessions
                .get(&format!("a_{a}"))
                .and_then(|list| list.iter().find(|r| r.name.as_deref() == Some(&name)))
                .map_or("?", |r| if r.opened.is_some() { "open" } else { "FAIL" });
            let predicted = expect
                .sessions
                .get(&name)
                .and_then(|s| s.value.result.as_ref())
                .map_or("?", |r| {
                    if r.0.contains(&Outcome::Opened) {
                        "open"
                    } else {
                        "FAIL"
                    }
                });
            print!("{:>14}", format!("{observed}/{predicted}"));
        }
        println!();
    }
    println!(
        "expectations: {} checked, {} not met",
        report.checked,
        report.failures.len()
    );
}
