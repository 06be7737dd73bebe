//! Data on flows for the CLI (RFC 7016 3.6): a file sent on one reliable
//! flow, files received into a directory, an echo of every flow on a return
//! flow (2.3.11.1.2), and timed "live" messages with a lifetime (3.6.2.7).
//!
//! Flow metadata (the User's Per-Flow Metadata, 2.3.11.1.1) says what a flow
//! carries: `rtmfp-lab file NAME` for a file, `rtmfp-lab stream` for timed
//! messages. A receiver never uses NAME as a path. A stream message starts
//! with 16 bytes: its index and its send time in microseconds since the Unix
//! epoch (both big-endian), so that a receiver on the same clock can tell a
//! late message from a timely one.

use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant as StdInstant, SystemTime, UNIX_EPOCH};

use rtmfp::driver::Handle;
use rtmfp::endpoint::{ApiError, Event};
use rtmfp::flow::{self, FlowOptions, MessageOptions, RecvFlowId, SendFlowId};
use rtmfp::session::SessionHandle;
use sha2::{Digest, Sha256};

/// Metadata prefix of a file flow.
pub const FILE_METADATA: &str = "rtmfp-lab file ";
/// Metadata of a stream flow.
pub const STREAM_METADATA: &str = "rtmfp-lab stream";
/// Bytes in front of every stream message.
pub const STREAM_HEADER: usize = 16;

/// How many messages one call into the driver queues at most.
const BATCH: usize = 64;

/// Whether an endpoint error only means "the send buffer is full now".
fn is_buffer_full(e: &ApiError) -> bool {
    matches!(e, ApiError::Flow(flow::ApiError::BufferFull { .. }))
}

/// Megabytes (10^6 bytes) per second.
pub fn rate(bytes: u64, took: Duration) -> String {
    let secs = took.as_secs_f64();
    if secs <= 0.0 {
        return "-".into();
    }
    format!("{:.1} MB/s", bytes as f64 / secs / 1e6)
}

/// Microseconds since the Unix epoch (0 if the clock is before it).
pub fn unix_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// A file going out on one reliable flow.
pub struct FileSender {
    file: File,
    message_size: usize,
    /// Read but not yet accepted by the flow.
    pending: VecDeque<Vec<u8>>,
    eof: bool,
    closed: bool,
    /// Keep the flow open after the last byte until [`Self::release_close`]:
    /// a far end may only associate a return flow with an F_OPEN flow
    /// (RFC 7016 3.6.3.2), so an echo must start before this flow closes.
    hold_close: bool,
    hash: Sha256,
    /// Bytes read from the file.
    pub bytes: u64,
    /// The flow, once open.
    pub flow: Option<SendFlowId>,
    started: Option<StdInstant>,
}

impl FileSender {
    /// Opens `path` to send in messages of `message_size` bytes.
    pub fn open(path: &Path, message_size: usize) -> Result<FileSender, String> {
        let file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        Ok(FileSender {
            file,
            message_size: message_size.max(1),
            pending: VecDeque::new(),
            eof: false,
            closed: false,
            hold_close: false,
            hash: Sha256::new(),
            bytes: 0,
            flow: None,
            started: None,
        })
    }

    /// Keeps the flow open after the last byte until [`Self::release_close`].
    pub fn hold_close(&mut self) {
        self.hold_close = true;
    }

    /// Lets [`Self::pump`] close the flow after the last byte.
    pub fn release_close(&mut self) {
        self.hold_close = false;
    }

    /// Opens the flow on `session` with file metadata naming `name`.
    pub async fn start(
        &mut self,
        handle: &Handle,
        session: SessionHandle,
        name: &str,
    ) -> Result<SendFlowId, String> {
        let metadata = format!("{FILE_METADATA}{name}").into_bytes();
        let flow = handle
            .call(move |e, now| e.open_flow(now, session, &metadata, None, FlowOptions::default()))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("cannot open a flow: {e}"))?;
        self.flow = Some(flow);
        self.started = Some(StdInstant::now());
        Ok(flow)
    }

    fn refill(&mut self) -> Result<(), String> {
        while !self.eof && self.pending.len() < BATCH {
            let mut buf = vec![0u8; self.message_size];
            let mut filled = 0;
            while filled < buf.len() {
                let n = match self.file.read(buf.get_mut(filled..).unwrap_or_default()) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(format!("cannot read the file: {e}")),
                };
                if n == 0 {
                    self.eof = true;
                    break;
                }
                filled += n;
            }
            buf.truncate(filled);
            if !buf.is_empty() {
                self.hash.update(&buf);
                self.bytes += filled as u64;
                self.pending.push_back(buf);
            }
        }
        Ok(())
    }

    /// Queues as much of the file as the flow takes now; closes the flow after
    /// the last byte (3.6.2.11). Call again after `SendFlowWritable`.
    pub async fn pump(&mut self, handle: &Handle, session: SessionHandle) -> Result<(), String> {
        let Some(flow) = self.flow else {
            return Ok(());
        };
        loop {
            self.refill()?;
            if self.pending.is_empty() {
                if self.eof && !self.closed && !self.hold_close {
                    self.closed = true;
                    handle
                        .call(move |e, now| e.close_flow(now, session, flow))
                        .await
                        .map_err(|e| e.to_string())?
                        .map_err(|e| format!("cannot close the flow: {e}"))?;
                }
                return Ok(());
            }
            let batch: Vec<Vec<u8>> = self.pending.drain(..).collect();
            let (left, error) = handle
                .call(move |e, now| {
                    let mut rest = batch.into_iter();
                    let mut left = Vec::new();
                    let mut error = None;
                    for m in rest.by_ref() {
                        match e.send(now, session, flow, &m, MessageOptions::reliable()) {
                            Ok(_) => {}
                            Err(err) => {
                                if !is_buffer_full(&err) {
                                    error = Some(err.to_string());
                                }
                                left.push(m);
                                break;
                            }
                        }
                    }
                    left.extend(rest);
                    (left, error)
                })
                .await
                .map_err(|e| e.to_string())?;
            if let Some(e) = error {
                return Err(format!("cannot send: {e}"));
            }
            let full = !left.is_empty();
            for m in left.into_iter().rev() {
                self.pending.push_front(m);
            }
            if full {
                return Ok(());
            }
        }
    }

    /// SHA-256 of every byte read, in hex.
    pub fn digest(&self) -> String {
        hex::encode(self.hash.clone().finalize())
    }

    /// Time since the flow opened.
    pub fn elapsed(&self) -> Duration {
        self.started.map_or(Duration::ZERO, |s| s.elapsed())
    }
}

/// One incoming flow being written to a file, or hashed only.
struct Incoming {
    file: Option<(PathBuf, File)>,
    hash: Sha256,
    bytes: u64,
    messages: u64,
    first: Option<StdInstant>,
    stream: Option<StreamStats>,
}

/// What a receiver counted on a stream flow.
#[derive(Debug, Default, Clone, Copy)]
pub struct StreamStats {
    /// Messages delivered.
    pub delivered: u64,
    /// Of those, delivered later than the lifetime after their send time.
    pub late: u64,
    /// Sequence numbers reported abandoned by the sender (3.6.1.2).
    pub lost: u64,
}

/// An echo's return flow, the messages waiting for room on it, and whether
/// its source flow completed (then it closes once empty).
type EchoFlow = (SendFlowId, VecDeque<Vec<u8>>, bool);

/// What a receiving end does with flows: files into a directory, an echo
/// on a return flow, stream accounting; and it hashes everything.
pub struct Receiver {
    dir: Option<PathBuf>,
    echo: bool,
    /// The lifetime against which stream messages are judged late.
    pub late_after: Duration,
    flows: BTreeMap<(SessionHandle, RecvFlowId), Incoming>,
    /// Return flows of an echo: what waits for room on each.
    echo_flows: BTreeMap<(SessionHandle, RecvFlowId), EchoFlow>,
}

impl Receiver {
    /// A receiver writing into `dir` (if given) and echoing (if `echo`).
    pub fn new(dir: Option<PathBuf>, echo: bool) -> Result<Receiver, String> {
        if let Some(d) = &dir {
            let meta = std::fs::metadata(d)
                .map_err(|e| format!("--recv {}: not usable: {e}", d.display()))?;
            if !meta.is_dir() {
                return Err(format!("--recv {}: not a directory", d.display()));
            }
        }
        Ok(Receiver {
            dir,
            echo,
            late_after: Duration::from_secs(1),
            flows: BTreeMap::new(),
            echo_flows: BTreeMap::new(),
        })
    }

    /// Handles a flow event; returns lines to print.
    pub async fn on_event(&mut self, handle: &Handle, event: &Event) -> Vec<String> {
        let mut out = Vec::new();
        match event {
            Event::FlowOpened {
                session,
                flow,
                metadata,
                ..
            } => {
                let key = (*session, *flow);
                let is_stream = metadata.as_slice() == STREAM_METADATA.as_bytes();
                let file = match &self.dir {
                    Some(d) if !is_stream => {
                        // A local name: never a path from the network.
                        let path = d.join(format!("{session}-flow{}.bin", flow.0));
                        match File::create(&path) {
                            Ok(f) => {
                                out.push(format!(
                                    "{session} writing flow {} to {}",
                                    flow.0,
                                    path.display()
                                ));
                                Some((path, f))
                            }
                            Err(e) => {
                                out.push(format!(
                                    "{session} cannot create {}: {e}; rejecting the flow",
                                    path.display()
                                ));
                                let (s, f) = key;
                                let _ =
                                    handle.call(move |e, now| e.reject_flow(now, s, f, 1)).await;
                                return out;
                            }
                        }
                    }
                    _ => None,
                };
                self.flows.insert(
                    key,
                    Incoming {
                        file,
                        hash: Sha256::new(),
                        bytes: 0,
                        messages: 0,
                        first: None,
                        stream: is_stream.then(StreamStats::default),
                    },
                );
                if self.echo {
                    let mut md = metadata.clone();
                    md.extend_from_slice(b" return");
                    let (s, f) = key;
                    match handle
                        .call(move |e, now| {
                            e.open_flow(now, s, &md, Some(f), FlowOptions::default())
                        })
                        .await
                    {
                        Ok(Ok(ret)) => {
                            self.echo_flows.insert(key, (ret, VecDeque::new(), false));
                        }
                        Ok(Err(e)) => out.push(format!("{session} cannot open the echo flow: {e}")),
                        Err(e) => out.push(e.to_string()),
                    }
                }
            }
            Event::Message {
                session,
                flow,
                data,
                ..
            } => {
                let key = (*session, *flow);
                if let Some(inc) = self.flows.get_mut(&key) {
                    inc.first.get_or_insert_with(StdInstant::now);
                    inc.hash.update(data);
                    inc.bytes += data.len() as u64;
                    inc.messages += 1;
                    if let Some(st) = inc.stream.as_mut() {
                        st.delivered += 1;
                        let sent = data
                            .get(8..16)
                            .and_then(|b| <[u8; 8]>::try_from(b).ok())
                            .map(u64::from_be_bytes);
                        if let Some(sent) = sent {
                            let age = unix_micros().saturating_sub(sent);
                            if Duration::from_micros(age) > self.late_after {
                                st.late += 1;
                            }
                        }
                    }
                    if let Some((path, f)) = inc.file.as_mut()
                        && let Err(e) = f.write_all(data)
                    {
                        out.push(format!("{session} cannot write {}: {e}", path.display()));
                        inc.file = None;
                    }
                }
                if let Some((_, queue, _)) = self.echo_flows.get_mut(&key) {
                    queue.push_back(data.clone());
                    out.extend(self.pump_echo(handle, key).await);
                }
            }
            Event::MessagesLost {
                session,
                flow,
                first,
                last,
            } => {
                if let Some(st) = self
                    .flows
                    .get_mut(&(*session, *flow))
                    .and_then(|i| i.stream.as_mut())
                {
                    st.lost += last.saturating_sub(*first) + 1;
                }
            }
            Event::RecvFlowComplete { session, flow }
            | Event::RecvFlowAborted { session, flow } => {
                let key = (*session, *flow);
                let complete = matches!(event, Event::RecvFlowComplete { .. });
                if let Some(inc) = self.flows.remove(&key) {
                    out.push(finish_line(*session, *flow, inc, complete));
                }
                if let Some((_, _, closing)) = self.echo_flows.get_mut(&key) {
                    *closing = true;
                    out.extend(self.pump_echo(handle, key).await);
                }
            }
            Event::SendFlowWritable { session, flow } => {
                let keys: Vec<_> = self
                    .echo_flows
                    .iter()
                    .filter(|((s, _), (f, _, _))| s == session && f == flow)
                    .map(|(k, _)| *k)
                    .collect();
                for k in keys {
                    out.extend(self.pump_echo(handle, k).await);
                }
            }
            _ => {}
        }
        out
    }

    /// Sends what waits on an echo flow; closes it when its source completed.
    async fn pump_echo(
        &mut self,
        handle: &Handle,
        key: (SessionHandle, RecvFlowId),
    ) -> Vec<String> {
        let Some((ret, queue, closing)) = self.echo_flows.get_mut(&key) else {
            return Vec::new();
        };
        let (ret, closing) = (*ret, *closing);
        let batch: Vec<Vec<u8>> = queue.drain(..).collect();
        let session = key.0;
        let result = handle
            .call(move |e, now| {
                let mut rest = batch.into_iter();
                let mut left = Vec::new();
                let mut error = None;
                for m in rest.by_ref() {
                    if let Err(err) = e.send(now, session, ret, &m, MessageOptions::reliable()) {
                        if !is_buffer_full(&err) {
                            error = Some(err.to_string());
                        }
                        left.push(m);
                        break;
                    }
                }
                left.extend(rest);
                let closed = if left.is_empty() && error.is_none() && closing {
                    Some(e.close_flow(now, session, ret).map_err(|e| e.to_string()))
                } else {
                    None
                };
                (left, error, closed)
            })
            .await;
        let mut out = Vec::new();
        match result {
            Ok((left, error, closed)) => {
                if let Some(e) = error {
                    out.push(format!("{session} echo failed: {e}"));
                    self.echo_flows.remove(&key);
                    return out;
                }
                if let Some(Err(e)) = &closed {
                    out.push(format!("{session} cannot close the echo flow: {e}"));
                }
                if closed.is_some() {
                    self.echo_flows.remove(&key);
                } else if let Some((_, queue, _)) = self.echo_flows.get_mut(&key) {
                    for m in left.into_iter().rev() {
                        queue.push_front(m);
                    }
                }
            }
            Err(e) => out.push(e.to_string()),
        }
        out
    }

    /// Lines for flows still unfinished (when the program stops).
    pub fn unfinished(&mut self) -> Vec<String> {
        std::mem::take(&mut self.flows)
            .into_iter()
            .map(|((s, f), inc)| finish_line(s, f, inc, false))
            .collect()
    }
}

fn finish_line(
    session: SessionHandle,
    flow: RecvFlowId,
    mut inc: Incoming,
    complete: bool,
) -> String {
    if let Some((_, f)) = inc.file.as_mut() {
        let _ = f.flush();
    }
    let took = inc.first.map_or(Duration::ZERO, |t| t.elapsed());
    let what = if complete { "complete" } else { "unfinished" };
    let mut line = format!(
        "{session} flow {} {what}: {} bytes in {} messages, {:.3}s, {}, sha256={}",
        flow.0,
        inc.bytes,
        inc.messages,
        took.as_secs_f64(),
        rate(inc.bytes, took),
        hex::encode(inc.hash.finalize())
    );
    if let Some(st) = inc.stream {
        line.push_str(&format!(
            "; stream: delivered={} late={} lost={}",
            st.delivered, st.late, st.lost
        ));
    }
    line
}

/// Timed messages with a lifetime (live media): `count` messages of `size`
/// bytes every `interval`, each abandoned after `lifetime` (3.6.2.7).
pub struct StreamSender {
    /// The flow, once open.
    pub flow: Option<SendFlowId>,
    /// Messages queued.
    pub sent: u64,
    /// Messages the send buffer refused (a live source skips them).
    pub refused: u64,
    /// Messages fully acknowledged.
    pub delivered: u64,
    /// Messages abandoned.
    pub abandoned: u64,
    size: usize,
    lifetime: Duration,
}

impl StreamSender {
    /// A stream of `size`-byte messages with `lifetime`.
    pub fn new(size: usize, lifetime: Duration) -> StreamSender {
        StreamSender {
            flow: None,
            sent: 0,
            refused: 0,
            delivered: 0,
            abandoned: 0,
            size: size.max(STREAM_HEADER),
            lifetime,
        }
    }

    /// Opens the stream flow.
    pub async fn start(&mut self, handle: &Handle, session: SessionHandle) -> Result<(), String> {
        let flow = handle
            .call(move |e, now| {
                e.open_flow(
                    now,
                    session,
                    STREAM_METADATA.as_bytes(),
                    None,
                    FlowOptions::default(),
                )
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("cannot open a flow: {e}"))?;
        self.flow = Some(flow);
        Ok(())
    }

    /// Queues message number `index`, stamped with the time now.
    pub async fn send_one(
        &mut self,
        handle: &Handle,
        session: SessionHandle,
        index: u64,
    ) -> Result<(), String> {
        let Some(flow) = self.flow else {
            return Ok(());
        };
        let mut m = vec![0u8; self.size];
        if let Some(h) = m.get_mut(..STREAM_HEADER) {
            h[..8].copy_from_slice(&index.to_be_bytes());
            h[8..].copy_from_slice(&unix_micros().to_be_bytes());
        }
        let opts = MessageOptions::with_lifetime(self.lifetime);
        let r = handle
            .call(move |e, now| e.send(now, session, flow, &m, opts))
            .await
            .map_err(|e| e.to_string())?;
        match r {
            Ok(_) => self.sent += 1,
            Err(e) if is_buffer_full(&e) => self.refused += 1,
            Err(e) => return Err(format!("cannot send: {e}")),
        }
        Ok(())
    }

    /// Counts delivery and abandonment events of the stream flow.
    pub fn on_event(&mut self, event: &Event) {
        match event {
            Event::MessageDelivered { flow, .. } if Some(*flow) == self.flow => self.delivered += 1,
            Event::MessageAbandoned { flow, .. } if Some(*flow) == self.flow => self.abandoned += 1,
            _ => {}
        }
    }
}
