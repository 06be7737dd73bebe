//! `rtmfp-sim`: run RTMFP scenarios on the deterministic simulated network, and sweep seeds.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant as WallClock;

use clap::{Parser, Subcommand};
use rtmfp_sim::run::{self, Loaded, RunOptions};

/// Run RTMFP (RFC 7016, RFC 7425) scenarios on a deterministic simulated network.
///
/// A scenario file (YAML) describes the network (hosts, NATs, links with faults, timed
/// events), what each host's endpoint does (workload:) and what must be true at the end
/// (expect:). The same scenario and seed give the same trace, byte for byte. See
/// simulator/README.md and simulator/scenarios/.
///
/// Exit status: 0 when every expectation is met, 1 when one is not (or a sweep has a failing
/// seed), 2 for a bad scenario file or command line.
#[derive(Debug, Parser)]
#[command(name = "rtmfp-sim", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Run(RunArgs),
    Sweep(SweepArgs),
    Check(CheckArgs),
}

/// Run a scenario once, print a summary and check its expectations.
///
/// Examples:
///   rtmfp-sim run simulator/scenarios/handshake.yaml
///   rtmfp-sim run simulator/scenarios/nat_matrix.yaml --seed 3 --trace nat.trace
///   rtmfp-sim run simulator/scenarios/handshake.yaml --pcap hs.pcap
///     (then: rtmfp decode --keylog hs.pcap.keylog --file DATAGRAM)
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
struct RunArgs {
    /// The scenario file.
    scenario: PathBuf,

    /// The seed (default: the scenario's `seed:`, or 0).
    #[arg(long, value_name = "N")]
    seed: Option<u64>,

    /// Write the trace (one line per event, packets decoded) to FILE.
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,

    /// Write what crossed every link to FILE (pcap, all links merged), and the session keys
    /// to FILE.keylog for `rtmfp decode --keylog`.
    #[arg(long, value_name = "FILE")]
    pcap: Option<PathBuf>,

    /// Also write one pcap file per link into DIR.
    #[arg(long, value_name = "DIR")]
    pcap_dir: Option<PathBuf>,

    /// Write the session keys (key-log format, spec/keylog.md) to FILE.
    #[arg(long, value_name = "FILE")]
    keylog: Option<PathBuf>,
}

/// Run a scenario with many seeds on all cores; print each failing seed with the command
/// that replays it.
///
/// Output is ordered by seed and is the same whatever the number of jobs.
///
/// Example:
///   rtmfp-sim sweep simulator/scenarios/bulk_loss_30.yaml --seeds 0..100
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
struct SweepArgs {
    /// The scenario file.
    scenario: PathBuf,

    /// Seeds: A..B (A to B-1) or A..=B (A to B).
    #[arg(long, value_name = "A..B", value_parser = parse_seeds)]
    seeds: (u64, u64),

    /// Threads (default: the number of cores).
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
}

/// Check a scenario file without running it.
#[derive(Debug, clap::Args)]
struct CheckArgs {
    /// The scenario file.
    scenario: PathBuf,
}

/// Parses `A..B` (exclusive) or `A..=B` (inclusive) into an inclusive pair.
fn parse_seeds(s: &str) -> Result<(u64, u64), String> {
    let bad = || format!("`{s}`: expected seeds as A..B (A to B-1) or A..=B, e.g. 0..100");
    let (a, b, inclusive) = if let Some((a, b)) = s.split_once("..=") {
        (a, b, true)
    } else if let Some((a, b)) = s.split_once("..") {
        (a, b, false)
    } else {
        return Err(bad());
    };
    let a: u64 = a.trim().parse().map_err(|_| bad())?;
    let b: u64 = b.trim().parse().map_err(|_| bad())?;
    let last = if inclusive {
        b
    } else {
        b.checked_sub(1).ok_or_else(bad)?
    };
    if last < a {
        return Err(format!("`{s}`: the range holds no seed"));
    }
    Ok((a, last))
}

fn load(path: &Path) -> Result<Loaded, ExitCode> {
    run::load(path).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ExitCode> {
    std::fs::write(path, bytes).map_err(|e| {
        eprintln!("error: cannot write {}: {e}", path.display());
        ExitCode::from(2)
    })
}

fn run_once(args: &RunArgs) -> Result<ExitCode, ExitCode> {
    let loaded = load(&args.scenario)?;
    let options = RunOptions {
        seed: args.seed,
        trace: args.trace.is_some(),
        capture: args.pcap.is_some() || args.pcap_dir.is_some(),
    };
    let wall = WallClock::now();
    let report = run::run(&loaded, &options);
    let elapsed = wall.elapsed().as_secs_f64();
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(report.summary().as_bytes());
    let simulated = report.sim.now().as_micros() as f64 / 1e6;
    let events = report.sim.events_run();
    let _ = writeln!(
        out,
        "wall {:.3}s: {:.0}x real time, {:.0} events/s",
        elapsed,
        simulated / elapsed.max(1e-9),
        events as f64 / elapsed.max(1e-9)
    );
    if let Some(path) = &args.trace {
        let file = std::fs::File::create(path).map_err(|e| {
            eprintln!("error: cannot write {}: {e}", path.display());
            ExitCode::from(2)
        })?;
        report
            .sim
            .trace()
            .write_to(std::io::BufWriter::new(file))
            .map_err(|e| {
                eprintln!("error: cannot write {}: {e}", path.display());
                ExitCode::from(2)
            })?;
        let _ = writeln!(out, "trace: {}", path.display());
    }
    let key_log = report.key_log();
    if let Some(path) = &args.pcap
        && let Some(capture) = report.sim.capture()
    {
        let file = std::fs::File::create(path).map_err(|e| {
            eprintln!("error: cannot write {}: {e}", path.display());
            ExitCode::from(2)
        })?;
        capture
            .write_merged(std::io::BufWriter::new(file))
            .map_err(|e| {
                eprintln!("error: cannot write {}: {e}", path.display());
                ExitCode::from(2)
            })?;
        let mut keys = path.clone().into_os_string();
        keys.push(".keylog");
        let keys = PathBuf::from(keys);
        write_file(&keys, key_log.as_bytes())?;
        let _ = writeln!(out, "pcap: {} (keys: {})", path.display(), keys.display());
    }
    if let Some(dir) = &args.pcap_dir
        && let Some(capture) = report.sim.capture()
    {
        std::fs::create_dir_all(dir).map_err(|e| {
            eprintln!("error: cannot create {}: {e}", dir.display());
            ExitCode::from(2)
        })?;
        let files = capture.write_dir(dir).map_err(|e| {
            eprintln!("error: cannot write into {}: {e}", dir.display());
            ExitCode::from(2)
        })?;
        write_file(&dir.join("keys.keylog"), key_log.as_bytes())?;
        let _ = writeln!(
            out,
            "pcap: {} files in {} (keys: keys.keylog)",
            files.len(),
            dir.display()
        );
    }
    if let Some(path) = &args.keylog {
        write_file(path, key_log.as_bytes())?;
        let _ = writeln!(out, "keylog: {}", path.display());
    }
    Ok(if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// What one seed of a sweep found.
struct SeedResult {
    passed: bool,
    first_failure: String,
}

fn sweep(args: &SweepArgs) -> Result<ExitCode, ExitCode> {
    let loaded = load(&args.scenario)?;
    let (first, last) = args.seeds;
    let count = last - first + 1;
    let jobs = args
        .jobs
        .or_else(|| std::thread::available_parallelism().ok().map(usize::from))
        .unwrap_or(1)
        .max(1);
    let next = std::sync::atomic::AtomicU64::new(first);
    let results = std::sync::Mutex::new(std::collections::BTreeMap::new());
    let wall = WallClock::now();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    let seed = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if seed > last {
                        break;
                    }
                    let report = run::run(
                        &loaded,
                        &RunOptions {
                            seed: Some(seed),
                            ..RunOptions::default()
                        },
                    );
                    let first_failure = report
                        .setup_errors
                        .first()
                        .cloned()
                        .or_else(|| report.failures.first().map(ToString::to_string))
                        .unwrap_or_default();
                    let result = SeedResult {
                        passed: report.passed(),
                        first_failure,
                    };
                    if let Ok(mut r) = results.lock() {
                        r.insert(seed, result);
                    }
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_default();
    let mut out = std::io::stdout().lock();
    let file = args.scenario.display();
    let _ = writeln!(out, "sweep {file}, seeds {first}..={last}");
    let mut failed = 0u64;
    for (seed, r) in &results {
        if r.passed {
            continue;
        }
        failed += 1;
        let _ = writeln!(out, "seed {seed}: FAILED: {}", r.first_failure);
        let _ = writeln!(
            out,
            "  replay: rtmfp-sim run {file} --seed {seed} --trace seed-{seed}.trace"
        );
    }
    let _ = writeln!(out, "{} of {count} seeds passed", count - failed);
    eprintln!(
        "wall {:.3}s on {jobs} thread(s)",
        wall.elapsed().as_secs_f64()
    );
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Run(args) => run_once(args),
        Command::Sweep(args) => sweep(args),
        Command::Check(args) => load(&args.scenario).map(|l| {
            println!(
                "{}: ok ({} hosts, {} sessions to open, {} expectations)",
                args.scenario.display(),
                l.plan.hosts.len(),
                l.plan.connections.len(),
                l.scenario.expect.as_ref().map_or(0, |e| e.sessions.len()
                    + e.hosts.len()
                    + e.connected.len()
                    + e.drops.len()
                    + e.delivered.len()
                    + e.flows.len())
            );
            ExitCode::SUCCESS
        }),
    };
    result.unwrap_or_else(|code| code)
}
