//! The RTMFP `expect:` section of a scenario: what must be true at the end of a run.
//!
//! ```yaml
//! expect:
//!   sessions:                       # by the name of the `connect` that opened them
//!     a2b:
//!       result: opened              # or timeout | cancelled | duplicate | glare-lost, or a list
//!       by: 2s                      # ... no later than this simulated time
//!       why: free text              # the reason for the prediction (shown when it fails)
//!       state: S_OPEN               # the initiator's final state (RFC 7016 names)
//!       far_state: S_OPEN           # the responder's final state (its end of the same session)
//!       survives: true              # opened once, never closed, S_OPEN at both ends at the end
//!       address_changes: 0          # far-address changes the initiator verified (3.5.4.2)
//!       far_address_changes: ">=1"  # ... the responder verified (the initiator moved)
//!       closed: local-orderly       # why the initiator's end left S_OPEN
//!       far_closed: far-close       # why the responder's end left S_OPEN
//!   hosts:
//!     bob: { incoming: 1, opened: 0, open: 1 }   # sessions accepted / opened / S_OPEN at the end
//!   connected:                      # exactly one S_OPEN session between them at each end
//!     - [alice, bob]
//!   drops:                          # network drops (reasons as in the trace)
//!     - { reason: nat-filtered, at: nat home, from: alice, count: ">=1" }
//!   delivered:                      # datagrams delivered from one host to another
//!     - { from: alice, to: bob, count: 0 }
//!   flows:                          # by the name of the `bulk` or `stream` that sent them
//!     file:
//!       intact: true                # every byte arrived, in order (SHA-256 of both ends match)
//!       by: 30s                     # ... the last of them no later than this
//!       complete: true              # the receiver saw the flow finish (3.6.3.3)
//!       echoed: true                # the far end's echo came back intact too
//!     live:
//!       delivered: ">=280"          # messages received
//!       late: "<=5"                 # received later than the stream's deadline
//!       abandoned: "<=20"           # messages the sender gave up (lifetime, 3.6.2.7)
//!       lost: "<=20"                # messages the receiver never got
//!       max_gap: 11s                # longest silence between two deliveries (recovery)
//! ```
//!
//! Counts are `3`, `>=1`, `>2`, `<=5`, `<5` or `2..8`. Close reasons: `local-orderly`,
//! `local-abrupt`, `far-close`, `far-abrupt`, `overridden`, `peer-dead`.

use core::fmt;
use std::collections::BTreeMap;

use rtmfp::session::{Role, SessionState};
use rtmfp::time::Instant;
use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use crate::endpoint_node::{SessionRecord, close_name, failure_name};
use crate::scenario::{Scenario, ScenarioError};
use crate::trace::{DropReason, Stats};
use crate::units::{Count, DurationValue};
use crate::workload::{Plan, Workload};

/// The `expect:` section.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Per session, by `connect` name.
    #[serde(default)]
    pub sessions: BTreeMap<String, Spanned<SessionExpect>>,
    /// Per host.
    #[serde(default)]
    pub hosts: BTreeMap<String, Spanned<HostExpect>>,
    /// Host pairs with exactly one open session between them.
    #[serde(default)]
    pub connected: Vec<Spanned<Vec<Spanned<String>>>>,
    /// Network drops.
    #[serde(default)]
    pub drops: Vec<Spanned<DropExpect>>,
    /// Datagrams delivered between hosts.
    #[serde(default)]
    pub delivered: Vec<Spanned<DeliveredExpect>>,
    /// Per flow, by name.
    #[serde(default)]
    pub flows: BTreeMap<String, Spanned<FlowExpect>>,
}

/// Expectations on one flow.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowExpect {
    /// Every byte arrived, in order.
    #[serde(default)]
    pub intact: bool,
    /// The last byte arrived by then.
    pub by: Option<DurationValue>,
    /// The receiver saw the flow complete.
    #[serde(default)]
    pub complete: bool,
    /// The echo came back intact.
    #[serde(default)]
    pub echoed: bool,
    /// Messages received.
    pub delivered: Option<Count>,
    /// Messages received late.
    pub late: Option<Count>,
    /// Messages the sender abandoned.
    pub abandoned: Option<Count>,
    /// Messages never received.
    pub lost: Option<Count>,
    /// Longest time between two consecutive deliveries.
    pub max_gap: Option<DurationValue>,
}

/// How a `connect` ended up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It reached S_OPEN.
    Opened,
    /// It failed for this reason.
    Failed(&'static str),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Opened => f.write_str("opened"),
            Outcome::Failed(why) => f.write_str(why),
        }
    }
}

const OUTCOMES: [&str; 5] = ["opened", "timeout", "cancelled", "duplicate", "glare-lost"];

fn outcome(s: &str) -> Result<Outcome, String> {
    match s {
        "opened" => Ok(Outcome::Opened),
        "timeout" => Ok(Outcome::Failed("timeout")),
        "cancelled" => Ok(Outcome::Failed("cancelled")),
        "duplicate" => Ok(Outcome::Failed("duplicate")),
        "glare-lost" => Ok(Outcome::Failed("glare-lost")),
        other => Err(format!(
            "`{other}` is not a session result (expected one of {})",
            OUTCOMES.join(", ")
        )),
    }
}

/// One result or a list of acceptable ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcomes(pub Vec<Outcome>);

impl<'de> Deserialize<'de> for Outcomes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Outcomes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a session result or a list of them")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Outcomes, E> {
                outcome(v).map(|o| Outcomes(vec![o])).map_err(E::custom)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Outcomes, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    out.push(outcome(&s).map_err(de::Error::custom)?);
                }
                if out.is_empty() {
                    return Err(de::Error::custom("the list of results is empty"));
                }
                Ok(Outcomes(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// An RFC 7016 session state name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateName(pub SessionState);

impl<'de> Deserialize<'de> for StateName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        SessionState::ALL
            .iter()
            .find(|st| st.name() == s)
            .map(|st| StateName(*st))
            .ok_or_else(|| {
                let names: Vec<&str> = SessionState::ALL.iter().map(|s| s.name()).collect();
                de::Error::custom(format!(
                    "`{s}` is not a session state (expected one of {})",
                    names.join(", ")
                ))
            })
    }
}

/// A close reason, as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CloseName {
    /// This end closed in order.
    LocalOrderly,
    /// This end closed abruptly.
    LocalAbrupt,
    /// The far end closed in order.
    FarClose,
    /// The far end closed abruptly.
    FarAbrupt,
    /// A new session from the same identity replaced it.
    Overridden,
    /// Keepalives went unanswered.
    PeerDead,
}

impl CloseName {
    fn as_str(self) -> &'static str {
        match self {
            CloseName::LocalOrderly => "local-orderly",
            CloseName::LocalAbrupt => "local-abrupt",
            CloseName::FarClose => "far-close",
            CloseName::FarAbrupt => "far-abrupt",
            CloseName::Overridden => "overridden",
            CloseName::PeerDead => "peer-dead",
        }
    }
}

/// A network drop reason, as written (the trace's names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DropName(pub DropReason);

impl<'de> Deserialize<'de> for DropName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        DropReason::ALL
            .iter()
            .find(|r| r.as_str() == s)
            .map(|r| DropName(*r))
            .ok_or_else(|| {
                let names: Vec<&str> = DropReason::ALL.iter().map(|r| r.as_str()).collect();
                de::Error::custom(format!(
                    "`{s}` is not a drop reason (expected one of {})",
                    names.join(", ")
                ))
            })
    }
}

/// Expectations on one `connect`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionExpect {
    /// Acceptable results.
    pub result: Option<Outcomes>,
    /// Deadline for the result.
    pub by: Option<DurationValue>,
    /// Why this is expected.
    pub why: Option<String>,
    /// Initiator's final state.
    pub state: Option<StateName>,
    /// Responder's final state.
    pub far_state: Option<StateName>,
    /// Opened, never closed, S_OPEN at both ends.
    #[serde(default)]
    pub survives: bool,
    /// Far-address changes seen by the initiator.
    pub address_changes: Option<Count>,
    /// Far-address changes seen by the responder.
    pub far_address_changes: Option<Count>,
    /// Why the initiator's end left S_OPEN.
    pub closed: Option<CloseName>,
    /// Why the responder's end left S_OPEN.
    pub far_closed: Option<CloseName>,
}

/// Expectations on one host.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostExpect {
    /// Sessions it accepted as responder.
    pub incoming: Option<Count>,
    /// Sessions it initiated that opened.
    pub opened: Option<Count>,
    /// Sessions in S_OPEN at the end.
    pub open: Option<Count>,
}

/// Expected network drops.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DropExpect {
    /// The reason.
    pub reason: DropName,
    /// Where (`nat home`, `alice@internet/up`, ...), any place if not given.
    pub at: Option<String>,
    /// Sent by this host, any if not given.
    pub from: Option<Spanned<String>>,
    /// How many.
    pub count: Count,
}

/// Expected deliveries between two hosts.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveredExpect {
    /// Sender.
    pub from: Spanned<String>,
    /// Receiver.
    pub to: Spanned<String>,
    /// How many datagrams.
    pub count: Count,
}

impl Expect {
    /// Checks that every name refers to a session or host of the scenario.
    pub fn check_names(
        scenario: &Scenario<Workload, Expect>,
        plan: &Plan,
        text: &str,
    ) -> Result<(), ScenarioError> {
        let Some(e) = &scenario.expect else {
            return Ok(());
        };
        let err = |at: &serde_saphyr::Location, field: &str, msg: String| {
            ScenarioError::at(&scenario.file, text, at, field, msg)
        };
        let host = |name: &Spanned<String>, field: &str| {
            if plan.hosts.contains_key(&name.value) {
                Ok(())
            } else {
                Err(err(
                    &name.referenced,
                    field,
                    format!("no host called `{}`", name.value),
                ))
            }
        };
        for (name, s) in &e.sessions {
            if !plan.connections.contains_key(name) {
                let known: Vec<&str> = plan.connections.keys().map(String::as_str).collect();
                return Err(err(
                    &s.referenced,
                    &format!("expect.sessions.{name}"),
                    format!(
                        "no `connect` is named `{name}` (sessions: {})",
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                ));
            }
        }
        for (name, f) in &e.flows {
            if !plan.flows.contains_key(name) {
                let known: Vec<&str> = plan.flows.keys().map(String::as_str).collect();
                return Err(err(
                    &f.referenced,
                    &format!("expect.flows.{name}"),
                    format!(
                        "no `bulk` or `stream` is named `{name}` (flows: {})",
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                ));
            }
        }
        for (name, h) in &e.hosts {
            if !plan.hosts.contains_key(name) {
                return Err(err(
                    &h.referenced,
                    &format!("expect.hosts.{name}"),
                    format!("no host called `{name}`"),
                ));
            }
        }
        for (i, pair) in e.connected.iter().enumerate() {
            let field = format!("expect.connected[{i}]");
            if pair.value.len() != 2 {
                return Err(err(
                    &pair.referenced,
                    &field,
                    "give two hosts, like [alice, bob]".into(),
                ));
            }
            for (j, h) in pair.value.iter().enumerate() {
                host(h, &format!("{field}[{j}]"))?;
            }
        }
        for (i, d) in e.drops.iter().enumerate() {
            if let Some(f) = &d.value.from {
                host(f, &format!("expect.drops[{i}].from"))?;
            }
        }
        for (i, d) in e.delivered.iter().enumerate() {
            host(&d.value.from, &format!("expect.delivered[{i}].from"))?;
            host(&d.value.to, &format!("expect.delivered[{i}].to"))?;
        }
        Ok(())
    }
}

/// What a run produced, as the expectations see it.
pub struct RunFacts<'a> {
    /// Every host's sessions.
    pub sessions: &'a BTreeMap<String, Vec<SessionRecord>>,
    /// Network counters.
    pub stats: &'a Stats,
    /// Every workload flow.
    pub flows: &'a BTreeMap<String, crate::run::FlowOutcome>,
}

impl RunFacts<'_> {
    /// The initiator record of the `connect` called `name`.
    pub fn connection(&self, name: &str) -> Option<(&str, &SessionRecord)> {
        self.sessions.iter().find_map(|(host, list)| {
            list.iter()
                .find(|r| r.name.as_deref() == Some(name))
                .map(|r| (host.as_str(), r))
        })
    }

    /// The other end of the session `r` (held by host `r.far`).
    pub fn far_end(&self, r: &SessionRecord) -> Option<&SessionRecord> {
        if r.opened.is_none() || r.send_id == 0 {
            return None;
        }
        let far = r.far.as_ref()?;
        self.sessions
            .get(far)?
            .iter()
            .find(|o| o.receive_id == r.send_id && o.send_id == r.receive_id && o.role != r.role)
    }
}

/// One unmet expectation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The line of the expectation in the scenario file.
    pub line: u64,
    /// What was expected of what.
    pub what: String,
    /// What happened instead.
    pub found: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}: {}", self.line, self.what, self.found)
    }
}

fn at_text(t: Instant) -> String {
    let us = t.as_micros();
    format!("{}.{:06}s", us / 1_000_000, us % 1_000_000)
}

struct Checks {
    checked: usize,
    failures: Vec<Failure>,
}

impl Checks {
    fn check(&mut self, ok: bool, line: u64, what: impl Into<String>, found: impl Into<String>) {
        self.checked += 1;
        if !ok {
            self.failures.push(Failure {
                line,
                what: what.into(),
                found: found.into(),
            });
        }
    }
}

fn state_text(r: Option<&SessionRecord>) -> String {
    r.map_or_else(|| "no far end".to_string(), |r| r.state.to_string())
}

impl Expect {
    /// Checks every expectation against a run; returns how many were checked and those unmet.
    pub fn evaluate(&self, facts: &RunFacts<'_>) -> (usize, Vec<Failure>) {
        let mut c = Checks {
            checked: 0,
            failures: Vec::new(),
        };
        for (name, spec) in &self.sessions {
            let line = spec.referenced.line();
            let e = &spec.value;
            let Some((_, r)) = facts.connection(name) else {
                c.check(false, line, format!("session {name}"), "never started");
                continue;
            };
            let far = facts.far_end(r);
            let what = |field: &str| format!("session {name} {field}");
            let got = match (r.opened, r.failed) {
                (Some(t), _) => Some((Outcome::Opened, t)),
                (None, Some((t, f))) => Some((Outcome::Failed(failure_name(f)), t)),
                (None, None) => None,
            };
            if let Some(want) = &e.result {
                let wanted: Vec<String> = want.0.iter().map(ToString::to_string).collect();
                let why = e.why.as_ref().map_or(String::new(), |w| format!(" ({w})"));
                match got {
                    Some((o, t)) => c.check(
                        want.0.contains(&o),
                        line,
                        what(&format!("result {}{why}", wanted.join(" or "))),
                        format!("{o} at {}", at_text(t)),
                    ),
                    None => c.check(
                        false,
                        line,
                        what(&format!("result {}{why}", wanted.join(" or "))),
                        format!("still {} at the end", r.state),
                    ),
                }
            }
            if let Some(by) = e.by {
                let deadline = Instant::ZERO + by.0;
                let found = match got {
                    Some((o, t)) => format!("{o} at {}", at_text(t)),
                    None => format!("no result (still {})", r.state),
                };
                c.check(
                    got.is_some_and(|(_, t)| t <= deadline),
                    line,
                    what(&format!("result by {}", at_text(deadline))),
                    found,
                );
            }
            if let Some(s) = e.state {
                c.check(
                    r.state == s.0,
                    line,
                    what(&format!("state {}", s.0)),
                    r.state.to_string(),
                );
            }
            if let Some(s) = e.far_state {
                c.check(
                    far.is_some_and(|f| f.state == s.0),
                    line,
                    what(&format!("far state {}", s.0)),
                    state_text(far),
                );
            }
            if e.survives {
                let near_ok =
                    r.opened.is_some() && r.closed.is_none() && r.state == SessionState::S_OPEN;
                let far_ok =
                    far.is_some_and(|f| f.closed.is_none() && f.state == SessionState::S_OPEN);
                let found = format!(
                    "this end {}{}, far end {}{}",
                    r.state,
                    r.closed.map_or(String::new(), |(t, why)| format!(
                        " (closed {} at {})",
                        close_name(why),
                        at_text(t)
                    )),
                    state_text(far),
                    far.and_then(|f| f.closed)
                        .map_or(String::new(), |(t, why)| format!(
                            " (closed {} at {})",
                            close_name(why),
                            at_text(t)
                        )),
                );
                c.check(near_ok && far_ok, line, what("survives"), found);
            }
            if let Some(n) = e.address_changes {
                let k = r.address_changes.len() as u64;
                c.check(
                    n.admits(k),
                    line,
                    what(&format!("address changes seen by the initiator {n}")),
                    k.to_string(),
                );
            }
            if let Some(n) = e.far_address_changes {
                let k = far.map_or(0, |f| f.address_changes.len() as u64);
                c.check(
                    far.is_some() && n.admits(k),
                    line,
                    what(&format!("address changes seen by the responder {n}")),
                    if far.is_some() {
                        k.to_string()
                    } else {
                        "no far end".into()
                    },
                );
            }
            if let Some(want) = e.closed {
                let found = r.closed.map_or("not closed", |(_, why)| close_name(why));
                c.check(
                    found == want.as_str(),
                    line,
                    what(&format!("closed {}", want.as_str())),
                    found,
                );
            }
            if let Some(want) = e.far_closed {
                let found = match far {
                    None => "no far end",
                    Some(f) => f.closed.map_or("not closed", |(_, why)| close_name(why)),
                };
                c.check(
                    found == want.as_str(),
                    line,
                    what(&format!("far end closed {}", want.as_str())),
                    found,
                );
            }
        }
        for (host, spec) in &self.hosts {
            let line = spec.referenced.line();
            let list: &[SessionRecord] = facts.sessions.get(host).map_or(&[], Vec::as_slice);
            let count =
                |f: &dyn Fn(&SessionRecord) -> bool| list.iter().filter(|r| f(r)).count() as u64;
            if let Some(n) = spec.value.incoming {
                let k = count(&|r| r.role == Role::Responder && r.opened.is_some());
                c.check(
                    n.admits(k),
                    line,
                    format!("host {host} incoming sessions {n}"),
                    k.to_string(),
                );
            }
            if let Some(n) = spec.value.opened {
                let k = count(&|r| r.role == Role::Initiator && r.opened.is_some());
                c.check(
                    n.admits(k),
                    line,
                    format!("host {host} opened sessions {n}"),
                    k.to_string(),
                );
            }
            if let Some(n) = spec.value.open {
                let k = count(&|r| r.state == SessionState::S_OPEN);
                c.check(
                    n.admits(k),
                    line,
                    format!("host {host} open sessions at the end {n}"),
                    k.to_string(),
                );
            }
        }
        for pair in &self.connected {
            let line = pair.referenced.line();
            let [a, b] = pair.value.as_slice() else {
                continue;
            };
            let (a, b) = (&a.value, &b.value);
            let open_with = |h: &str, other: &str| {
                facts.sessions.get(h).map_or(0, |list| {
                    list.iter()
                        .filter(|r| {
                            r.state == SessionState::S_OPEN && r.far.as_deref() == Some(other)
                        })
                        .count()
                })
            };
            let (x, y) = (open_with(a, b), open_with(b, a));
            c.check(
                x == 1 && y == 1,
                line,
                format!("exactly one open session between {a} and {b} at each end"),
                format!("{a} has {x}, {b} has {y}"),
            );
        }
        for d in &self.drops {
            let line = d.referenced.line();
            let e = &d.value;
            let k: u64 = facts
                .stats
                .dropped_at
                .iter()
                .filter(|((reason, place, origin), _)| {
                    *reason == e.reason.0
                        && e.at.as_ref().is_none_or(|a| **a == **place)
                        && e.from.as_ref().is_none_or(|f| *f.value == **origin)
                })
                .map(|(_, n)| *n)
                .sum();
            let mut what = format!("{} drops", e.reason.0);
            if let Some(a) = &e.at {
                what.push_str(&format!(" at {a}"));
            }
            if let Some(f) = &e.from {
                what.push_str(&format!(" of {}'s datagrams", f.value));
            }
            c.check(
                e.count.admits(k),
                line,
                format!("{what} {}", e.count),
                k.to_string(),
            );
        }
        for d in &self.delivered {
            let line = d.referenced.line();
            let e = &d.value;
            let k = facts
                .stats
                .delivered_between
                .iter()
                .find(|((from, to), _)| **from == *e.from.value && **to == *e.to.value)
                .map_or(0, |(_, n)| *n);
            c.check(
                e.count.admits(k),
                line,
                format!(
                    "datagrams from {} delivered to {} {}",
                    e.from.value, e.to.value, e.count
                ),
                k.to_string(),
            );
        }
        for (name, spec) in &self.flows {
            let line = spec.referenced.line();
            let e = &spec.value;
            let Some(f) = facts.flows.get(name) else {
                c.check(false, line, format!("flow {name}"), "not in the workload");
                continue;
            };
            let what = |field: &str| format!("flow {name} {field}");
            let received = f.received.as_ref();
            let got = |k: u64| k.to_string();
            let summary = match (&f.sent, received) {
                (None, _) => "never opened".to_string(),
                (Some(s), None) => format!(
                    "{} of {} messages queued, nothing received",
                    s.queued, s.planned
                ),
                (Some(s), Some(r)) => format!(
                    "{} of {} messages queued ({} bytes), {} received ({} bytes){}",
                    s.queued,
                    s.planned,
                    s.bytes,
                    r.messages,
                    r.bytes,
                    if r.digest == s.digest {
                        ""
                    } else {
                        ", SHA-256 differs"
                    }
                ),
            };
            if e.intact {
                c.check(f.intact(), line, what("intact"), summary.clone());
            }
            if let Some(by) = e.by {
                let deadline = Instant::ZERO + by.0;
                let found = match received.and_then(|r| r.last_at) {
                    Some(t) if f.intact() => format!("the last message at {}", at_text(t)),
                    Some(t) => format!("not intact ({summary}); last message at {}", at_text(t)),
                    None => "nothing received".into(),
                };
                c.check(
                    f.intact()
                        && received
                            .and_then(|r| r.last_at)
                            .is_some_and(|t| t <= deadline),
                    line,
                    what(&format!("delivered by {}", at_text(deadline))),
                    found,
                );
            }
            if e.complete {
                c.check(
                    received.is_some_and(|r| r.complete.is_some()),
                    line,
                    what("complete"),
                    received.map_or("nothing received".to_string(), |r| {
                        format!("not complete after {} messages", r.messages)
                    }),
                );
            }
            if e.echoed {
                let found = match &f.echo {
                    None => "no echo".to_string(),
                    Some(r) => format!("{} messages echoed", r.messages),
                };
                c.check(f.echoed(), line, what("echoed"), found);
            }
            if let Some(n) = e.delivered {
                let k = received.map_or(0, |r| r.messages);
                c.check(
                    n.admits(k),
                    line,
                    what(&format!("messages delivered {n}")),
                    got(k),
                );
            }
            if let Some(n) = e.late {
                let k = received.map_or(0, |r| r.late);
                c.check(
                    n.admits(k),
                    line,
                    what(&format!("late messages {n}")),
                    got(k),
                );
            }
            if let Some(n) = e.abandoned {
                let k = f.sent.as_ref().map_or(0, |s| s.abandoned);
                c.check(
                    n.admits(k),
                    line,
                    what(&format!("abandoned messages {n}")),
                    got(k),
                );
            }
            if let Some(n) = e.lost {
                let sent = f.sent.as_ref().map_or(0, |s| s.queued);
                let k = sent.saturating_sub(received.map_or(0, |r| r.messages));
                c.check(
                    n.admits(k),
                    line,
                    what(&format!("lost messages {n}")),
                    got(k),
                );
            }
            if let Some(g) = e.max_gap {
                let k = received.map(|r| r.max_gap);
                c.check(
                    k.is_some_and(|k| k <= g.0),
                    line,
                    what(&format!(
                        "longest gap between deliveries <= {}ms",
                        g.0.as_millis()
                    )),
                    k.map_or("nothing received".into(), |k| {
                        format!("{}ms", k.as_millis())
                    }),
                );
            }
        }
        (c.checked, c.failures)
    }
}
