//! Running an RTMFP scenario: endpoints on every host, the workload, the trace with decoded
//! packets, and the expectations checked at the end.
//!
//! ```no_run
//! let loaded = rtmfp_sim::run::load("simulator/scenarios/handshake.yaml".as_ref())?;
//! let report = rtmfp_sim::run::run(&loaded, &rtmfp_sim::run::RunOptions::default());
//! print!("{}", report.summary());
//! assert!(report.passed());
//! # Ok::<(), rtmfp_sim::ScenarioError>(())
//! ```
//!
//! Setting up a run is a pure function of the scenario and the seed: each host's endpoint
//! draws its identity, tags, session IDs and keys from its own stream `user:node:HOST`; the
//! network draws from its per-link and per-NAT streams. A scenario without `duration:` runs
//! for [`DEFAULT_DURATION`] (endpoints keep timers for keepalives, so a run is never idle).

use core::time::Duration;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::rc::Rc;

use rtmfp::time::Instant;

use crate::endpoint_node::{
    EndpointNode, FlowCatalogue, Identity, SessionRecord, SetupError, close_name, failure_name,
};
use crate::engine::{Sim, Stop};
use crate::expect::{Expect, Failure, RunFacts};
use crate::packets::KeyBook;
use crate::scenario::{Scenario, ScenarioError};
use crate::trace::{Stats, Trace};
use crate::traffic::{RecvRecord, SendRecord};
use crate::workload::{FlowPlan, Plan, Workload};

/// How long a scenario without `duration:` runs.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(60);

/// A scenario file, parsed and checked.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The scenario.
    pub scenario: Scenario<Workload, Expect>,
    /// Its checked workload.
    pub plan: Plan,
}

/// Reads and checks an RTMFP scenario file.
pub fn load(path: &Path) -> Result<Loaded, ScenarioError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        file: file.clone(),
        line: 0,
        column: 0,
        field: String::new(),
        message: format!("cannot read the file: {e}"),
        source_line: None,
    })?;
    parse(&file, &text)
}

/// Parses and checks scenario `text`; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Loaded, ScenarioError> {
    let scenario = Scenario::<Workload, Expect>::parse(file, text)?;
    let plan = Plan::check(&scenario, text)?;
    Expect::check_names(&scenario, &plan, text)?;
    Ok(Loaded { scenario, plan })
}

/// How to run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// The seed (the scenario's own `seed:` when `None`).
    pub seed: Option<u64>,
    /// Keep the trace's lines (with decoded packets); otherwise only its counters.
    pub trace: bool,
    /// Capture what crosses every link (for pcap files).
    pub capture: bool,
}

/// What a run did.
pub struct RunReport {
    /// The scenario file.
    pub file: String,
    /// The scenario's name.
    pub name: Option<String>,
    /// The seed used.
    pub seed: u64,
    /// Why it stopped.
    pub stop: Stop,
    /// The simulation, after the run (trace, capture, nodes).
    pub sim: Sim<EndpointNode>,
    /// Every host's sessions.
    pub sessions: BTreeMap<String, Vec<SessionRecord>>,
    /// Every workload flow, by name.
    pub flows: BTreeMap<String, FlowOutcome>,
    /// Expectations checked.
    pub checked: usize,
    /// Expectations not met.
    pub failures: Vec<Failure>,
    /// Setup problems (a node that could not be built); the run fails with them.
    pub setup_errors: Vec<String>,
    /// Identities and session keys.
    pub book: Rc<RefCell<KeyBook>>,
}

impl core::fmt::Debug for RunReport {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RunReport")
            .field("file", &self.file)
            .field("seed", &self.seed)
            .field("stop", &self.stop)
            .field("failures", &self.failures)
            .finish_non_exhaustive()
    }
}

/// Runs a loaded scenario.
pub fn run(loaded: &Loaded, options: &RunOptions) -> RunReport {
    let s = &loaded.scenario;
    let seed = options.seed.unwrap_or(s.seed);
    let plan = &loaded.plan;
    let book = Rc::new(RefCell::new(KeyBook::new(plan.profile)));
    let mut setup_errors = Vec::new();
    let mut nodes: BTreeMap<String, EndpointNode> = BTreeMap::new();
    let mut identities = BTreeMap::new();
    for def in s.topology.hosts() {
        let node = match plan.hosts.get(&def.name) {
            Some(setup) => EndpointNode::new(
                &def.name,
                def.address,
                setup,
                plan.profile,
                seed,
                book.clone(),
            ),
            None => Ok(EndpointNode::off(&def.name, def.address, book.clone())),
        };
        let node = node.unwrap_or_else(|e: SetupError| {
            setup_errors.push(e.to_string());
            EndpointNode::off(&def.name, def.address, book.clone())
        });
        if let Some(id) = node.identity() {
            book.borrow_mut()
                .add_identity(&def.name, id.canonical_epd.clone());
            identities.insert(def.name.clone(), id.clone());
        }
        nodes.insert(def.name.clone(), node);
    }
    let identities: Rc<BTreeMap<String, Identity>> = Rc::new(identities);
    let catalogue: Rc<FlowCatalogue> = Rc::new(
        plan.flows
            .values()
            .map(|f| ((f.host.clone(), f.metadata.clone()), f.clone()))
            .collect(),
    );
    for node in nodes.values_mut() {
        if let Err(e) = node.configure(identities.clone(), catalogue.clone()) {
            setup_errors.push(e.to_string());
        }
    }
    let mut sim = Sim::new(&s.topology, seed, |info| {
        nodes
            .remove(&info.name)
            .unwrap_or_else(|| EndpointNode::off(&info.name, info.address, book.clone()))
    });
    if options.trace {
        let reader = book.clone();
        sim.trace_mut()
            .set_summarizer(Box::new(move |d: &[u8]| reader.borrow().summarize(d)));
    } else {
        sim.set_trace(Trace::counting_only());
    }
    if options.capture {
        sim.enable_capture();
    }
    let mut limits = s.limits();
    if limits.until.is_none() {
        limits.until = Some(Instant::ZERO + DEFAULT_DURATION);
    }
    let stop = sim.run(limits);
    let mut sessions = BTreeMap::new();
    let mut flows: BTreeMap<String, FlowOutcome> = plan
        .flows
        .values()
        .map(|p| {
            (
                p.name.clone(),
                FlowOutcome {
                    plan: p.clone(),
                    sent: None,
                    received: None,
                    echo: None,
                },
            )
        })
        .collect();
    let ids: Vec<_> = sim.host_ids().collect();
    for id in ids {
        let Some(n) = sim.node_mut(id) else {
            continue;
        };
        n.finish();
        let records: Vec<SessionRecord> = n.sessions().cloned().collect();
        for sent in n.sent_flows() {
            if let Some(f) = flows.get_mut(&sent.name) {
                f.sent = Some(sent);
            }
        }
        for r in n.received_flows() {
            let (name, echo) = match (&r.flow_name, &r.echo_of) {
                (_, Some(e)) => (e.clone(), true),
                (Some(n), None) => (n.clone(), false),
                (None, None) => continue,
            };
            if let Some(f) = flows.get_mut(&name) {
                let slot = if echo { &mut f.echo } else { &mut f.received };
                slot.get_or_insert(r);
            }
        }
        if let Some(name) = sim.host_name(id) {
            sessions.insert(name.to_string(), records);
        }
    }
    let (checked, failures) = match &s.expect {
        Some(e) => e.evaluate(&RunFacts {
            sessions: &sessions,
            stats: sim.trace().stats(),
            flows: &flows,
        }),
        None => (0, Vec::new()),
    };
    RunReport {
        file: s.file.clone(),
        name: s.name.clone(),
        seed,
        stop,
        sim,
        sessions,
        flows,
        checked,
        failures,
        setup_errors,
        book,
    }
}

/// What became of one workload flow, at both ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowOutcome {
    /// The flow as planned.
    pub plan: FlowPlan,
    /// The sending end (`None` if its action never ran).
    pub sent: Option<SendRecord>,
    /// The receiving end (`None` if nothing arrived).
    pub received: Option<RecvRecord>,
    /// The echo that came back, if the far end echoes.
    pub echo: Option<RecvRecord>,
}

impl FlowOutcome {
    /// Whether every planned message arrived, in order, with the bytes sent.
    pub fn intact(&self) -> bool {
        match (&self.sent, &self.received) {
            (Some(s), Some(r)) => {
                s.queued == s.planned
                    && r.messages == s.queued
                    && r.bytes == s.bytes
                    && r.digest == s.digest
                    && r.out_of_sequence == 0
            }
            _ => false,
        }
    }

    /// Whether the echo brought every byte back, in order.
    pub fn echoed(&self) -> bool {
        match (&self.sent, &self.echo) {
            (Some(s), Some(e)) => {
                s.queued == s.planned && e.messages == s.queued && e.digest == s.digest
            }
            _ => false,
        }
    }
}

fn secs(t: Instant) -> String {
    let us = t.as_micros();
    format!("{}.{:06}s", us / 1_000_000, us % 1_000_000)
}

impl RunReport {
    /// Whether every expectation was met (and every node could be set up).
    pub fn passed(&self) -> bool {
        self.failures.is_empty() && self.setup_errors.is_empty()
    }

    /// Network counters.
    pub fn stats(&self) -> &Stats {
        self.sim.trace().stats()
    }

    /// The trace as text (empty unless the run kept lines).
    pub fn trace_text(&self) -> String {
        self.sim.trace().to_text()
    }

    /// The key-log file for the sessions of this run.
    pub fn key_log(&self) -> String {
        self.book.borrow().key_log()
    }

    /// The summary `rtmfp-sim run` prints: sessions, network counters, time, events, and the
    /// expectations. Deterministic (no wall-clock figures).
    pub fn summary(&self) -> String {
        let mut o = String::new();
        let _ = write!(o, "scenario {}", self.file);
        if let Some(n) = &self.name {
            let _ = write!(o, " ({n})");
        }
        let _ = writeln!(o, ", seed {}", self.seed);
        let stop = match self.stop {
            Stop::Idle => "nothing left to do",
            Stop::Deadline => "deadline",
            Stop::EventBudget => "event budget spent",
        };
        let _ = writeln!(
            o,
            "simulated {} ({stop}), {} events",
            secs(self.sim.now()),
            self.sim.events_run()
        );
        let st = self.stats();
        let _ = write!(
            o,
            "network: {} datagrams sent, {} delivered, {} dropped",
            st.sent,
            st.delivered,
            st.total_dropped()
        );
        if !st.dropped.is_empty() {
            let parts: Vec<String> = st.dropped.iter().map(|(r, n)| format!("{r} {n}")).collect();
            let _ = write!(o, " ({})", parts.join(", "));
        }
        if st.duplicated + st.reordered + st.corrupted + st.truncated > 0 {
            let _ = write!(
                o,
                "; {} duplicated, {} reordered, {} corrupted, {} truncated",
                st.duplicated, st.reordered, st.corrupted, st.truncated
            );
        }
        o.push('\n');
        if !self.flows.is_empty() {
            let bytes: u64 = self
                .flows
                .values()
                .filter_map(|f| f.received.as_ref())
                .map(|r| r.bytes)
                .sum();
            let _ = writeln!(
                o,
                "data: {bytes} bytes delivered on {} flow(s)",
                self.flows.len()
            );
        }
        let _ = writeln!(o, "sessions:");
        let width = self.sessions.keys().map(String::len).max().unwrap_or(0);
        let mut any = false;
        for (host, list) in &self.sessions {
            for r in list {
                any = true;
                let _ = write!(o, "  {host:<width$} {:<4} ", r.handle.to_string());
                match r.role {
                    rtmfp::session::Role::Initiator => {
                        let name = r.name.as_deref().unwrap_or("-");
                        let to = r.far.as_deref().or(r.intended.as_deref()).unwrap_or("?");
                        if name == format!("{host}->{to}") {
                            let _ = write!(o, "{name}:");
                        } else {
                            let _ = write!(o, "{name} -> {to}:");
                        }
                    }
                    rtmfp::session::Role::Responder => {
                        let from = r.far.as_deref().unwrap_or("?");
                        let _ = write!(o, "from {from}:");
                    }
                }
                if let Some(t) = r.opened {
                    let _ = write!(o, " opened {}", secs(t));
                }
                if let Some((t, f)) = r.failed {
                    let _ = write!(o, " failed {} ({})", secs(t), failure_name(f));
                }
                if let Some((t, why)) = r.closed {
                    let _ = write!(o, " closed {} ({})", secs(t), close_name(why));
                }
                if !r.address_changes.is_empty() {
                    let _ = write!(o, " moved x{}", r.address_changes.len());
                }
                let _ = writeln!(o, ", {} at the end", r.state);
            }
        }
        if !any {
            let _ = writeln!(o, "  none");
        }
        if !self.flows.is_empty() {
            let _ = writeln!(o, "flows:");
            let width = self.flows.keys().map(String::len).max().unwrap_or(0);
            for (name, f) in &self.flows {
                let to = match &f.plan.on {
                    crate::workload::SessionRef::Peer(p) => p.clone(),
                    crate::workload::SessionRef::Named(n) => self
                        .sessions
                        .get(&f.plan.host)
                        .and_then(|l| l.iter().find(|r| r.name.as_deref() == Some(n)))
                        .and_then(|r| r.far.clone())
                        .unwrap_or_else(|| "?".into()),
                };
                let _ = write!(o, "  {name:<width$} {} -> {to}:", f.plan.host);
                match &f.sent {
                    None => {
                        let _ = write!(o, " never opened");
                    }
                    Some(s) => {
                        let _ = write!(
                            o,
                            " sent {}/{} messages ({} bytes)",
                            s.queued, s.planned, s.bytes
                        );
                        if s.refused > 0 {
                            let _ = write!(o, ", {} refused", s.refused);
                        }
                        if s.abandoned > 0 {
                            let _ = write!(o, ", {} abandoned", s.abandoned);
                        }
                        if let Some(e) = &s.error {
                            let _ = write!(o, ", error: {e}");
                        }
                    }
                }
                match &f.received {
                    None => {
                        let _ = write!(o, "; nothing received");
                    }
                    Some(r) => {
                        let _ = write!(o, "; received {} ({} bytes)", r.messages, r.bytes);
                        if let (Some(a), Some(b)) = (r.first_at, r.last_at) {
                            let _ = write!(o, " {}..{}", secs(a), secs(b));
                        }
                        if r.late > 0 {
                            let _ = write!(o, ", {} late", r.late);
                        }
                        if f.intact() {
                            let _ = write!(o, ", intact");
                        }
                        if r.complete.is_some() {
                            let _ = write!(o, ", complete");
                        }
                        if matches!(f.plan.kind, crate::workload::FlowKind::Stream { .. }) {
                            let _ = write!(o, ", max latency {}ms", r.max_latency.as_millis());
                        }
                    }
                }
                if f.echo.is_some() {
                    let _ = write!(
                        o,
                        "; echo {}",
                        if f.echoed() { "intact" } else { "incomplete" }
                    );
                }
                o.push('\n');
            }
        }
        for e in &self.setup_errors {
            let _ = writeln!(o, "setup error: {e}");
        }
        if self.failures.is_empty() {
            let _ = writeln!(o, "expectations: {} checked, all met", self.checked);
        } else {
            let _ = writeln!(
                o,
                "expectations: {} checked, {} NOT MET:",
                self.checked,
                self.failures.len()
            );
            for f in &self.failures {
                let _ = writeln!(o, "  {}:{f}", self.file);
            }
        }
        o
    }
}

/// Runs `file` with `seed` and tells whether it passed (for tests and sweeps).
pub fn passes(loaded: &Loaded, seed: u64) -> bool {
    run(
        loaded,
        &RunOptions {
            seed: Some(seed),
            ..RunOptions::default()
        },
    )
    .passed()
}
