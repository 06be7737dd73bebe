//! `rtmfp connect`: an initiator that opens one session and reports it (RFC 7016 3.5.1.1.1).

use std::net::SocketAddr;
use std::path::PathBuf;
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
    describe_identity, describe_rtt, describe_stats, parse_fingerprint, wait_closed, with_loss,
};
use crate::transfer::{FileSender, Receiver, StreamSender, rate};

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
/// With --send FILE it sends the file on one reliable flow (RFC 7016 3.6.2,
/// metadata `rtmfp-lab file NAME`), closes the flow, waits until every byte
/// is acknowledged (3.6.2.11) and prints the file's SHA-256, size and
/// throughput; with --expect-echo it also waits for the far end to send it
/// all back on a return flow (2.3.11.1.2, as rtmfp-cpp's echoserver and
/// `rtmfp listen --echo` do) and compares the hashes. With --stream N it
/// sends N timed messages (live media: --size bytes every --interval, each
/// abandoned after --lifetime, 3.6.2.7) and prints how many were delivered
/// and abandoned. Either way --time is ignored: the command closes the
/// session when the data is done (or after --deadline).
///
/// Exit status: 0 if the session opened (and the transfer completed, with a
/// matching echo if asked), 1 if not or the socket failed, 2 for a usage error.
///
/// Examples:
///   rtmfp connect 127.0.0.1:1935
///   rtmfp connect 127.0.0.1:1935 --hostname echo --no-hmac --no-sseq --time 2
///   rtmfp connect 127.0.0.1:1935 --send big.iso --expect-echo
///   rtmfp connect 127.0.0.1:1935 --stream 1500 --size 160 --interval 20 --lifetime 300 --loss 0.1
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

    /// Send this file on one reliable flow, then close (RFC 7016 3.6.2).
    #[arg(long, value_name = "FILE", conflicts_with = "stream")]
    send: Option<PathBuf>,

    /// Bytes per message for --send.
    #[arg(long, value_name = "BYTES", default_value_t = 16384)]
    message_size: usize,

    /// With --send: wait for the far end to echo the file on a return flow
    /// and check its SHA-256.
    #[arg(long, requires = "send")]
    expect_echo: bool,

    /// Send this many timed messages with a lifetime (live media, 3.6.2.7).
    #[arg(long, value_name = "COUNT")]
    stream: Option<u64>,

    /// Bytes per --stream message (at least 16: index and send time).
    #[arg(long, value_name = "BYTES", default_value_t = 160)]
    size: usize,

    /// Milliseconds between --stream messages.
    #[arg(long, value_name = "MS", default_value_t = 20)]
    interval: u64,

    /// Milliseconds after which an unacknowledged --stream message is abandoned.
    #[arg(long, value_name = "MS", default_value_t = 300)]
    lifetime: u64,

    /// Give up a --send or --stream transfer after this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    deadline: u64,

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
        let driver = with_loss(driver, args.loss, args.loss_seed, &report);
        let driver = match key_log {
            Some(k) => {
                report.line(&format!("key log: appending to {}", k.path().display()));
                driver.with_key_log(k)
            }
            None => driver,
        };
        let mut sender = match &args.send {
            Some(p) => match FileSender::open(p, args.message_size) {
                Ok(mut s) => {
                    if args.expect_echo {
                        s.hold_close();
                    }
                    Some(s)
                }
                Err(why) => {
                    eprintln!("error: --send: {why}");
                    return ExitCode::from(1);
                }
            },
            None => None,
        };
        let mut stream = args
            .stream
            .map(|_| StreamSender::new(args.size, Duration::from_millis(args.lifetime)));
        let transfer = sender.is_some() || stream.is_some();
        let mut echo = Receiver::new(None, false).ok();
        let mut echo_flow_done = false;
        let mut echo_digest: Option<String> = None;
        let mut transfer_ok = !transfer;
        let mut sent_done = false;
        let mut stream_next: u64 = 0;
        let mut stream_closing = false;
        let mut stream_tick = tokio::time::interval(Duration::from_millis(args.interval.max(1)));
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
                () = tokio::time::sleep_until(wake), if close_at.is_some() => {
                    if transfer && !transfer_ok {
                        report.line(&format!("{session} transfer not finished after --deadline {}s", args.deadline));
                    }
                    break;
                }
                _ = stream_tick.tick(), if opened && stream_next < args.stream.unwrap_or(0) => {
                    if let Some(st) = stream.as_mut() {
                        if let Err(why) = st.send_one(&handle, session, stream_next).await {
                            report.line(&format!("{session} {why}"));
                            break;
                        }
                        stream_next += 1;
                    }
                }
                e = events.recv() => {
                    let Some(e) = e else { break };
                    let quiet = transfer && matches!(
                        e,
                        Event::Message { .. } | Event::MessageDelivered { .. }
                            | Event::MessageAbandoned { .. } | Event::SendFlowWritable { .. }
                    );
                    if !quiet {
                        report.event(&handle, &e).await;
                    }
                    if let Some(st) = stream.as_mut() {
                        st.on_event(&e);
                    }
                    if args.expect_echo && let Some(r) = echo.as_mut() {
                        for line in r.on_event(&handle, &e).await {
                            if let Some(d) = line.split("sha256=").nth(1) {
                                echo_digest = Some(d.split(';').next().unwrap_or(d).to_string());
                                echo_flow_done = true;
                            }
                            report.line(&format!("echo: {line}"));
                        }
                    }
                    match e {
                        Event::SessionOpened { session: s } if s == session => {
                            opened = true;
                            let took = report.elapsed().saturating_sub(started);
                            report.line(&format!(
                                "{session} handshake took {:.1}ms (IHello to RIKeying: two round trips)",
                                took.as_secs_f64() * 1000.0
                            ));
                            if transfer {
                                close_at = Some(tokio::time::Instant::now() + Duration::from_secs(args.deadline));
                            } else if args.time > 0 {
                                close_at = Some(tokio::time::Instant::now() + Duration::from_secs(args.time));
                            }
                            if let Some(snd) = sender.as_mut() {
                                let name = args
                                    .send
                                    .as_ref()
                                    .and_then(|p| p.file_name())
                                    .map(|n| n.to_string_lossy().into_owned())
                                    .unwrap_or_default();
                                let r = match snd.start(&handle, session, &name).await {
                                    Ok(_) => snd.pump(&handle, session).await,
                                    Err(e) => Err(e),
                                };
                                if let Err(why) = r {
                                    report.line(&format!("{session} {why}"));
                                    break;
                                }
                            }
                            if let Some(st) = stream.as_mut()
                                && let Err(why) = st.start(&handle, session).await
                            {
                                report.line(&format!("{session} {why}"));
                                break;
                            }
                        }
                        Event::SendFlowWritable { session: s, flow } if s == session => {
                            if let Some(snd) = sender.as_mut()
                                && snd.flow == Some(flow)
                                && let Err(why) = snd.pump(&handle, session).await
                            {
                                report.line(&format!("{session} {why}"));
                                break;
                            }
                        }
                        Event::FlowOpened { session: s, association: Some(a), .. } if s == session => {
                            // The echo's return flow is open: the file's flow may close.
                            if let Some(snd) = sender.as_mut()
                                && snd.flow == Some(a)
                            {
                                snd.release_close();
                                if let Err(why) = snd.pump(&handle, session).await {
                                    report.line(&format!("{session} {why}"));
                                    break;
                                }
                            }
                        }
                        Event::SendFlowComplete { session: s, flow } if s == session => {
                            if stream.as_ref().is_some_and(|st| st.flow == Some(flow)) {
                                break;
                            }
                            if let Some(snd) = sender.as_ref()
                                && snd.flow == Some(flow)
                            {
                                let took = snd.elapsed();
                                report.line(&format!(
                                    "{session} sent {} bytes, all acknowledged, in {:.3}s: {} sha256={}",
                                    snd.bytes,
                                    took.as_secs_f64(),
                                    rate(snd.bytes, took),
                                    snd.digest()
                                ));
                                sent_done = true;
                            }
                        }
                        Event::FlowException { session: s, code, .. } if s == session => {
                            report.line(&format!("{session} the far end rejected the flow (code {code})"));
                            break;
                        }
                        Event::SessionOpenFailed { session: s, .. } if s == session => break,
                        Event::SessionClosed { session: s, .. } if s == session => break,
                        _ => {}
                    }
                    if let (Some(st), Some(n)) = (stream.as_ref(), args.stream)
                        && !stream_closing
                        && stream_next >= n
                        && st.delivered + st.abandoned + st.refused >= n
                    {
                        report.line(&format!(
                            "{session} stream: sent={} delivered={} abandoned={} refused={}",
                            st.sent, st.delivered, st.abandoned, st.refused
                        ));
                        transfer_ok = st.delivered + st.abandoned == st.sent;
                        // Close the flow and wait until the receiver has it all (3.6.2.11).
                        stream_closing = true;
                        if let Some(flow) = st.flow {
                            let _ = handle.call(move |e, now| e.close_flow(now, session, flow)).await;
                        }
                    }
                    if sent_done && (!args.expect_echo || echo_flow_done) {
                        transfer_ok = match (&echo_digest, sender.as_ref()) {
                            (Some(d), Some(snd)) => {
                                let same = *d == snd.digest();
                                report.line(&format!(
                                    "{session} echo {}",
                                    if same { "matches what was sent" } else { "DIFFERS from what was sent" }
                                ));
                                same
                            }
                            _ => true,
                        };
                        break;
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
        if opened && transfer_ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        }
    })
}
