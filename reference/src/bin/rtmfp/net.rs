//! What `rtmfp listen` and `rtmfp connect` share: crypto options, endpoint
//! construction, logging set-up and one-line event reports.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant as StdInstant};

use clap::{Args, ValueEnum};
use rtmfp::crypto::flash::certificate::{Certificate, FINGERPRINT_LEN, Fingerprint};
use rtmfp::crypto::flash::dh::DhGroup;
use rtmfp::crypto::flash::keying::NegotiationFlags;
use rtmfp::crypto::flash::keylog::KeyLog;
use rtmfp::crypto::flash::{DhKeyMode, FlashConfig, NegotiationPolicy};
use rtmfp::crypto::transparent::TransparentProfile;
use rtmfp::driver::{Handle, KeyLogFile};
use rtmfp::endpoint::{Endpoint, EndpointConfig, Event};
use rtmfp::random::OsRandom;
use rtmfp::session::{SessionInfo, SessionState};

/// The Cryptography Profile (RFC 7016 3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Profile {
    /// RFC 7425's Flash profile: AES-128-CBC, HMAC-SHA256, Diffie-Hellman.
    Flash,
    /// No secrecy, for debugging: the plain packet plus a checksum; the
    /// certificate is the hostname, and an EPD selects the certificate equal to it.
    Transparent,
}

/// Options both commands take: the crypto profile and its policy, key log, logging.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Cryptography Profile (RFC 7016 3.2): flash (RFC 7425) or transparent
    /// (unencrypted, for debugging; both ends must use it).
    #[arg(long, value_enum, default_value = "flash")]
    pub profile: Profile,

    /// Static Diffie-Hellman public keys in this end's certificate, one per
    /// group (RFC 7425 4.3.3.5; section 7 recommends them for clients).
    #[arg(long, conflicts_with = "ephemeral_dh")]
    pub static_dh: bool,

    /// A fresh Diffie-Hellman key per session, the certificate listing the
    /// groups (RFC 7425 4.3.3.4; forward secrecy, recommended for servers).
    #[arg(long)]
    pub ephemeral_dh: bool,

    /// A Diffie-Hellman group to support: 2, 5, 14 or 16 (RFC 7425 4.2).
    /// Repeat to list several, most preferred first. Default: 16 14 5 2.
    #[arg(long = "dh-group", value_name = "N", value_parser = parse_group)]
    pub dh_groups: Vec<DhGroup>,

    /// Do not send an HMAC unless the far end asks for one, and do not ask
    /// for one (RFC 7425 4.5.2.4 HMAC Negotiation: SOR only, no SND, no REQ),
    /// like rtmfp-cpp's -H. Without it: SND, SOR and REQ.
    #[arg(long)]
    pub no_hmac: bool,

    /// Do not send session sequence numbers unless asked, and do not ask for
    /// them (RFC 7425 4.5.2.5 Session Sequence Number Negotiation: SOR only),
    /// like rtmfp-cpp's -S. Without it: SND, SOR and REQ.
    #[arg(long)]
    pub no_sseq: bool,

    /// Append each opened session's keys to FILE (format: spec/keylog.md),
    /// for `rtmfp decode --keylog` or Wireshark-style analysis. The variable
    /// RTMFP_KEYLOGFILE does the same. Anyone holding the file can decrypt
    /// the sessions.
    #[arg(long, value_name = "FILE")]
    pub keylog: Option<PathBuf>,

    /// Log what the endpoint does on stderr (-v debug, -vv every datagram).
    /// RUST_LOG, if set, takes precedence.
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// Parses a DH group ID.
fn parse_group(text: &str) -> Result<DhGroup, String> {
    let id: u64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number; groups are 2, 5, 14 or 16"))?;
    DhGroup::from_id(id).ok_or_else(|| format!("group {id} is not supported; use 2, 5, 14 or 16"))
}

/// Parses a 32-byte fingerprint in hex.
pub fn parse_fingerprint(text: &str) -> Result<Fingerprint, String> {
    let bytes = crate::decode::parse_hex(text)?;
    bytes.as_slice().try_into().map_err(|_| {
        format!(
            "a fingerprint is {FINGERPRINT_LEN} bytes ({} hex digits), got {} byte(s)",
            FINGERPRINT_LEN * 2,
            bytes.len()
        )
    })
}

/// Which end a command plays, for defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Listener,
    Connector,
}

impl CommonArgs {
    fn key_mode(&self, side: Side) -> DhKeyMode {
        if self.static_dh {
            DhKeyMode::Static
        } else if self.ephemeral_dh {
            DhKeyMode::Ephemeral
        } else {
            match side {
                Side::Listener => DhKeyMode::Ephemeral,
                Side::Connector => DhKeyMode::Static,
            }
        }
    }

    /// Options that make no sense for the transparent profile.
    fn flash_only_options(&self) -> Option<&'static str> {
        [
            (self.static_dh, "--static-dh"),
            (self.ephemeral_dh, "--ephemeral-dh"),
            (!self.dh_groups.is_empty(), "--dh-group"),
            (self.no_hmac, "--no-hmac"),
            (self.no_sseq, "--no-sseq"),
        ]
        .into_iter()
        .find(|(given, _)| *given)
        .map(|(_, name)| name)
    }

    /// The endpoint for this command. `hostname` goes into a Flash
    /// certificate (or is the transparent identity).
    pub fn endpoint(
        &self,
        side: Side,
        hostname: Option<&str>,
        config: EndpointConfig,
    ) -> Result<Endpoint, String> {
        match self.profile {
            Profile::Transparent => {
                if let Some(o) = self.flash_only_options() {
                    return Err(format!("{o} applies to --profile flash only"));
                }
                let identity = hostname.unwrap_or(DEFAULT_TRANSPARENT_IDENTITY);
                Ok(Endpoint::new(
                    config,
                    Box::new(TransparentProfile::new(identity.as_bytes().to_vec())),
                    Box::new(OsRandom),
                ))
            }
            Profile::Flash => {
                let base = match side {
                    Side::Listener => FlashConfig::server(),
                    Side::Connector => FlashConfig::client(),
                };
                let mut groups = self.dh_groups.clone();
                groups.dedup();
                let policy = |off: bool| {
                    if off {
                        NegotiationPolicy {
                            flags: NegotiationFlags {
                                send_always: false,
                                send_on_request: true,
                                request: false,
                            },
                            require: false,
                        }
                    } else {
                        NegotiationPolicy::offer_and_request()
                    }
                };
                let flash = FlashConfig {
                    groups: if groups.is_empty() {
                        base.groups.clone()
                    } else {
                        groups
                    },
                    key_mode: self.key_mode(side),
                    hostname: hostname.map(|h| h.as_bytes().to_vec()),
                    hmac: policy(self.no_hmac),
                    sseq: policy(self.no_sseq),
                    ..base
                };
                Endpoint::flash(config, flash, Box::new(OsRandom))
                    .map_err(|e| format!("cannot make the Flash identity: {e}"))
            }
        }
    }

    /// The key-log file from --keylog, else from RTMFP_KEYLOGFILE.
    pub fn key_log(&self) -> Result<Option<KeyLogFile>, String> {
        match &self.keylog {
            Some(p) => KeyLogFile::open(p)
                .map(Some)
                .map_err(|e| format!("--keylog: cannot open {}: {e}", p.display())),
            None => KeyLogFile::from_env().map_err(|e| {
                format!(
                    "{}: cannot open the key log: {e}",
                    rtmfp::driver::keylog::ENV_VAR
                )
            }),
        }
    }

    /// Sends tracing output to stderr at the asked verbosity.
    pub fn init_tracing(&self) {
        use tracing_subscriber::EnvFilter;
        let level = match self.verbose {
            0 => "rtmfp=warn",
            1 => "rtmfp=debug",
            _ => "rtmfp=trace",
        };
        let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init();
    }
}

/// The transparent identity when no --hostname is given.
pub const DEFAULT_TRANSPARENT_IDENTITY: &str = "rtmfp";

/// A short description of the near identity: fingerprint or transparent name.
pub fn describe_identity(endpoint: &Endpoint) -> String {
    let cert = endpoint.profile().near_certificate();
    match Certificate::decode(cert) {
        Ok(c) if endpoint.profile().name() == "flash" => {
            let mut s = format!("fingerprint={}", hex::encode(c.fingerprint));
            if let Some(h) = &c.hostname {
                s.push_str(&format!(" hostname={}", String::from_utf8_lossy(h)));
            }
            let mode = match (c.static_keys.is_empty(), c.ephemeral_groups.is_empty()) {
                (false, _) => format!(
                    "static-dh groups={}",
                    join(c.static_keys.iter().map(|(g, _)| g))
                ),
                (true, false) => format!("ephemeral-dh groups={}", join(c.ephemeral_groups.iter())),
                (true, true) => "no-dh".into(),
            };
            s.push(' ');
            s.push_str(&mode);
            if c.accepts_ancillary_data {
                s.push_str(" accepts-ancillary-data");
            }
            s
        }
        _ => format!("identity={:?}", String::from_utf8_lossy(cert)),
    }
}

fn join<T: std::fmt::Display>(items: impl Iterator<Item = T>) -> String {
    items.map(|i| i.to_string()).collect::<Vec<_>>().join(",")
}

/// Prints one line per event, time-stamped from the command's start.
pub struct Reporter {
    started: StdInstant,
}

impl Reporter {
    pub fn new() -> Self {
        Reporter {
            started: StdInstant::now(),
        }
    }

    /// Seconds since the command started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Prints a line with the time in front.
    pub fn line(&self, text: &str) {
        println!("{:9.3} {text}", self.elapsed().as_secs_f64());
    }

    /// Prints an event, with the session's details when it opened.
    pub async fn event(&self, handle: &Handle, event: &Event) {
        let text = match event {
            Event::SessionOpened { session } | Event::IncomingSession { session } => {
                let what = if matches!(event, Event::SessionOpened { .. }) {
                    "session opened"
                } else {
                    "incoming session opened"
                };
                match handle.session(*session).await {
                    Ok(Some(info)) => format!("{session} {what}: {}", describe_open(&info)),
                    _ => format!("{session} {what}"),
                }
            }
            Event::SessionOpenFailed { session, reason } => {
                format!("{session} session failed to open: {reason:?}")
            }
            Event::SessionClosed { session, reason } => {
                format!("{session} session closed: {reason:?}")
            }
            Event::AddressChanged { session, from, to } => {
                format!("{session} far address changed (3.5.4.2): {from} -> {to}")
            }
            Event::PacketSizeRaised {
                session,
                packet_len,
            } => format!("{session} path MTU probe confirmed {packet_len}-byte packets"),
            Event::FlowOpened {
                session,
                flow,
                flow_id,
                metadata,
                association,
            } => format!(
                "{session} incoming flow {flow:?} (flow ID {flow_id}) opened, metadata {:?}{}",
                String::from_utf8_lossy(metadata),
                association
                    .map(|a| format!(", in return for {a:?}"))
                    .unwrap_or_default()
            ),
            Event::Message {
                session,
                flow,
                sequence_number,
                data,
            } => format!(
                "{session} message on {flow:?}: seq {sequence_number}, {} byte(s)",
                data.len()
            ),
            Event::MessagesLost {
                session,
                flow,
                first,
                last,
            } => format!("{session} messages lost on {flow:?}: seq {first}..={last} (3.6.1.2)"),
            other => format!("{other:?}"),
        };
        self.line(&text);
    }
}

/// One line: far address, identity, nonces and negotiated crypto settings.
pub fn describe_open(info: &SessionInfo) -> String {
    let mut s = format!(
        "role={} far={} session_ids=rx:{:#010x},tx:{:#010x}",
        info.role.name(),
        info.far_address
            .map(|a| a.to_string())
            .unwrap_or_else(|| "?".into()),
        info.receive_session_id,
        info.send_session_id,
    );
    if let Some(cert) = &info.far_certificate {
        match Certificate::decode(cert) {
            Ok(c) => {
                s.push_str(&format!(" far_fingerprint={}", hex::encode(c.fingerprint)));
                if let Some(h) = &c.hostname {
                    s.push_str(&format!(" far_hostname={}", String::from_utf8_lossy(h)));
                }
            }
            Err(_) => s.push_str(&format!(
                " far_identity={:?}",
                String::from_utf8_lossy(cert)
            )),
        }
    }
    if let Some(n) = &info.near_nonce {
        s.push_str(&format!(" near_nonce={}", hex::encode(n)));
    }
    if let Some(n) = &info.far_nonce {
        s.push_str(&format!(" far_nonce={}", hex::encode(n)));
    }
    if let Some(Ok(k)) = info.key_log.as_deref().map(KeyLog::parse) {
        s.push_str(&format!(" {}", negotiated(&k)));
    }
    s
}

/// The negotiated Flash settings (RFC 7425 4.5.2.4, 4.5.2.5, 4.6) from a key log.
pub fn negotiated(k: &KeyLog) -> String {
    let hmac = |on: bool, len: Option<usize>| match (on, len) {
        (false, _) => "checksum".to_string(),
        (true, Some(n)) => format!("hmac{n}"),
        (true, None) => "hmac".to_string(),
    };
    let yes = |b: bool| if b { "yes" } else { "no" };
    format!(
        "dh_group={} verify=send:{},recv:{} sseq=send:{},recv:{}",
        k.dh_group,
        hmac(k.hmac_send, k.hmac_send_len),
        hmac(k.hmac_recv, k.hmac_recv_len),
        yes(k.sseq_send),
        yes(k.sseq_recv),
    )
}

/// Round-trip figures of a session (RFC 7016 3.5.2.2).
pub fn describe_rtt(info: &SessionInfo) -> String {
    let ms = |d: Duration| format!("{:.1}ms", d.as_secs_f64() * 1000.0);
    match info.srtt {
        Some(srtt) => format!(
            "srtt={} rttvar={} erto={} (timestamps tick every 4ms)",
            ms(srtt),
            ms(info.rttvar),
            ms(info.erto)
        ),
        None => format!("srtt=unmeasured erto={}", ms(info.erto)),
    }
}

/// The endpoint's counters worth a summary line.
pub fn describe_stats(endpoint_stats: &rtmfp::endpoint::EndpointStats) -> String {
    let drops: Vec<String> = endpoint_stats
        .drops
        .by_name()
        .into_iter()
        .map(|(reason, n)| format!("{reason}:{n}"))
        .collect();
    format!(
        "datagrams sent={} received={} dropped=[{}]",
        endpoint_stats.datagrams_sent,
        endpoint_stats.datagrams_received,
        drops.join(" ")
    )
}

/// Waits, at most `limit`, until no session is opening, open or waiting for
/// the Close Ack of its orderly close (S_NEARCLOSE, RFC 7016 3.5.5); sessions
/// lingering after the far end closed (S_FARCLOSE_LINGER) do not count.
/// Returns whether that happened in time.
pub async fn wait_closed(handle: &Handle, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let busy = handle
            .call(|e, _| {
                e.sessions().into_iter().any(|s| {
                    e.session(s)
                        .is_some_and(|i| i.state != SessionState::S_FARCLOSE_LINGER)
                })
            })
            .await;
        if busy != Ok(true) {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The unspecified address of `far`'s family, port 0.
pub fn any_address_for(far: &SocketAddr) -> SocketAddr {
    match far {
        SocketAddr::V4(_) => SocketAddr::from(([0, 0, 0, 0], 0)),
        SocketAddr::V6(_) => SocketAddr::from(([0u16; 8], 0)),
    }
}

/// Applies `--loss` (a test aid): drops that fraction of received datagrams, saying so.
pub fn with_loss<S: rtmfp::driver::DatagramSocket>(
    driver: rtmfp::driver::Driver<S>,
    loss: f64,
    seed: u64,
    report: &Reporter,
) -> rtmfp::driver::Driver<S> {
    if loss > 0.0 {
        report.line(&format!(
            "dropping {loss} of received datagrams on purpose (--loss)"
        ));
        driver.with_receive_loss(loss, seed)
    } else {
        driver
    }
}
