//! A tokio UDP driver around an [`Endpoint`] (RFC 7016 2.2.1: RTMFP over UDP).
//!
//! The driver owns one socket and one endpoint and does nothing but move
//! bytes, time and requests between them; every protocol decision stays in
//! the sans-IO [`Endpoint`]. Its loop:
//!
//! ```text
//! loop {
//!     send every poll_transmit(), pass every poll_event() on (writing key logs)
//!     wait for the first of:
//!         a datagram       -> handle_datagram(now, from, bytes)
//!         poll_timeout()   -> handle_timeout(now)
//!         a command        -> run it on the endpoint (connect, close, queries...)
//! }
//! ```
//!
//! The application talks to it through a cloneable [`Handle`] and hears
//! events on a channel. The socket is any [`DatagramSocket`], so the same
//! driver runs over tokio's UDP sockets and over a simulated network.
//!
//! ```no_run
//! # async fn example(endpoint: rtmfp::endpoint::Endpoint) -> std::io::Result<()> {
//! use rtmfp::driver::Driver;
//! let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await?;
//! let (driver, handle, mut events) = Driver::new(endpoint, socket);
//! let task = tokio::spawn(driver.run());
//! let far = "127.0.0.1:1935".parse().unwrap();
//! let session = handle.connect(b"epd".to_vec(), vec![far]).await;
//! while let Some(event) = events.recv().await {
//!     println!("{event:?}");
//! }
//! # Ok(()) }
//! ```

pub mod clock;
pub mod keylog;
pub mod socket;

use core::net::SocketAddr;
use core::time::Duration;
use std::io;

use tokio::sync::{mpsc, oneshot};

use crate::endpoint::{ApiError, CloseKind, Endpoint, Event};
use crate::session::{SessionHandle, SessionInfo};
use crate::time::Instant;

pub use clock::Clock;
pub use keylog::KeyLogFile;
pub use socket::DatagramSocket;

/// The largest UDP payload the driver receives (IPv4's 65507 fits).
pub const MAX_DATAGRAM: usize = 65536;

/// After this many receive errors in a row the driver gives up: the socket is broken.
pub const MAX_CONSECUTIVE_RECV_ERRORS: u32 = 1000;

/// How long the driver sleeps when the endpoint has no deadline at all.
const IDLE_WAIT: Duration = Duration::from_secs(3600);

/// Something to run on the endpoint inside the driver's loop.
type Call = Box<dyn FnOnce(&mut Endpoint, Instant) + Send>;

enum Command {
    Call(Call),
    Shutdown,
}

/// The driver is no longer running (it was shut down or failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the RTMFP driver is not running")]
pub struct DriverGone;

/// Why a request through a [`Handle`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The driver is gone.
    #[error(transparent)]
    Gone(#[from] DriverGone),
    /// The endpoint refused the request.
    #[error(transparent)]
    Api(#[from] ApiError),
}

/// Counters of the driver's own I/O (the endpoint counts everything else).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DriverStats {
    /// Datagrams the socket refused to send.
    pub send_errors: u64,
    /// Failed receives.
    pub recv_errors: u64,
    /// Key-log lines that could not be written.
    pub key_log_errors: u64,
    /// Received datagrams dropped by [`Driver::with_receive_loss`].
    pub dropped_on_purpose: u64,
}

/// What [`Driver::run`] hands back when it stops.
#[derive(Debug)]
pub struct Stopped {
    /// The endpoint, with its sessions and statistics as they were.
    pub endpoint: Endpoint,
    /// The driver's own counters.
    pub stats: DriverStats,
}

/// A UDP loop around one [`Endpoint`].
pub struct Driver<S> {
    endpoint: Endpoint,
    socket: S,
    clock: Clock,
    commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::UnboundedSender<Event>,
    key_log: Option<KeyLogFile>,
    stats: DriverStats,
    receive_loss: Option<ReceiveLoss>,
}

/// Deliberate loss of received datagrams, a test aid ([`Driver::with_receive_loss`]).
struct ReceiveLoss {
    /// Drop when a uniform 64-bit draw is below this.
    threshold: u64,
    rng: rand_chacha::ChaCha8Rng,
}

impl<S: DatagramSocket> Driver<S> {
    /// A driver for `endpoint` on `socket`, a handle to command it and the
    /// channel its events arrive on. The endpoint's timeline starts now
    /// ([`Clock::new`]). Nothing happens until [`run`](Self::run) is awaited.
    ///
    /// Events are queued without bound, as the endpoint queues them; an
    /// application that stops reading should drop the receiver, and events
    /// are then discarded.
    pub fn new(
        endpoint: Endpoint,
        socket: S,
    ) -> (Driver<S>, Handle, mpsc::UnboundedReceiver<Event>) {
        let (command_tx, commands) = mpsc::unbounded_channel();
        let (events, event_rx) = mpsc::unbounded_channel();
        let driver = Driver {
            endpoint,
            socket,
            clock: Clock::new(),
            commands,
            events,
            key_log: None,
            stats: DriverStats::default(),
            receive_loss: None,
        };
        (
            driver,
            Handle {
                commands: command_tx,
            },
            event_rx,
        )
    }

    /// Appends each session's key-log line to `file` when it opens (spec/keylog.md).
    pub fn with_key_log(mut self, file: KeyLogFile) -> Self {
        self.key_log = Some(file);
        self
    }

    /// A test aid: drops each received datagram with `probability` (0 to 1)
    /// before the endpoint sees it, drawn from a generator seeded with `seed`,
    /// to show loss recovery and partial reliability over a loopback that
    /// loses nothing. Counted in [`DriverStats::dropped_on_purpose`].
    pub fn with_receive_loss(mut self, probability: f64, seed: u64) -> Self {
        use rand_core::SeedableRng;
        let p = if probability.is_finite() {
            probability.clamp(0.0, 1.0)
        } else {
            0.0
        };
        // p * 2^64, saturating at u64::MAX for p = 1.
        let threshold = (p * 18_446_744_073_709_551_616.0) as u64;
        self.receive_loss = Some(ReceiveLoss {
            threshold,
            rng: rand_chacha::ChaCha8Rng::seed_from_u64(seed),
        });
        self
    }

    /// The socket's local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Runs until [`Handle::shutdown`] is called or every handle is dropped;
    /// returns the endpoint. Fails only if the socket keeps failing to receive.
    /// Sessions are not closed on the way out: close them first for an
    /// orderly end.
    pub async fn run(mut self) -> io::Result<Stopped> {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let mut recv_errors_in_row = 0u32;
        // When handle_timeout last ran: a deadline not after it is stale (the
        // endpoint should never report one) and is retried a millisecond
        // later rather than spinning the loop.
        let mut timers_ran_at: Option<Instant> = None;
        loop {
            self.flush().await;
            let wake = self
                .endpoint
                .poll_timeout()
                .map(|d| match timers_ran_at {
                    Some(ran) if d <= ran => ran + Duration::from_millis(1),
                    _ => d,
                })
                .and_then(|d| self.clock.tokio_instant(d))
                .unwrap_or_else(|| tokio::time::Instant::now() + IDLE_WAIT);
            tokio::select! {
                // Commands first, so a shutdown is not starved by traffic.
                biased;
                command = self.commands.recv() => match command {
                    Some(Command::Call(call)) => call(&mut self.endpoint, self.clock.now()),
                    Some(Command::Shutdown) | None => break,
                },
                received = self.socket.recv_from(&mut buf) => match received {
                    Ok((len, from)) => {
                        recv_errors_in_row = 0;
                        let data = buf.get(..len).unwrap_or(&buf);
                        if let Some(loss) = self.receive_loss.as_mut() {
                            use rand_core::Rng;
                            if loss.rng.next_u64() < loss.threshold {
                                self.stats.dropped_on_purpose += 1;
                                continue;
                            }
                        }
                        tracing::trace!(%from, len, "datagram in");
                        self.endpoint.handle_datagram(self.clock.now(), from, data);
                    }
                    Err(e) => {
                        self.stats.recv_errors += 1;
                        recv_errors_in_row += 1;
                        tracing::warn!(error = %e, "receive failed");
                        if recv_errors_in_row >= MAX_CONSECUTIVE_RECV_ERRORS {
                            return Err(e);
                        }
                    }
                },
                () = tokio::time::sleep_until(wake) => {
                    let now = self.clock.now();
                    self.endpoint.handle_timeout(now);
                    timers_ran_at = Some(now);
                }
            }
        }
        self.flush().await;
        Ok(Stopped {
            endpoint: self.endpoint,
            stats: self.stats,
        })
    }

    /// Sends every datagram the endpoint has ready and passes its events on.
    async fn flush(&mut self) {
        loop {
            let now = self.clock.now();
            let Some(t) = self.endpoint.poll_transmit(now) else {
                break;
            };
            tracing::trace!(to = %t.destination, len = t.contents.len(), "datagram out");
            if let Err(e) = self.socket.send_to(&t.contents, t.destination).await {
                self.stats.send_errors += 1;
                tracing::warn!(to = %t.destination, error = %e, "send failed");
            }
        }
        while let Some(event) = self.endpoint.poll_event() {
            tracing::debug!(?event, "event");
            if let Event::SessionOpened { session } | Event::IncomingSession { session } = event {
                self.log_keys(session);
            }
            // A dropped receiver means the application does not want events.
            let _ = self.events.send(event);
        }
    }

    fn log_keys(&mut self, session: SessionHandle) {
        let Some(file) = self.key_log.as_mut() else {
            return;
        };
        let Some(line) = self.endpoint.session(session).and_then(|i| i.key_log) else {
            return;
        };
        if let Err(e) = file.append(&line) {
            self.stats.key_log_errors += 1;
            tracing::warn!(path = %file.path().display(), error = %e, "cannot write the key log");
        }
    }
}

/// The application's side of a running [`Driver`]: cloneable, usable from any task.
#[derive(Debug, Clone)]
pub struct Handle {
    commands: mpsc::UnboundedSender<Command>,
}

impl core::fmt::Debug for Command {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Command::Call(_) => f.write_str("Call"),
            Command::Shutdown => f.write_str("Shutdown"),
        }
    }
}

impl Handle {
    /// Runs `f` on the endpoint inside the driver's loop, at the driver's
    /// current time, and returns its result. Any datagrams it causes are sent
    /// right after. Everything the endpoint offers is reachable this way.
    pub async fn call<R, F>(&self, f: F) -> Result<R, DriverGone>
    where
        R: Send + 'static,
        F: FnOnce(&mut Endpoint, Instant) -> R + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let call: Call = Box::new(move |endpoint, now| {
            let _ = tx.send(f(endpoint, now));
        });
        self.commands
            .send(Command::Call(call))
            .map_err(|_| DriverGone)?;
        rx.await.map_err(|_| DriverGone)
    }

    /// Opens a session to the endpoint named by `epd` at `candidates` (RFC 7016 3.5.1.1.1).
    pub async fn connect(
        &self,
        epd: Vec<u8>,
        candidates: Vec<SocketAddr>,
    ) -> Result<SessionHandle, RequestError> {
        Ok(self
            .call(move |e, now| e.connect(now, epd, &candidates))
            .await??)
    }

    /// Closes a session (RFC 7016 3.5.5).
    pub async fn close(&self, session: SessionHandle, how: CloseKind) -> Result<(), RequestError> {
        Ok(self
            .call(move |e, now| e.close(now, session, how))
            .await??)
    }

    /// A snapshot of a session.
    pub async fn session(&self, session: SessionHandle) -> Result<Option<SessionInfo>, DriverGone> {
        self.call(move |e, _| e.session(session)).await
    }

    /// The sessions not yet closed.
    pub async fn sessions(&self) -> Result<Vec<SessionHandle>, DriverGone> {
        self.call(|e, _| e.sessions()).await
    }

    /// Asks the driver to stop; [`Driver::run`] then returns the endpoint.
    pub fn shutdown(&self) {
        let _ = self.commands.send(Command::Shutdown);
    }
}
