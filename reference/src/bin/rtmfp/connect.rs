//! `rtmfp connect`: an initiator that opens one session and reports it (RFC 7016 3.5.1.1.1).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use rtmfp::crypto::flash::certificate::Fingerprint;
use rtmfp::crypto::flash::endpoint_discriminator::EndpointDiscriminator;
use rtmfp::driver::Driver;
use rtmfp::endpoint::{CloseKind, EndpointConfig, Event};
use tokio::net::UdpSocket;

use crate::net::{
    CommonArgs, DEFAULT_TRANSPARENT_IDENTITY, Profile, Reporter, Side, any_address_for,
    describe_identity, describe_rtt, describe_stats, parse_fingerprint, wait_closed,
};

/// Open an RTMFP session, print what was negotiated, then close it.
///
/// An initiator (RFC 7016 3.5.1.1.1): sends IHello with an Endpoint
/// Discriminator to every ADDR (candidate addresses; the first RHello wins),
/// then IIKeying to the address that answered, and is open on RIKeying.
/// Prints one line per event, as `rtmfp listen` does; an opened session shows
/// the far fingerprint, both nonces (RFC 7425 4.6.5) and the negotiated
/// Diffie-Hellman group, packet verification and session sequence numbers.
/// Then it keeps the session open for --time seconds (or until Ctrl-C),
/// prints the round-trip time measured from timestamp echoes (3.5.2.2), closes
/// in order (Close Request until Close Ack, 3.5.5) and prints its counters.
///
/// The Endpoint Discriminator (RFC 7425 4.4) is built from --url, --fingerprint
/// and --hostname; with none of them it is Ancillary Data "rtmfp:", which any
/// server whose certificate accepts ancillary data answers (rtmfp-cpp's
/// fcclient asks the same by default).
///
/// Exit status: 0 if the session opened, 1 if it did not (timeout) or the
/// socket failed, 2 for a usage error.
///
/// Examples:
///   rtmfp connect 127.0.0.1:1935
///   rtmfp connect 127.0.0.1:1935 --hostname echo --no-hmac --no-sseq --time 2
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct ConnectArgs {
    /// Candidate addresses of the far end (RFC 7016 3.5.1.1.1).
    #[arg(value_name = "ADDR:PORT", required = true)]
    addresses: Vec<SocketAddr>,

    /// Server URI as the EPD's Ancillary Data option (RFC 7425 4.4.2.2),
    /// e.g. rtmfp://host/app.
    #[arg(long, value_name = "URI")]
    url: Option<String>,

    /// Require the far end's certificate fingerprint (peer ID, 32 bytes in
    /// hex): the EPD's Fingerprint option (RFC 7425 4.4.2.3, 4.3.2).
    #[arg(long, value_name = "HEX", value_parser = parse_fingerprint)]
    fingerprint: Option<Fingerprint>,

    /// Require this hostname in the far end's certificate: the EPD's Required
    /// Hostname option (RFC 7425 4.4.2.1). With --profile transparent, the
    /// far identity.
    #[arg(long, value_name = "NAME")]
    hostname: Option<String>,

    /// Local UDP address (default: any address of the first ADDR's family, any port).
    #[arg(long, value_name = "ADDR:PORT")]
    bind: Option<SocketAddr>,

    /// Seconds to keep the session open before closing it (0: until Ctrl-C).
    #[arg(long, value_name = "SECS", default_value_t = 5)]
    time: u64,

    /// Give up opening after this many seconds (RFC 7016 3.5.1.1.1 suggests 95).
    #[arg(long, value_name = "SECS", default_value_t = 95)]
    open_timeout: u64,

    /// Silence before a keepalive Ping (RFC 7016 3.5.4.1); short by default so
    /// that an idle session still measures its round-trip time.
    #[arg(long, value_name = "SECS", default_value_t = 1)]
    keepalive: u64,

    #[command(flatten)]
    common: CommonArgs,
}

impl ConnectArgs {
    /// The Endpoint Discriminator to send.
    fn epd(&self) -> Result<Vec<u8>, String> {
        match self.common.profile {
            Profile::Transparent => {
                if self.url.is_some() || self.fingerprint.is_some() {
                    return Err("--url and --fingerprint apply to --profile flash only; \
                         the transparent EPD is --hostname"
                        .into());
                }
                Ok(self
                    .hostname
                    .as_deref()
                    .unwrap_or(DEFAULT_TRANSPARENT_IDENTITY)
                    .as_bytes()
                    .to_vec())
            }
            Profile::Flash => {
                let none =
                    self.url.is_none() && self.fingerprint.is_none() && self.hostname.is_none();
                let ancillary_data = match (&self.url, none) {
                    (Some(u), _) => Some(u.as_bytes().to_vec()),
                    (None, true) => Some(b"rtmfp:".to_vec()),
                    (None, false) => None,
                };
                Ok(EndpointDiscriminator {
                    required_hostname: self.hostname.as_ref().map(|h| h.as_bytes().to_vec()),
                    ancillary_data,
                    fingerprint: self.fingerprint,
                }
                .encode())
            }
        }
    }
}

/// Runs the command.
pub fn run(args: &ConnectArgs) -> ExitCode {
    args.common.init_tracing();
    let epd = match args.epd() {
        Ok(e) => e,
        Err(why) => return crate::usage_error(&why),
    };
    let mut config = EndpointConfig {
        open_timeout: Duration::from_secs(args.open_timeout),
        ..EndpointConfig::default()
    };
    config.keepalive.idle = Some(Duration::from_secs(args.keepalive.max(1)));
    // The endpoint is an initiator only: the certificate carries no hostname.
    let endpoint = match args.common.endpoint(Side::Connector, None, config) {
        Ok(e) => e,
        Err(why) => return crate::usage_error(&why),
    };
    let key_log = match args.common.key_log() {
        Ok(k) => k,
        Err(why) => return crate::usage_error(&why),
    };
    let Some(first) = args.addresses.first() else {
        return crate::usage_error("give at least one ADDR:PORT");
    };
    let bind = args.bind.unwrap_or_else(|| any_address_for(first));
    crate::block_on(async move {
        let socket = match UdpSocket::bind(bind).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: cannot bind {bind}: {e}");
                return ExitCode::from(1);
            }
        };
        let local = socket.local_addr().unwrap_or(bind);
        let report = Reporter::new();
        report.line(&format!(
            "connecting from {local} to {} profile={} {} epd={}",
            args.addresses
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(","),
            endpoint.profile().name(),
            describe_identity(&endpoint),
            hex::encode(&epd),
        ));
        let (driver, handle, mut events) = Driver::new(endpoint, socket);
        let driver = match key_log {
            Some(k) => {
                report.line(&format!("key log: appending to {}", k.path().display()));
                driver.with_key_log(k)
            }
            None => driver,
        };
        let task = tokio::spawn(driver.run());
        let session = match handle.connect(epd, args.addresses.clone()).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: cannot connect: {e}");
                handle.shutdown();
                return ExitCode::from(1);
            }
        };
        let started = report.elapsed();
        let ctrl_c = tokio::signal::ctrl_c();
        tokio::pin!(ctrl_c);
        let mut close_at: Option<tokio::time::Instant> = None;
        let mut opened = false;
        loop {
            let wake =
                close_at.unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                _ = &mut ctrl_c => {
                    report.line("interrupted");
                    break;
                }
                () = tokio::time::sleep_until(wake), if close_at.is_some() => break,
                e = events.recv() => {
                    let Some(e) = e else { break };
                    report.event(&handle, &e).await;
                    match e {
                        Event::SessionOpened { session: s } if s == session => {
                            opened = true;
                            let took = report.elapsed().saturating_sub(started);
                            report.line(&format!(
                                "{session} handshake took {:.1}ms (IHello to RIKeying: two round trips)",
                                took.as_secs_f64() * 1000.0
                            ));
                            if args.time > 0 {
                                close_at = Some(tokio::time::Instant::now() + Duration::from_secs(args.time));
                            }
                        }
                        Event::SessionOpenFailed { session: s, .. } if s == session => break,
                        Event::SessionClosed { session: s, .. } if s == session => break,
                        _ => {}
                    }
                }
            }
        }
        if let Ok(Some(info)) = handle.session(session).await {
            report.line(&format!("{session} rtt: {}", describe_rtt(&info)));
        }
        let _ = handle.close(session, CloseKind::Orderly).await;
        let clean = wait_closed(&handle, Duration::from_secs(3)).await;
        while let Ok(e) = events.try_recv() {
            report.event(&handle, &e).await;
        }
        if opened {
            if let Ok(Some(info)) = handle.session(session).await {
                report.line(&format!("{session} final state {}", info.state));
            }
            if !clean {
                report.line(&format!("{session} no Close Ack within 3 s"));
            }
        }
        handle.shutdown();
        match task.await {
            Ok(Ok(stopped)) => report.line(&describe_stats(stopped.endpoint.stats())),
            Ok(Err(e)) => eprintln!("error: the socket failed: {e}"),
            Err(e) => eprintln!("error: the driver task failed: {e}"),
        }
        if opened {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        }
    })
}
