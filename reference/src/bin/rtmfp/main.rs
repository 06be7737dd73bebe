//! `rtmfp`: command-line tools around the RTMFP reference implementation (RFC 7016, RFC 7425).

mod decode;
mod print;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Tools for RTMFP, the Secure Real-Time Media Flow Protocol (RFC 7016),
/// and its Flash profile (RFC 7425).
#[derive(Debug, Parser)]
#[command(name = "rtmfp", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Decode(decode::DecodeArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Decode(args) => decode::run(&args),
    };
    // A closed pipe (for example `rtmfp decode ... | head`) is not worth a panic.
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(outcome.stdout.as_bytes());
    let _ = stdout.flush();
    let _ = std::io::stderr().write_all(outcome.stderr.as_bytes());
    outcome.code
}
