//! The RTMFP `workload:` section of a scenario: what runs on each host and what it does when.
//!
//! ```yaml
//! workload:
//!   profile: flash              # flash (RFC 7425, the default) or transparent (no secrecy)
//!   dh_group: 2                 # Diffie-Hellman group for every host: 2 (default), 5, 14 or 16
//!   hosts:
//!     server:
//!       hostname: server.example   # Flash certificate Hostname option (4.3.3.1)
//!       accepts_ancillary: true    # Flash certificate Accepts Ancillary Data option (4.3.3.2)
//!       introduction: true         # Redirector + Forwarder for connected endpoints (7016 3.5.1.6)
//!       redirects:                 # Redirector table (7016 3.5.1.4): EPD -> addresses
//!         - { epd: { hostname: lb.example }, to: [r1, 203.0.113.7:1935] }
//!     bob:
//!       fihello: rhello            # answering Forwarded IHellos: ignore | rhello | implied-redirect
//!       static_keys: true          # Flash static Diffie-Hellman keys (a Flash client)
//!       dh_group: 14               # this host's own group
//!       open_timeout: 30s          # endpoint timers (RFC defaults otherwise)
//!       keepalive: 5s              # idle time before a keepalive Ping
//!       dead_after: 60s            # unanswered time before the peer is declared dead
//!       actions:
//!         - connect: { at: 0s, to: server, name: bob-reg }
//!     alice:
//!       actions:
//!         - connect: { at: 2s, name: a2b, epd: { fingerprint: bob }, via: [server] }
//!         - close: { at: 20s, session: a2b, how: orderly }   # or abrupt
//!     dead:
//!       off: true                  # no endpoint: the host drops whatever reaches it
//!     media:
//!       echo: true                 # answer every incoming flow with a return flow echoing it
//!       actions:
//!         - bulk: { at: 1s, peer: alice, name: file, bytes: 1MB, message: 1KiB }
//!         - stream: { at: 1s, peer: alice, name: live, count: 300, size: 1200B,
//!                     interval: 20ms, lifetime: 500ms, deadline: 400ms }
//! ```
//!
//! Every host of the network runs an endpoint (a passive responder unless its plan says
//! more). `connect` opens a session (RFC 7016 3.5.1.1.1): `to` is a host (its starting address
//! is a candidate, and by default the EPD is its fingerprint) or a socket address; `via` adds
//! candidate addresses (hosts or addresses), for example a server that introduces the peer;
//! `epd` names the far end by `fingerprint` (of a host), `hostname`, `url` (Ancillary Data:
//! the Flash server URI), or `hex` (raw bytes). `name` labels the session for expectations
//! (default `HOST->TO`). `close` closes a session by `name`, or every session with `peer`.
//!
//! Flows (RFC 7016 3.6) are opened on a session named by `session` (a `connect` of this host)
//! or `peer` (the session this host holds with that host, whichever end opened it); if it is
//! not open yet at `at`, the flow waits for it. Each flow has a `name` (unique in the file)
//! and sends its name as metadata unless `metadata` is given. `bulk` sends `bytes` reliably in
//! messages of `message` bytes (default 1KiB), as fast as flow control allows, then closes the
//! flow; the receiver checks the bytes with SHA-256. `stream` sends `count` messages of `size`
//! bytes, one every `interval`, each abandoned after `lifetime` if given (live media); a
//! message arriving more than `deadline` (default: `lifetime`, else 1 s) after it was sent is
//! late. Every message starts with its index and send time (16 bytes), the rest is random.
//!
//! With the transparent profile a host's identity is its name: `fingerprint: bob` is the EPD
//! `bob`, and `hostname`/`url` are not available.
//!
//! Names are checked after parsing; an error names the file, the line and the field.

use core::time::Duration;
use std::collections::BTreeMap;
use std::net::SocketAddr;

use rtmfp::endpoint::{CloseKind, FIHelloPolicy};
use rtmfp::time::Instant;
use serde::Deserialize;
use serde_saphyr::{Location, Spanned};

use crate::scenario::{Scenario, ScenarioError};
use crate::units::{DurationValue, Size};

/// Which cryptography profile every endpoint uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProfileKind {
    /// RFC 7425: Diffie-Hellman, AES-128-CBC, HMAC-SHA256, certificates.
    #[default]
    Flash,
    /// Plain packets with a checksum; identities are host names (tests, readable captures).
    Transparent,
}

/// The `workload:` section.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    /// The profile every host uses.
    #[serde(default)]
    pub profile: ProfileKind,
    /// Default Diffie-Hellman group (RFC 7425 4.2 group ID): 2 unless given.
    pub dh_group: Option<Spanned<u64>>,
    /// Per host.
    #[serde(default)]
    pub hosts: BTreeMap<String, Spanned<HostPlan>>,
}

/// What one host runs and does.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostPlan {
    /// No endpoint at all: a dead host.
    #[serde(default)]
    pub off: bool,
    /// Flash certificate Hostname option.
    pub hostname: Option<String>,
    /// Flash certificate Accepts Ancillary Data option.
    #[serde(default)]
    pub accepts_ancillary: bool,
    /// Flash static Diffie-Hellman keys (else ephemeral).
    #[serde(default)]
    pub static_keys: bool,
    /// This host's Diffie-Hellman group.
    pub dh_group: Option<Spanned<u64>>,
    /// Answering Forwarded IHellos.
    pub fihello: Option<FIHelloSpec>,
    /// Introduction service (Redirector and Forwarder) for connected endpoints.
    #[serde(default)]
    pub introduction: bool,
    /// Redirector table entries.
    #[serde(default)]
    pub redirects: Vec<Spanned<RedirectSpec>>,
    /// Opening sessions fail after this (RFC 7016: 95 s).
    pub open_timeout: Option<DurationValue>,
    /// Idle time before a keepalive Ping (default 30 s).
    pub keepalive: Option<DurationValue>,
    /// Time without an answer before the peer is dead (default 90 s).
    pub dead_after: Option<DurationValue>,
    /// Answer every incoming flow with a return flow that echoes its messages.
    #[serde(default)]
    pub echo: bool,
    /// Timed actions.
    #[serde(default)]
    pub actions: Vec<Spanned<ActionSpec>>,
}

/// A Forwarded IHello policy, as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FIHelloSpec {
    /// Ignore them.
    Ignore,
    /// Answer with an RHello to the reply address.
    Rhello,
    /// Answer with an Implied Redirect.
    ImpliedRedirect,
}

impl FIHelloSpec {
    /// The endpoint's policy.
    pub fn policy(self) -> FIHelloPolicy {
        match self {
            FIHelloSpec::Ignore => FIHelloPolicy::Ignore,
            FIHelloSpec::Rhello => FIHelloPolicy::RHello,
            FIHelloSpec::ImpliedRedirect => FIHelloPolicy::ImpliedRedirect,
        }
    }
}

/// A Redirector table entry, as written.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedirectSpec {
    /// The EPD it answers.
    pub epd: Spanned<EpdSpec>,
    /// Where it redirects to: hosts or addresses.
    pub to: Vec<Spanned<String>>,
}

/// An Endpoint Discriminator, as written.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EpdSpec {
    /// The fingerprint of this host's certificate.
    pub fingerprint: Option<Spanned<String>>,
    /// Required Hostname.
    pub hostname: Option<String>,
    /// Ancillary Data (the Flash server URI).
    pub url: Option<String>,
    /// Raw bytes in hex.
    pub hex: Option<Spanned<String>>,
}

/// A timed action, as written.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum ActionSpec {
    /// Open a session.
    Connect {
        /// When.
        at: DurationValue,
        /// Label for expectations.
        name: Option<Spanned<String>>,
        /// Host or address.
        to: Option<Spanned<String>>,
        /// More candidate addresses: hosts or addresses.
        #[serde(default)]
        via: Vec<Spanned<String>>,
        /// The far end's EPD (default: `to`'s fingerprint).
        epd: Option<Box<Spanned<EpdSpec>>>,
    },
    /// Close sessions.
    Close {
        /// When.
        at: DurationValue,
        /// A session this host opened, by name.
        session: Option<Spanned<String>>,
        /// Every session with this host.
        peer: Option<Spanned<String>>,
        /// Orderly (default) or abrupt.
        #[serde(default)]
        how: CloseHow,
    },
    /// Send bytes reliably on a new flow.
    Bulk {
        /// When.
        at: DurationValue,
        /// The flow's name.
        name: Spanned<String>,
        /// A session this host opened, by name.
        session: Option<Spanned<String>>,
        /// The session with this host.
        peer: Option<Spanned<String>>,
        /// How many bytes.
        bytes: Spanned<Size>,
        /// Message size (default 1 KiB).
        message: Option<Spanned<Size>>,
        /// Metadata (default: the name).
        metadata: Option<Spanned<String>>,
    },
    /// Send timed messages on a new flow.
    Stream {
        /// When.
        at: DurationValue,
        /// The flow's name.
        name: Spanned<String>,
        /// A session this host opened, by name.
        session: Option<Spanned<String>>,
        /// The session with this host.
        peer: Option<Spanned<String>>,
        /// How many messages.
        count: u64,
        /// Their size.
        size: Spanned<Size>,
        /// Time between them.
        interval: DurationValue,
        /// Abandoned after this long (else reliable).
        lifetime: Option<DurationValue>,
        /// Later than this after sending is late (default: `lifetime`, else 1 s).
        deadline: Option<DurationValue>,
        /// Metadata (default: the name).
        metadata: Option<Spanned<String>>,
    },
}

/// How to close, as written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CloseHow {
    /// RFC 7016 3.5.5 orderly close.
    #[default]
    Orderly,
    /// Abrupt close.
    Abrupt,
}

impl CloseHow {
    /// The endpoint's close kind.
    pub fn kind(self) -> CloseKind {
        match self {
            CloseHow::Orderly => CloseKind::Orderly,
            CloseHow::Abrupt => CloseKind::Abrupt,
        }
    }
}

// ---------------------------------------------------------------------------------------
// The checked plan.

/// A host or an address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A host, by name, with its starting address.
    Host(String, SocketAddr),
    /// A socket address.
    Addr(SocketAddr),
}

impl Target {
    /// The address to send to.
    pub fn address(&self) -> SocketAddr {
        match self {
            Target::Host(_, a) | Target::Addr(a) => *a,
        }
    }
}

/// A checked Endpoint Discriminator, made into bytes once identities exist.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Epd {
    /// Fingerprint of this host.
    pub fingerprint: Option<String>,
    /// Required Hostname.
    pub hostname: Option<String>,
    /// Ancillary Data.
    pub url: Option<String>,
    /// Raw bytes.
    pub raw: Option<Vec<u8>>,
}

/// A checked action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Open a session.
    Connect {
        /// Its label.
        name: String,
        /// The far end's EPD.
        epd: Epd,
        /// Candidate addresses, in order.
        candidates: Vec<SocketAddr>,
        /// The host it is meant to reach, if known (for reports).
        peer: Option<String>,
    },
    /// Close a session by label.
    Close {
        /// The label.
        name: String,
        /// How.
        how: CloseKind,
    },
    /// Close every session with a host.
    ClosePeer {
        /// The host.
        peer: String,
        /// How.
        how: CloseKind,
    },
    /// Open a flow and send on it.
    Flow(FlowPlan),
}

/// Which session a flow goes on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionRef {
    /// A session this host opened, by its `connect` name.
    Named(String),
    /// The open session with this host.
    Peer(String),
}

/// What a flow sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowKind {
    /// `bytes` in messages of `message` bytes, reliably, as fast as allowed.
    Bulk {
        /// Total bytes.
        bytes: u64,
        /// Message size.
        message: usize,
    },
    /// `count` messages of `size` bytes, one every `interval`.
    Stream {
        /// Messages.
        count: u64,
        /// Size of each.
        size: usize,
        /// Time between them.
        interval: Duration,
        /// Abandon after this long.
        lifetime: Option<Duration>,
        /// Later than this is late.
        deadline: Duration,
    },
}

/// A checked flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowPlan {
    /// Its name.
    pub name: String,
    /// The sending host.
    pub host: String,
    /// The session it goes on.
    pub on: SessionRef,
    /// The metadata it opens with.
    pub metadata: Vec<u8>,
    /// What it sends.
    pub kind: FlowKind,
}

/// The bytes every message starts with: its index and its send time in microseconds.
pub const MESSAGE_HEADER: usize = 16;

/// The largest message a scenario may ask for.
pub const MAX_MESSAGE: u64 = 1 << 20;

/// A checked host plan.
#[derive(Clone, Debug, PartialEq)]
pub struct HostSetup {
    /// No endpoint.
    pub off: bool,
    /// Certificate Hostname.
    pub hostname: Option<String>,
    /// Accepts Ancillary Data.
    pub accepts_ancillary: bool,
    /// Static keys.
    pub static_keys: bool,
    /// DH group ID.
    pub dh_group: u64,
    /// FIHello policy.
    pub fihello: FIHelloPolicy,
    /// Introduction service.
    pub introduction: bool,
    /// Redirector table.
    pub redirects: Vec<(Epd, Vec<SocketAddr>)>,
    /// Open timeout.
    pub open_timeout: Option<Duration>,
    /// Keepalive idle time.
    pub keepalive: Option<Duration>,
    /// Dead-peer time.
    pub dead_after: Option<Duration>,
    /// Echo incoming flows.
    pub echo: bool,
    /// Actions in time order (stable for equal times).
    pub actions: Vec<(Instant, Action)>,
}

impl HostSetup {
    /// A host with no endpoint.
    pub fn off() -> HostSetup {
        HostSetup {
            off: true,
            hostname: None,
            accepts_ancillary: false,
            static_keys: false,
            dh_group: 2,
            fihello: FIHelloPolicy::Ignore,
            introduction: false,
            redirects: Vec::new(),
            open_timeout: None,
            keepalive: None,
            dead_after: None,
            echo: false,
            actions: Vec::new(),
        }
    }
}

/// The checked workload.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The profile.
    pub profile: ProfileKind,
    /// Every host of the network, by name.
    pub hosts: BTreeMap<String, HostSetup>,
    /// Every `connect` label, with the host that opens it.
    pub connections: BTreeMap<String, String>,
    /// Every flow, by name.
    pub flows: BTreeMap<String, FlowPlan>,
}

/// The Diffie-Hellman groups scenarios may ask for (RFC 7425 4.2).
pub const DH_GROUPS: [u64; 4] = [2, 5, 14, 16];

struct Checker<'a> {
    file: &'a str,
    text: &'a str,
    hosts: BTreeMap<String, SocketAddr>,
}

impl Checker<'_> {
    fn err(&self, at: &Location, field: &str, message: impl Into<String>) -> ScenarioError {
        ScenarioError::at(self.file, self.text, at, field, message)
    }

    fn host(&self, name: &Spanned<String>, field: &str) -> Result<String, ScenarioError> {
        if self.hosts.contains_key(&name.value) {
            Ok(name.value.clone())
        } else {
            Err(self.err(
                &name.referenced,
                field,
                format!(
                    "no host called `{}` (hosts: {})",
                    name.value,
                    self.hosts.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            ))
        }
    }

    fn target(&self, t: &Spanned<String>, field: &str) -> Result<Target, ScenarioError> {
        if let Ok(addr) = t.value.parse::<SocketAddr>() {
            return Ok(Target::Addr(addr));
        }
        match self.hosts.get(&t.value) {
            Some(a) => Ok(Target::Host(t.value.clone(), *a)),
            None => Err(self.err(
                &t.referenced,
                field,
                format!(
                    "`{}` is neither a host nor a socket address (e.g. 192.0.2.1:1935)",
                    t.value
                ),
            )),
        }
    }

    fn epd(
        &self,
        spec: &Spanned<EpdSpec>,
        profile: ProfileKind,
        field: &str,
    ) -> Result<Epd, ScenarioError> {
        let s = &spec.value;
        let mut epd = Epd::default();
        if let Some(fp) = &s.fingerprint {
            epd.fingerprint = Some(self.host(fp, &format!("{field}.fingerprint"))?);
        }
        if let Some(h) = &s.hex {
            let raw = parse_hex(&h.value)
                .map_err(|m| self.err(&h.referenced, &format!("{field}.hex"), m))?;
            epd.raw = Some(raw);
        }
        epd.hostname = s.hostname.clone();
        epd.url = s.url.clone();
        let given = [
            epd.fingerprint.is_some(),
            epd.hostname.is_some(),
            epd.url.is_some(),
            epd.raw.is_some(),
        ];
        if !given.contains(&true) {
            return Err(self.err(
                &spec.referenced,
                field,
                "give at least one of `fingerprint`, `hostname`, `url` or `hex`",
            ));
        }
        if epd.raw.is_some() && given.iter().filter(|g| **g).count() > 1 {
            return Err(self.err(
                &spec.referenced,
                field,
                "`hex` is the whole EPD: it cannot be combined with other keys",
            ));
        }
        if profile == ProfileKind::Transparent && (epd.hostname.is_some() || epd.url.is_some()) {
            return Err(self.err(
                &spec.referenced,
                field,
                "the transparent profile names endpoints only by `fingerprint` (the host name) or `hex`",
            ));
        }
        if profile == ProfileKind::Transparent && epd.fingerprint.is_some() && epd.raw.is_some() {
            return Err(self.err(&spec.referenced, field, "give `fingerprint` or `hex`"));
        }
        Ok(epd)
    }

    fn group(&self, g: &Spanned<u64>, field: &str) -> Result<u64, ScenarioError> {
        if DH_GROUPS.contains(&g.value) {
            Ok(g.value)
        } else {
            Err(self.err(
                &g.referenced,
                field,
                format!(
                    "{} is not a Diffie-Hellman group this profile supports (2, 5, 14 or 16)",
                    g.value
                ),
            ))
        }
    }
}

impl Checker<'_> {
    fn session_ref(
        &self,
        session: &Option<Spanned<String>>,
        peer: &Option<Spanned<String>>,
        host: &str,
        connections: &BTreeMap<String, String>,
        at: &Location,
        field: &str,
    ) -> Result<SessionRef, ScenarioError> {
        match (session, peer) {
            (Some(s), None) => {
                if connections.get(&s.value).map(String::as_str) != Some(host) {
                    return Err(self.err(
                        &s.referenced,
                        &format!("{field}.session"),
                        format!(
                            "`{}` is not a session {host} opened earlier in its actions (use `peer` for a session another host opened)",
                            s.value
                        ),
                    ));
                }
                Ok(SessionRef::Named(s.value.clone()))
            }
            (None, Some(p)) => {
                let p = self.host(p, &format!("{field}.peer"))?;
                Ok(SessionRef::Peer(p))
            }
            _ => Err(self.err(at, field, "give exactly one of `session` and `peer`")),
        }
    }

    fn message_size(&self, size: &Spanned<Size>, field: &str) -> Result<usize, ScenarioError> {
        let n = size.value.0;
        if !(MESSAGE_HEADER as u64..=MAX_MESSAGE).contains(&n) {
            return Err(self.err(
                &size.referenced,
                field,
                format!(
                    "a message is {MESSAGE_HEADER} bytes (its index and send time) to {MAX_MESSAGE} bytes"
                ),
            ));
        }
        usize::try_from(n).map_err(|_| self.err(&size.referenced, field, "too large"))
    }

    #[allow(clippy::too_many_arguments)]
    fn flow(
        &self,
        name: &Spanned<String>,
        host: &str,
        on: SessionRef,
        metadata: &Option<Spanned<String>>,
        kind: FlowKind,
        flows: &BTreeMap<String, FlowPlan>,
        field: &str,
    ) -> Result<FlowPlan, ScenarioError> {
        if flows.contains_key(&name.value) {
            return Err(self.err(
                &name.referenced,
                &format!("{field}.name"),
                format!("the flow name `{}` is already used", name.value),
            ));
        }
        let (meta, at) = match metadata {
            Some(m) => (m.value.as_bytes().to_vec(), m.referenced),
            None => (name.value.as_bytes().to_vec(), name.referenced),
        };
        if meta.len() > 512 {
            return Err(self.err(
                &at,
                &format!("{field}.metadata"),
                "metadata should be at most 512 bytes (RFC 7016 2.3.11.1.1)",
            ));
        }
        if let Some(other) = flows
            .values()
            .find(|f| f.host == host && f.metadata == meta)
        {
            return Err(self.err(
                &at,
                &format!("{field}.metadata"),
                format!(
                    "flow `{}` of {host} already uses this metadata; receivers tell flows apart by it",
                    other.name
                ),
            ));
        }
        Ok(FlowPlan {
            name: name.value.clone(),
            host: host.to_string(),
            on,
            metadata: meta,
            kind,
        })
    }
}

/// Parses hex that may contain spaces and colons.
pub fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = text
        .bytes()
        .filter(|b| !b.is_ascii_whitespace() && *b != b':')
        .collect();
    if !digits.len().is_multiple_of(2) {
        return Err(format!("`{text}`: hex needs two digits per byte"));
    }
    digits
        .chunks(2)
        .map(|pair| {
            let s = core::str::from_utf8(pair).unwrap_or("");
            u8::from_str_radix(s, 16).map_err(|_| format!("`{text}` is not hex"))
        })
        .collect()
}

impl Plan {
    /// Checks the workload of `scenario` (whose file text is `text`) against its network and
    /// resolves every name. A scenario without a workload runs passive endpoints only.
    pub fn check<E>(scenario: &Scenario<Workload, E>, text: &str) -> Result<Plan, ScenarioError> {
        let hosts: BTreeMap<String, SocketAddr> = scenario
            .topology
            .hosts()
            .iter()
            .map(|h| (h.name.clone(), h.address))
            .collect();
        let c = Checker {
            file: &scenario.file,
            text,
            hosts,
        };
        let empty = Workload::default();
        let w = scenario.workload.as_ref().unwrap_or(&empty);
        let default_group = match &w.dh_group {
            Some(g) => c.group(g, "workload.dh_group")?,
            None => 2,
        };
        for (name, plan) in &w.hosts {
            if !c.hosts.contains_key(name) {
                return Err(c.err(
                    &plan.referenced,
                    &format!("workload.hosts.{name}"),
                    format!("no host called `{name}` in `hosts:`"),
                ));
            }
        }
        let mut out = BTreeMap::new();
        let mut connections: BTreeMap<String, String> = BTreeMap::new();
        let mut flows: BTreeMap<String, FlowPlan> = BTreeMap::new();
        let default_plan = HostPlan::default();
        for name in c.hosts.keys() {
            let plan = w.hosts.get(name).map_or(&default_plan, |p| &p.value);
            let field = format!("workload.hosts.{name}");
            let dh_group = match &plan.dh_group {
                Some(g) => c.group(g, &format!("{field}.dh_group"))?,
                None => default_group,
            };
            if w.profile == ProfileKind::Transparent
                && (plan.hostname.is_some() || plan.accepts_ancillary || plan.static_keys)
                && let Some(p) = w.hosts.get(name)
            {
                return Err(c.err(
                    &p.referenced,
                    &field,
                    "`hostname`, `accepts_ancillary` and `static_keys` are Flash profile options",
                ));
            }
            let mut redirects = Vec::new();
            for (i, r) in plan.redirects.iter().enumerate() {
                let f = format!("{field}.redirects[{i}]");
                let epd = c.epd(&r.value.epd, w.profile, &format!("{f}.epd"))?;
                let mut to = Vec::new();
                for (j, t) in r.value.to.iter().enumerate() {
                    to.push(c.target(t, &format!("{f}.to[{j}]"))?.address());
                }
                if to.is_empty() {
                    return Err(c.err(&r.referenced, &format!("{f}.to"), "list at least one"));
                }
                redirects.push((epd, to));
            }
            let mut actions = Vec::new();
            for (i, a) in plan.actions.iter().enumerate() {
                let f = format!("{field}.actions[{i}]");
                let (at, action) = match &a.value {
                    ActionSpec::Connect {
                        at,
                        name: label,
                        to,
                        via,
                        epd,
                    } => {
                        let f = format!("{f}.connect");
                        let to = match to {
                            Some(t) => Some(c.target(t, &format!("{f}.to"))?),
                            None => None,
                        };
                        let mut candidates: Vec<SocketAddr> =
                            to.iter().map(Target::address).collect();
                        for (j, v) in via.iter().enumerate() {
                            candidates.push(c.target(v, &format!("{f}.via[{j}]"))?.address());
                        }
                        if candidates.is_empty() {
                            return Err(c.err(
                                &a.referenced,
                                &f,
                                "give `to` or `via`: a session needs a candidate address",
                            ));
                        }
                        let peer = match &to {
                            Some(Target::Host(h, _)) => Some(h.clone()),
                            _ => None,
                        };
                        let epd = match (epd, &peer) {
                            (Some(e), _) => c.epd(e, w.profile, &format!("{f}.epd"))?,
                            (None, Some(h)) => Epd {
                                fingerprint: Some(h.clone()),
                                ..Epd::default()
                            },
                            (None, None) => {
                                return Err(c.err(
                                    &a.referenced,
                                    &f,
                                    "give `epd`: `to` is not a host, so whom to ask for is unknown",
                                ));
                            }
                        };
                        let peer = peer.or_else(|| epd.fingerprint.clone());
                        let (label, at_label) = match label {
                            Some(l) => (l.value.clone(), l.referenced),
                            None => match &peer {
                                Some(p) => (format!("{name}->{p}"), a.referenced),
                                None => (format!("{name}#{i}"), a.referenced),
                            },
                        };
                        if let Some(other) = connections.get(&label) {
                            return Err(c.err(
                                &at_label,
                                &format!("{f}.name"),
                                format!(
                                    "the session name `{label}` is already used (by `{other}`); give each connect its own `name`"
                                ),
                            ));
                        }
                        connections.insert(label.clone(), name.clone());
                        (
                            at.0,
                            Action::Connect {
                                name: label,
                                epd,
                                candidates,
                                peer,
                            },
                        )
                    }
                    ActionSpec::Close {
                        at,
                        session,
                        peer,
                        how,
                    } => {
                        let f = format!("{f}.close");
                        match (session, peer) {
                            (Some(s), None) => {
                                if connections.get(&s.value) != Some(name) {
                                    return Err(c.err(
                                        &s.referenced,
                                        &format!("{f}.session"),
                                        format!(
                                            "`{}` is not a session {name} opened earlier in its actions",
                                            s.value
                                        ),
                                    ));
                                }
                                (
                                    at.0,
                                    Action::Close {
                                        name: s.value.clone(),
                                        how: how.kind(),
                                    },
                                )
                            }
                            (None, Some(p)) => (
                                at.0,
                                Action::ClosePeer {
                                    peer: c.host(p, &format!("{f}.peer"))?,
                                    how: how.kind(),
                                },
                            ),
                            _ => {
                                return Err(c.err(
                                    &a.referenced,
                                    &f,
                                    "give exactly one of `session` and `peer`",
                                ));
                            }
                        }
                    }
                    ActionSpec::Bulk {
                        at,
                        name: flow,
                        session,
                        peer,
                        bytes,
                        message,
                        metadata,
                    } => {
                        let f = format!("{f}.bulk");
                        let on =
                            c.session_ref(session, peer, name, &connections, &a.referenced, &f)?;
                        let message_len = match message {
                            Some(m) => c.message_size(m, &format!("{f}.message"))?,
                            None => 1024,
                        };
                        if bytes.value.0 == 0 {
                            return Err(c.err(
                                &bytes.referenced,
                                &format!("{f}.bytes"),
                                "send at least one byte",
                            ));
                        }
                        let kind = FlowKind::Bulk {
                            bytes: bytes.value.0,
                            message: message_len,
                        };
                        let plan = c.flow(flow, name, on, metadata, kind, &flows, &f)?;
                        flows.insert(plan.name.clone(), plan.clone());
                        (at.0, Action::Flow(plan))
                    }
                    ActionSpec::Stream {
                        at,
                        name: flow,
                        session,
                        peer,
                        count,
                        size,
                        interval,
                        lifetime,
                        deadline,
                        metadata,
                    } => {
                        let f = format!("{f}.stream");
                        let on =
                            c.session_ref(session, peer, name, &connections, &a.referenced, &f)?;
                        let size = c.message_size(size, &format!("{f}.size"))?;
                        if *count == 0 {
                            return Err(c.err(
                                &a.referenced,
                                &format!("{f}.count"),
                                "send at least one message",
                            ));
                        }
                        let kind = FlowKind::Stream {
                            count: *count,
                            size,
                            interval: interval.0,
                            lifetime: lifetime.map(|l| l.0),
                            deadline: deadline
                                .or(*lifetime)
                                .map_or(Duration::from_secs(1), |d| d.0),
                        };
                        let plan = c.flow(flow, name, on, metadata, kind, &flows, &f)?;
                        flows.insert(plan.name.clone(), plan.clone());
                        (at.0, Action::Flow(plan))
                    }
                };
                actions.push((Instant::ZERO + at, action));
            }
            actions.sort_by_key(|(at, _)| *at);
            out.insert(
                name.clone(),
                HostSetup {
                    off: plan.off,
                    hostname: plan.hostname.clone(),
                    accepts_ancillary: plan.accepts_ancillary,
                    static_keys: plan.static_keys,
                    dh_group,
                    fihello: plan
                        .fihello
                        .map_or(FIHelloPolicy::Ignore, FIHelloSpec::policy),
                    introduction: plan.introduction,
                    redirects,
                    open_timeout: plan.open_timeout.map(|d| d.0),
                    keepalive: plan.keepalive.map(|d| d.0),
                    dead_after: plan.dead_after.map(|d| d.0),
                    echo: plan.echo,
                    actions,
                },
            );
        }
        Ok(Plan {
            profile: w.profile,
            hosts: out,
            connections,
            flows,
        })
    }
}
