//! `rtmfp listen`: a responder that accepts sessions and reports them (RFC 7016 3.5.1.1.2).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use rtmfp::driver::Driver;
use rtmfp::endpoint::{CloseKind, EndpointConfig, Event};
use tokio::net::UdpSocket;

use crate::net::{
    CommonArgs, Reporter, Side, describe_identity, describe_stats, wait_closed, with_loss,
};
use crate::transfer::Receiver;

/// Accept RTMFP sessions and print one line per event.
///
/// A responder (RFC 7016 3.5.1.1.2): it answers IHellos whose Endpoint
/// Discriminator selects it with an RHello carrying a stateless cookie and
/// its certificate, then completes keying on IIKeying with an RIKeying. With
/// the Flash profile its certificate accepts Ancillary Data (RFC 7425
/// 4.3.3.2), so any initiator asking with a server URI (as rtmfp-cpp's
/// fcclient does by default) selects it; --hostname adds a Hostname option
/// (4.3.3.1) for initiators that require one.
///
/// The first line is `listening on ADDR ...` with the bound address (useful
/// with port 0). Then one line per event: the time in seconds, the session
/// (sN) and what happened; an opened session shows its far address and
/// fingerprint, both nonces (RFC 7425 4.6.5) and the negotiated Diffie-Hellman
/// group, packet verification (HMAC length or simple checksum) and session
/// sequence numbers in each direction.
///
/// Runs until Ctrl-C (or --time), then closes every session in order (Close
/// Request until Close Ack, 3.5.5), waiting at most 3 seconds, and prints
/// the endpoint's counters.
///
/// Flows (RFC 7016 3.6.3) are accepted and hashed: when one completes it
/// prints its bytes, messages, throughput and SHA-256. --recv DIR also
/// writes each flow to DIR/sN-flowM.bin (a local name; the flow's metadata
/// is never used as a path). --echo sends every message back on a return
/// flow associated with the one it came on (2.3.11.1.2), as rtmfp-cpp's
/// echoserver does, and closes it when the original completes. A stream
/// flow (`rtmfp connect --stream`) is counted: delivered, late (older than
/// --lifetime when it arrived, by the send time it carries) and lost
/// (abandoned by the sender, 3.6.1.2).
///
/// Exit status: 0 after a clean stop, 1 if the socket fails, 2 for a usage error.
///
/// Examples:
///   rtmfp listen --bind 127.0.0.1:1935 --hostname echo
///   rtmfp listen --bind 127.0.0.1:0 --no-hmac --no-sseq --keylog keys.log
///   rtmfp listen --bind 127.0.0.1:1935 --recv /tmp/in
///   rtmfp listen --bind 127.0.0.1:1935 --echo
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct ListenArgs {
    /// UDP address to listen on.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:1935")]
    bind: SocketAddr,

    /// Hostname option in this end's certificate (RFC 7425 4.3.3.1), which an
    /// initiator's Required Hostname (4.4.2.1) must match. With
    /// --profile transparent, the identity itself.
    #[arg(long, value_name = "NAME")]
    hostname: Option<String>,

    /// Stop by itself after this many seconds (0: run until Ctrl-C).
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    time: u64,

    /// Write each received flow to a file in this directory.
    #[arg(long, value_name = "DIR")]
    recv: Option<PathBuf>,

    /// Echo every message back on a return flow (RFC 7016 2.3.11.1.2).
    #[arg(long)]
    echo: bool,

    /// Milliseconds after its send time when a stream message counts as late.
    #[arg(long, value_name = "MS", default_value_t = 300)]
    lifetime: u64,

    /// Test aid: drop this fraction (0 to 1) of received datagrams, from a
    /// seeded generator, to show recovery over a loopback that loses nothing.
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    loss: f64,

    /// Seed for --loss.
    #[arg(long, value_name = "N", default_value_t = 1)]
    loss_seed: u64,

    #[command(flatten)]
    common: CommonArgs,
}

/// Runs the command.
pub fn run(args: &ListenArgs) -> ExitCode {
    args.common.init_tracing();
    let endpoint = match args.common.endpoint(
        Side::Listener,
        args.hostname.as_deref(),
        EndpointConfig::default(),
    ) {
        Ok(e) => e,
        Err(why) => return crate::usage_error(&why),
    };
    let key_log = match args.common.key_log() {
        Ok(k) => k,
        Err(why) => return crate::usage_error(&why),
    };
    let mut receiver = match Receiver::new(args.recv.clone(), args.echo) {
        Ok(r) => r,
        Err(why) => {
            eprintln!("error: {why}");
            return ExitCode::from(1);
        }
    };
    receiver.late_after = Duration::from_millis(args.lifetime);
    crate::block_on(async move {
        let socket = match UdpSocket::bind(args.bind).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: cannot bind {}: {e}", args.bind);
                return ExitCode::from(1);
            }
        };
        let local = socket.local_addr().unwrap_or(args.bind);
        let report = Reporter::new();
        report.line(&format!(
            "listening on {local} profile={} {}",
            endpoint.profile().name(),
            describe_identity(&endpoint)
        ));
        let (driver, handle, mut events) = Driver::new(endpoint, socket);
        let driver = with_loss(driver, args.loss, args.loss_seed, &report);
        let driver = match key_log {
            Some(k) => {
                report.line(&format!("key log: appending to {}", k.path().display()));
                driver.with_key_log(k)
            }
            None => driver,
        };
        let task = tokio::spawn(driver.run());
        let stop = async {
            let timer = async {
                if args.time == 0 {
                    std::future::pending::<()>().await;
                } else {
                    tokio::time::sleep(Duration::from_secs(args.time)).await;
                }
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                () = timer => {}
            }
        };
        tokio::pin!(stop);
        loop {
            tokio::select! {
                () = &mut stop => break,
                e = events.recv() => match e {
                    Some(e) => {
                        let quiet = matches!(
                            e,
                            Event::Message { .. } | Event::MessageDelivered { .. }
                                | Event::MessageAbandoned { .. } | Event::SendFlowWritable { .. }
                                | Event::MessagesLost { .. }
                        );
                        if !quiet {
                            report.event(&handle, &e).await;
                        }
                        for line in receiver.on_event(&handle, &e).await {
                            report.line(&line);
                        }
                    }
                    None => break,
                },
            }
        }
        report.line("stopping: closing every session");
        let open = handle.sessions().await.unwrap_or_default();
        for s in open {
            let _ = handle.close(s, CloseKind::Orderly).await;
        }
        let clean = wait_closed(&handle, Duration::from_secs(3)).await;
        while let Ok(e) = events.try_recv() {
            report.event(&handle, &e).await;
        }
        for line in receiver.unfinished() {
            report.line(&line);
        }
        if !clean {
            report.line("some sessions did not acknowledge the close in 3 s");
        }
        handle.shutdown();
        match task.await {
            Ok(Ok(stopped)) => {
                report.line(&describe_stats(stopped.endpoint.stats()));
                ExitCode::SUCCESS
            }
            Ok(Err(e)) => {
                eprintln!("error: the socket failed: {e}");
                ExitCode::from(1)
            }
            Err(e) => {
                eprintln!("error: the driver task failed: {e}");
                ExitCode::from(1)
            }
        }
    })
}
