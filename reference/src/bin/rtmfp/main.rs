//! `rtmfp`: command-line tools around the RTMFP reference implementation (RFC 7016, RFC 7425).

mod connect;
mod decode;
mod listen;
mod net;
mod print;
mod transfer;

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
    Listen(listen::ListenArgs),
    Connect(connect::ConnectArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Decode(args) => decode::run(&args),
        Command::Listen(args) => return listen::run(&args),
        Command::Connect(args) => return connect::run(&args),
    };
    // A closed pipe (for example `rtmfp decode ... | head`) is not worth a panic.
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(outcome.stdout.as_bytes());
    let _ = stdout.flush();
    let _ = std::io::stderr().write_all(outcome.stderr.as_bytes());
    outcome.code
}

/// Prints a usage error and returns exit status 2.
pub fn usage_error(why: &str) -> ExitCode {
    eprintln!("error: {why}");
    ExitCode::from(2)
}

/// Runs `f` on a single-threaded tokio runtime.
pub fn block_on<F: std::future::Future<Output = ExitCode>>(f: F) -> ExitCode {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(f),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            ExitCode::from(1)
        }
    }
}
