//! Scenario files: a network, timed network events, and opaque `workload:` and `expect:`
//! sections, in YAML.
//!
//! ```yaml
//! name: alice behind a NAT calls bob    # optional
//! description: free text                # optional
//! seed: 7                               # default seed (a command line may override it)
//! duration: 30s                         # simulated deadline of a run
//! max_events: 1000000                   # event budget of a run (optional)
//! networks:                             # private networks, each behind one NAT
//!   home:
//!     parent: internet                  # the network the NAT's outside is on (default)
//!     nat:
//!       type: port-restricted-cone      # full-cone | restricted-cone | port-restricted-cone | symmetric
//!       mapping: endpoint-independent   # or address-dependent | address-and-port-dependent
//!       filtering: address-dependent    # overrides what `type` implies
//!       address: 198.51.100.1           # outside IP on the parent network
//!       hairpinning: false
//!       mapping_timeout: 120s
//!       inbound_refresh: false          # does inbound traffic keep a mapping alive?
//!       port_allocation: sequential     # preserve | sequential | random
//!       ports: 49152-65535
//!     link: { latency: 5ms }            # the NAT's link to its parent network
//! hosts:
//!   alice:
//!     network: home                     # default internet
//!     address: 192.168.1.10:1935
//!     link:                             # faults in both directions, then per direction
//!       latency: 20ms
//!       jitter: 5ms
//!       loss: 0.01
//!       up: { rate: 1Mbit/s, queue: 32KiB }
//!       down: { burst_loss: { p_good_to_bad: 0.01, p_bad_to_good: 0.3 } }
//!   bob:
//!     address: 203.0.113.9:1935
//! events:
//!   - outage: { at: 5s, link: alice, for: 2s, direction: both }
//!   - partition: { at: 10s, for: 3s, sides: [[home], [bob]] }
//!   - rebind: { at: 12s, nat: home, host: alice }
//!   - flush: { at: 13s, nat: home }
//!   - faults: { at: 14s, link: bob, direction: down, set: { loss: 0.2 } }
//!   - move: { at: 15s, host: alice, network: internet, address: 203.0.113.50:1935,
//!             offline: 1s, link: { latency: 10ms } }
//! workload: ...                         # kept as data for the caller
//! expect: ...                           # kept as data for the caller
//! ```
//!
//! A link's fault keys are `latency`, `jitter` (durations), `loss`, `duplicate`, `corrupt`,
//! `truncate` (probabilities from 0 to 1), `burst_loss` (`p_good_to_bad`, `p_bad_to_good`,
//! `loss_in_good` default 0, `loss_in_bad` default 1), `reorder` (`probability`, `delay`),
//! `mtu` (bytes, counting IP and UDP headers), `rate` (`10Mbit/s`, `512kbit/s`, `1MB/s`) and
//! `queue` (bytes, default 64KiB; needs `rate`). `up:` and `down:` override keys for one
//! direction. A `faults` event replaces the chosen directions' whole model.
//!
//! Event `link:` and `sides:` entries name hosts or NATs (a NAT is named after its network);
//! `outage` and `faults` act on the link the host or NAT uses when the event fires. Times
//! (`at`) count from the start of the run. `for` schedules the end of an outage or partition;
//! without it, it lasts to the end. `move` detaches the host, and after `offline` (default 0)
//! attaches it to the new network; `link` is the host's link there the first time it goes
//! there (default: a perfect link).
//!
//! Unknown keys are errors. Every error names the file, the line and column, and the field
//! path (`hosts.alice.link.loss`).
//!
//! `workload:` and `expect:` are deserialised into type parameters `W` and `E`: by default
//! [`serde_json::Value`], which keeps any YAML data; a caller with real types uses
//! `Scenario::<MyWorkload, MyExpect>::parse`, and its types' errors get the same file, line
//! and field reporting.

use core::fmt;
use core::time::Duration;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use rtmfp::time::Instant;
use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde_saphyr::{Location, Spanned};

use crate::fault::{Bottleneck, FaultConfig, GilbertElliott, Reorder};
use crate::nat::{Dependence, NatConfig, NatType, PortAllocation};
use crate::topology::{
    Action, Directions, HostDef, HostId, INTERNET, LinkDef, LinkId, Member, NatDef, NetworkDef,
    NetworkId, TimedEvent, Topology,
};
use crate::units::{DurationValue, Probability, Rate, Size};

/// A scenario file that could not be used: where, which field, and what was wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file, as given.
    pub file: String,
    /// 1-based line, or 0 when unknown (e.g. the file could not be read).
    pub line: u64,
    /// 1-based column, or 0 when unknown.
    pub column: u64,
    /// Path of the field, like `hosts.alice.link.loss` (empty for the whole file).
    pub field: String,
    /// What was wrong.
    pub message: String,
    /// The offending source line, if known.
    pub source_line: Option<String>,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        write!(f, ": ")?;
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        write!(f, "{}", self.message)?;
        if let Some(text) = &self.source_line {
            write!(f, "\n{:>5} | {}", self.line, text)?;
            let pad = usize::try_from(self.column.saturating_sub(1)).unwrap_or(0);
            write!(f, "\n      | {:pad$}^", "")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}

impl ScenarioError {
    /// An error about the value at `at` in scenario `text` (file `file`), for checks made
    /// after parsing, such as the RTMFP workload's names and references.
    pub fn at(
        file: &str,
        text: &str,
        at: &Location,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> ScenarioError {
        error_at(
            file,
            text,
            at.line(),
            at.column(),
            field.into(),
            message.into(),
        )
    }
}

/// A validated scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario<W = serde_json::Value, E = serde_json::Value> {
    /// The file it came from, as given.
    pub file: String,
    /// Its `name:`.
    pub name: Option<String>,
    /// Its `description:`.
    pub description: Option<String>,
    /// Default seed (0 when not given).
    pub seed: u64,
    /// Simulated deadline of a run, if given.
    pub duration: Option<Duration>,
    /// Event budget of a run, if given.
    pub max_events: Option<u64>,
    /// The network and its timed events.
    pub topology: Topology,
    /// The `workload:` section.
    pub workload: Option<W>,
    /// The `expect:` section.
    pub expect: Option<E>,
}

impl<W, E> Scenario<W, E> {
    /// The run limits the file asks for: `duration` as the deadline, `max_events` as the
    /// budget ([`crate::engine::Limits::DEFAULT_MAX_EVENTS`] if not given).
    pub fn limits(&self) -> crate::engine::Limits {
        crate::engine::Limits {
            until: self.duration.map(|d| Instant::ZERO + d),
            max_events: Some(
                self.max_events
                    .unwrap_or(crate::engine::Limits::DEFAULT_MAX_EVENTS),
            ),
        }
    }
}

impl<W: DeserializeOwned, E: DeserializeOwned> Scenario<W, E> {
    /// Reads and validates the scenario file at `path`.
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            file: file.clone(),
            line: 0,
            column: 0,
            field: String::new(),
            message: format!("cannot read the file: {e}"),
            source_line: None,
        })?;
        Scenario::parse(&file, &text)
    }

    /// Validates scenario `text`; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Self, ScenarioError> {
        let mut path = String::new();
        let parsed = serde_saphyr::with_deserializer_from_str(text, |de| {
            serde_path_to_error::deserialize::<_, FileSpec<W, E>>(de).map_err(|e| {
                path = e.path().to_string();
                e.into_inner()
            })
        });
        let spec = match parsed {
            Ok(spec) => spec,
            Err(e) => {
                let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
                let message = e.without_snippet().to_string();
                let suffix = format!(" at line {line}, column {column}");
                let message = message
                    .strip_suffix(&suffix)
                    .unwrap_or(&message)
                    .to_string();
                let path = clean_path(&path);
                return Err(error_at(file, text, line, column, path, message));
            }
        };
        let topology = Builder::new(file, text).build(&spec)?;
        Ok(Scenario {
            file: file.to_string(),
            name: spec.name,
            description: spec.description,
            seed: spec.seed.unwrap_or(0),
            duration: spec.duration.map(|d| d.0),
            max_events: spec.max_events,
            topology,
            workload: spec.workload,
            expect: spec.expect,
        })
    }
}

/// The field path without the `value` steps that `Spanned` wrappers add (so a field that is
/// really called `value` is hidden from the path too; its line and column still point at it).
fn clean_path(path: &str) -> String {
    if path == "." || path == "?" {
        return String::new();
    }
    path.split('.')
        .filter(|step| *step != "value")
        .collect::<Vec<_>>()
        .join(".")
}

fn error_at(
    file: &str,
    text: &str,
    line: u64,
    column: u64,
    field: String,
    message: String,
) -> ScenarioError {
    let source_line = usize::try_from(line)
        .ok()
        .and_then(|l| l.checked_sub(1))
        .and_then(|l| text.lines().nth(l))
        .map(str::to_string);
    ScenarioError {
        file: file.to_string(),
        line,
        column,
        field,
        message,
        source_line,
    }
}

// ---------------------------------------------------------------------------------------
// The YAML schema, as read. Names are validated and resolved by `Builder`.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSpec<W, E> {
    name: Option<String>,
    description: Option<String>,
    seed: Option<u64>,
    duration: Option<DurationValue>,
    max_events: Option<u64>,
    #[serde(default)]
    networks: BTreeMap<String, Spanned<NetworkSpec>>,
    hosts: BTreeMap<String, Spanned<HostSpec>>,
    #[serde(default)]
    events: Vec<Spanned<EventSpec>>,
    workload: Option<W>,
    expect: Option<E>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NetworkSpec {
    parent: Option<Spanned<String>>,
    nat: Spanned<NatSpec>,
    link: Option<Spanned<FaultSpec>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NatSpec {
    #[serde(rename = "type")]
    kind: Option<NatTypeSpec>,
    mapping: Option<DependenceSpec>,
    filtering: Option<DependenceSpec>,
    address: Spanned<IpValue>,
    hairpinning: Option<bool>,
    mapping_timeout: Option<DurationValue>,
    inbound_refresh: Option<bool>,
    port_allocation: Option<PortAllocationSpec>,
    ports: Option<PortRange>,
}

#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum NatTypeSpec {
    FullCone,
    RestrictedCone,
    PortRestrictedCone,
    Symmetric,
}

#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum DependenceSpec {
    EndpointIndependent,
    AddressDependent,
    AddressAndPortDependent,
}

#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum PortAllocationSpec {
    Preserve,
    Sequential,
    Random,
}

#[derive(Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum DirectionsSpec {
    Up,
    Down,
    #[default]
    Both,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HostSpec {
    network: Option<Spanned<String>>,
    address: Spanned<SocketValue>,
    link: Option<Spanned<FaultSpec>>,
}

#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultSpec {
    latency: Option<DurationValue>,
    jitter: Option<DurationValue>,
    loss: Option<Probability>,
    burst_loss: Option<BurstLossSpec>,
    reorder: Option<ReorderSpec>,
    duplicate: Option<Probability>,
    corrupt: Option<Probability>,
    truncate: Option<Probability>,
    mtu: Option<u32>,
    rate: Option<Rate>,
    queue: Option<Spanned<Size>>,
    up: Option<Spanned<Box<FaultSpec>>>,
    down: Option<Spanned<Box<FaultSpec>>>,
}

#[derive(Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
struct BurstLossSpec {
    p_good_to_bad: Probability,
    p_bad_to_good: Probability,
    loss_in_good: Option<Probability>,
    loss_in_bad: Option<Probability>,
}

#[derive(Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReorderSpec {
    probability: Probability,
    delay: DurationValue,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
enum EventSpec {
    Outage {
        at: DurationValue,
        link: Spanned<String>,
        #[serde(default)]
        direction: DirectionsSpec,
        #[serde(rename = "for")]
        lasting: Option<DurationValue>,
    },
    Partition {
        at: DurationValue,
        #[serde(rename = "for")]
        lasting: Option<DurationValue>,
        sides: Spanned<Vec<Vec<Spanned<String>>>>,
    },
    Rebind {
        at: DurationValue,
        nat: Spanned<String>,
        host: Option<Spanned<String>>,
    },
    Flush {
        at: DurationValue,
        nat: Spanned<String>,
    },
    Move {
        at: DurationValue,
        host: Spanned<String>,
        network: Spanned<String>,
        address: Spanned<SocketValue>,
        offline: Option<DurationValue>,
        link: Option<Spanned<FaultSpec>>,
    },
    Faults {
        at: DurationValue,
        link: Spanned<String>,
        #[serde(default)]
        direction: DirectionsSpec,
        set: Spanned<FaultSpec>,
    },
}

/// An IP address written as text.
struct IpValue(IpAddr);

/// A socket address written as text (`192.0.2.1:1935`, `[2001:db8::1]:1935`).
struct SocketValue(SocketAddr);

/// A port range written as `first-last`.
struct PortRange(u16, u16);

struct TextVisitor<T> {
    what: &'static str,
    parse: fn(&str) -> Result<T, String>,
}

impl<T> Visitor<'_> for TextVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.what)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        (self.parse)(v).map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for IpValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(TextVisitor {
            what: "an IP address",
            parse: |s| {
                s.parse().map(IpValue).map_err(|_| {
                    format!("`{s}` is not an IP address (e.g. 198.51.100.1 or 2001:db8::1)")
                })
            },
        })
    }
}

impl<'de> Deserialize<'de> for SocketValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(TextVisitor {
            what: "a socket address",
            parse: |s| {
                s.parse().map(SocketValue).map_err(|_| {
                    format!(
                        "`{s}` is not a socket address (e.g. 192.0.2.1:1935 or [2001:db8::1]:1935)"
                    )
                })
            },
        })
    }
}

impl<'de> Deserialize<'de> for PortRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(TextVisitor {
            what: "a port range",
            parse: |s| {
                let bad =
                    || format!("`{s}` is not a port range: expected first-last, e.g. 40000-40999");
                let (a, b) = s.split_once('-').ok_or_else(bad)?;
                let a: u16 = a.trim().parse().map_err(|_| bad())?;
                let b: u16 = b.trim().parse().map_err(|_| bad())?;
                if a == 0 || a > b {
                    return Err(format!(
                        "`{s}`: the first port must be from 1 to the last port"
                    ));
                }
                Ok(PortRange(a, b))
            },
        })
    }
}

impl FaultSpec {
    /// `self` with every key `over` sets replaced.
    fn overlay(&self, over: &FaultSpec) -> FaultSpec {
        FaultSpec {
            latency: over.latency.or(self.latency),
            jitter: over.jitter.or(self.jitter),
            loss: over.loss.or(self.loss),
            burst_loss: over.burst_loss.or(self.burst_loss),
            reorder: over.reorder.or(self.reorder),
            duplicate: over.duplicate.or(self.duplicate),
            corrupt: over.corrupt.or(self.corrupt),
            truncate: over.truncate.or(self.truncate),
            mtu: over.mtu.or(self.mtu),
            rate: over.rate.or(self.rate),
            queue: over.queue.clone().or_else(|| self.queue.clone()),
            up: None,
            down: None,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Validation: resolve names, check addresses, build the topology.

struct Builder<'a> {
    file: &'a str,
    text: &'a str,
    networks: Vec<NetworkDef>,
    hosts: Vec<HostDef>,
    links: Vec<LinkDef>,
    /// Host and network names, in one namespace.
    names: BTreeMap<String, Member>,
    network_ids: BTreeMap<String, NetworkId>,
    link_ids: BTreeMap<(Member, NetworkId), LinkId>,
    /// Who holds each IP address on each network.
    addresses: BTreeMap<(NetworkId, IpAddr), Member>,
}

impl<'a> Builder<'a> {
    fn new(file: &'a str, text: &'a str) -> Builder<'a> {
        let mut network_ids = BTreeMap::new();
        network_ids.insert("internet".to_string(), INTERNET);
        Builder {
            file,
            text,
            networks: vec![NetworkDef {
                name: "internet".into(),
                nat: None,
            }],
            hosts: Vec::new(),
            links: Vec::new(),
            names: BTreeMap::new(),
            network_ids,
            link_ids: BTreeMap::new(),
            addresses: BTreeMap::new(),
        }
    }

    fn err(
        &self,
        at: &Location,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> ScenarioError {
        error_at(
            self.file,
            self.text,
            at.line(),
            at.column(),
            field.into(),
            message.into(),
        )
    }

    fn build<W, E>(mut self, spec: &FileSpec<W, E>) -> Result<Topology, ScenarioError> {
        // Names first, so that references can be resolved in any order.
        for (name, net) in &spec.networks {
            let field = format!("networks.{name}");
            if name == "internet" {
                return Err(self.err(
                    &net.referenced,
                    field,
                    "`internet` is the public network; it cannot be declared",
                ));
            }
            let id = NetworkId(self.networks.len());
            self.networks.push(NetworkDef {
                name: name.clone(),
                nat: None,
            });
            self.network_ids.insert(name.clone(), id);
            self.names.insert(name.clone(), Member::Nat(id));
        }
        for (i, (name, host)) in spec.hosts.iter().enumerate() {
            let field = format!("hosts.{name}");
            if self.network_ids.contains_key(name) {
                return Err(self.err(&host.referenced, field, format!("`{name}` is already the name of a network; hosts and networks share one namespace")));
            }
            self.names.insert(name.clone(), Member::Host(HostId(i)));
        }
        for (name, net) in &spec.networks {
            self.nat(name, &net.value)?;
        }
        self.check_nat_nesting(spec)?;
        for (name, host) in &spec.hosts {
            self.host(name, &host.value)?;
        }
        let mut events = Vec::new();
        for (i, event) in spec.events.iter().enumerate() {
            self.event(i, &event.value, &mut events)?;
        }
        self.check_no_address_is_its_nats(spec)?;
        // Stable: events at the same time keep file order; an `OutageEnds` refers to its
        // beginning by index, so remap those indices after sorting.
        let mut order: Vec<usize> = (0..events.len()).collect();
        order.sort_by_key(|&i| events[i].at);
        let mut new_index = vec![0; events.len()];
        for (new, &old) in order.iter().enumerate() {
            new_index[old] = new;
        }
        let events = order
            .iter()
            .map(|&i| {
                let mut e: TimedEvent = events[i].clone();
                if let Action::OutageEnds { begins } = &mut e.action {
                    *begins = new_index[*begins];
                }
                e
            })
            .collect();
        Ok(Topology {
            networks: self.networks,
            hosts: self.hosts,
            links: self.links,
            events,
        })
    }

    fn network(&self, name: &Spanned<String>, field: &str) -> Result<NetworkId, ScenarioError> {
        self.network_ids.get(&name.value).copied().ok_or_else(|| {
            let known: Vec<&str> = self.network_ids.keys().map(String::as_str).collect();
            self.err(
                &name.referenced,
                field,
                format!(
                    "no network called `{}` (known: {})",
                    name.value,
                    known.join(", ")
                ),
            )
        })
    }

    fn member(&self, name: &Spanned<String>, field: &str) -> Result<Member, ScenarioError> {
        self.names.get(&name.value).copied().ok_or_else(|| {
            self.err(
                &name.referenced,
                field,
                format!("no host or NAT called `{}`", name.value),
            )
        })
    }

    fn host_named(&self, name: &Spanned<String>, field: &str) -> Result<HostId, ScenarioError> {
        match self.names.get(&name.value) {
            Some(Member::Host(h)) => Ok(*h),
            _ => Err(self.err(
                &name.referenced,
                field,
                format!("no host called `{}`", name.value),
            )),
        }
    }

    fn nat_named(&self, name: &Spanned<String>, field: &str) -> Result<NetworkId, ScenarioError> {
        match self.names.get(&name.value) {
            Some(Member::Nat(n)) => Ok(*n),
            _ => Err(self.err(
                &name.referenced,
                field,
                format!(
                    "no NAT called `{}` (a NAT is named after its private network)",
                    name.value
                ),
            )),
        }
    }

    fn claim_address(
        &mut self,
        network: NetworkId,
        ip: IpAddr,
        who: Member,
        at: &Location,
        field: &str,
    ) -> Result<(), ScenarioError> {
        if ip.is_unspecified() {
            return Err(self.err(
                at,
                field,
                format!("{ip} is the unspecified address; give a real one"),
            ));
        }
        match self.addresses.get(&(network, ip)) {
            Some(other) if *other != who => {
                let other = self.member_name(*other);
                let net = &self.networks[network.0].name;
                Err(self.err(
                    at,
                    field,
                    format!("{ip} is already used by `{other}` on network `{net}`"),
                ))
            }
            _ => {
                self.addresses.insert((network, ip), who);
                Ok(())
            }
        }
    }

    fn member_name(&self, m: Member) -> String {
        self.names
            .iter()
            .find(|(_, v)| **v == m)
            .map(|(k, _)| k.clone())
            .unwrap_or_default()
    }

    fn link(
        &mut self,
        owner: Member,
        owner_name: &str,
        network: NetworkId,
        spec: Option<&Spanned<FaultSpec>>,
        field: &str,
    ) -> Result<LinkId, ScenarioError> {
        let (up, down) = match spec {
            Some(s) => self.faults_both(s, field)?,
            None => (FaultConfig::default(), FaultConfig::default()),
        };
        let id = LinkId(self.links.len());
        let name = format!("{owner_name}@{}", self.networks[network.0].name);
        self.links.push(LinkDef {
            name,
            owner,
            network,
            up,
            down,
        });
        self.link_ids.insert((owner, network), id);
        Ok(id)
    }

    fn nat(&mut self, name: &str, spec: &NetworkSpec) -> Result<(), ScenarioError> {
        let field = format!("networks.{name}");
        let id = self.network_ids[name];
        let parent = match &spec.parent {
            Some(p) => self.network(p, &format!("{field}.parent"))?,
            None => INTERNET,
        };
        if parent == id {
            let at = spec
                .parent
                .as_ref()
                .map_or(spec.nat.referenced, |p| p.referenced);
            return Err(self.err(
                &at,
                format!("{field}.parent"),
                "a network cannot be its own parent",
            ));
        }
        let nat = &spec.nat.value;
        let (mapping, filtering) = match (nat.kind, nat.mapping, nat.filtering) {
            (_, Some(m), Some(f)) => (dependence(m), dependence(f)),
            (Some(kind), m, f) => {
                let (dm, df) = nat_type(kind).behaviours();
                (m.map_or(dm, dependence), f.map_or(df, dependence))
            }
            (None, _, _) => {
                return Err(self.err(&spec.nat.referenced, format!("{field}.nat"), "give `type` (full-cone, restricted-cone, port-restricted-cone or symmetric), or both `mapping` and `filtering`"));
            }
        };
        let mut config = NatConfig::of_type(NatType::FullCone);
        config.mapping = mapping;
        config.filtering = filtering;
        config.hairpinning = nat.hairpinning.unwrap_or(false);
        config.inbound_refresh = nat.inbound_refresh.unwrap_or(false);
        if let Some(t) = nat.mapping_timeout {
            config.mapping_timeout = t.0;
        }
        if let Some(p) = nat.port_allocation {
            config.port_allocation = match p {
                PortAllocationSpec::Preserve => PortAllocation::Preserve,
                PortAllocationSpec::Sequential => PortAllocation::Sequential,
                PortAllocationSpec::Random => PortAllocation::Random,
            };
        }
        if let Some(PortRange(a, b)) = nat.ports {
            config.ports = (a, b);
        }
        let external = nat.address.value.0;
        self.claim_address(
            parent,
            external,
            Member::Nat(id),
            &nat.address.referenced,
            &format!("{field}.nat.address"),
        )?;
        let link = self.link(
            Member::Nat(id),
            name,
            parent,
            spec.link.as_ref(),
            &format!("{field}.link"),
        )?;
        self.networks[id.0].nat = Some(NatDef {
            config,
            parent,
            external,
            link,
        });
        Ok(())
    }

    fn check_nat_nesting<W, E>(&self, spec: &FileSpec<W, E>) -> Result<(), ScenarioError> {
        for (name, net) in &spec.networks {
            let mut seen = vec![self.network_ids[name]];
            let mut current = self.network_ids[name];
            while let Some(nat) = &self.networks[current.0].nat {
                current = nat.parent;
                if seen.contains(&current) {
                    let at = net
                        .value
                        .parent
                        .as_ref()
                        .map_or(net.referenced, |p| p.referenced);
                    return Err(self.err(&at, format!("networks.{name}.parent"), "the parents of this network form a cycle; every chain of NATs must end at `internet`"));
                }
                seen.push(current);
            }
        }
        Ok(())
    }

    /// No address inside a private network may equal that network's own NAT's outside
    /// address: routing could not tell a hairpin from a local delivery.
    fn check_no_address_is_its_nats<W, E>(
        &self,
        spec: &FileSpec<W, E>,
    ) -> Result<(), ScenarioError> {
        for (&(network, ip), &who) in &self.addresses {
            let Some(nat) = &self.networks[network.0].nat else {
                continue;
            };
            if nat.external == ip {
                let name = self.member_name(who);
                let (at, field) = match (spec.hosts.get(&name), spec.networks.get(&name)) {
                    (Some(h), _) => (h.value.address.referenced, format!("hosts.{name}.address")),
                    (None, Some(n)) => (
                        n.value.nat.value.address.referenced,
                        format!("networks.{name}.nat.address"),
                    ),
                    (None, None) => (Location::UNKNOWN, name),
                };
                let net = &self.networks[network.0].name;
                return Err(self.err(
                    &at,
                    field,
                    format!("{ip} inside `{net}` is also the outside address of `{net}`'s own NAT"),
                ));
            }
        }
        Ok(())
    }

    fn host(&mut self, name: &str, spec: &HostSpec) -> Result<(), ScenarioError> {
        let field = format!("hosts.{name}");
        let Some(Member::Host(id)) = self.names.get(name).copied() else {
            return Err(self.err(&spec.address.referenced, field, "internal: host not named"));
        };
        let network = match &spec.network {
            Some(n) => self.network(n, &format!("{field}.network"))?,
            None => INTERNET,
        };
        let address = spec.address.value.0;
        let afield = format!("{field}.address");
        if address.port() == 0 {
            return Err(self.err(
                &spec.address.referenced,
                afield,
                "port 0 is not a port a node can be reached on",
            ));
        }
        self.claim_address(
            network,
            address.ip(),
            Member::Host(id),
            &spec.address.referenced,
            &afield,
        )?;
        let link = self.link(
            Member::Host(id),
            name,
            network,
            spec.link.as_ref(),
            &format!("{field}.link"),
        )?;
        debug_assert_eq!(self.hosts.len(), id.0);
        self.hosts.push(HostDef {
            name: name.to_string(),
            network,
            address,
            link,
        });
        Ok(())
    }

    fn event(
        &mut self,
        i: usize,
        spec: &EventSpec,
        out: &mut Vec<TimedEvent>,
    ) -> Result<(), ScenarioError> {
        let at = |d: DurationValue| Instant::ZERO + d.0;
        let directions = |d: DirectionsSpec| match d {
            DirectionsSpec::Up => Directions::Up,
            DirectionsSpec::Down => Directions::Down,
            DirectionsSpec::Both => Directions::Both,
        };
        match spec {
            EventSpec::Outage {
                at: t,
                link,
                direction,
                lasting,
            } => {
                let field = format!("events[{i}].outage");
                let target = self.member(link, &format!("{field}.link"))?;
                let begins = out.len();
                out.push(TimedEvent {
                    at: at(*t),
                    action: Action::OutageBegins {
                        target,
                        dirs: directions(*direction),
                    },
                });
                if let Some(d) = lasting {
                    out.push(TimedEvent {
                        at: at(*t) + d.0,
                        action: Action::OutageEnds { begins },
                    });
                }
            }
            EventSpec::Partition {
                at: t,
                lasting,
                sides,
            } => {
                let field = format!("events[{i}].partition.sides");
                if sides.value.len() < 2 || sides.value.iter().any(Vec::is_empty) {
                    return Err(self.err(
                        &sides.referenced,
                        field,
                        "a partition needs at least two non-empty sides, e.g. [[alice], [bob]]",
                    ));
                }
                let mut resolved = Vec::new();
                let mut seen = BTreeMap::new();
                for side in &sides.value {
                    let mut members = Vec::new();
                    for name in side {
                        let m = self.member(name, &field)?;
                        if seen.insert(m, ()).is_some() {
                            return Err(self.err(
                                &name.referenced,
                                field,
                                format!("`{}` is on more than one side", name.value),
                            ));
                        }
                        members.push(m);
                    }
                    resolved.push(members);
                }
                let id = i;
                out.push(TimedEvent {
                    at: at(*t),
                    action: Action::PartitionBegins {
                        id,
                        sides: resolved,
                    },
                });
                if let Some(d) = lasting {
                    out.push(TimedEvent {
                        at: at(*t) + d.0,
                        action: Action::PartitionEnds { id },
                    });
                }
            }
            EventSpec::Rebind { at: t, nat, host } => {
                let field = format!("events[{i}].rebind");
                let nat = self.nat_named(nat, &format!("{field}.nat"))?;
                let host = match host {
                    Some(h) => Some(self.host_named(h, &format!("{field}.host"))?),
                    None => None,
                };
                out.push(TimedEvent {
                    at: at(*t),
                    action: Action::Rebind { nat, host },
                });
            }
            EventSpec::Flush { at: t, nat } => {
                let nat = self.nat_named(nat, &format!("events[{i}].flush.nat"))?;
                out.push(TimedEvent {
                    at: at(*t),
                    action: Action::Flush { nat },
                });
            }
            EventSpec::Move {
                at: t,
                host,
                network,
                address,
                offline,
                link,
            } => {
                let field = format!("events[{i}].move");
                let h = self.host_named(host, &format!("{field}.host"))?;
                let net = self.network(network, &format!("{field}.network"))?;
                let addr = address.value.0;
                if addr.port() == 0 {
                    return Err(self.err(
                        &address.referenced,
                        format!("{field}.address"),
                        "port 0 is not a port a node can be reached on",
                    ));
                }
                self.claim_address(
                    net,
                    addr.ip(),
                    Member::Host(h),
                    &address.referenced,
                    &format!("{field}.address"),
                )?;
                let link_id = match (self.link_ids.get(&(Member::Host(h), net)).copied(), link) {
                    (Some(_), Some(l)) => {
                        return Err(self.err(&l.referenced, format!("{field}.link"), format!("`{}` already has a link on `{}`; a link is defined the first time the host joins a network", host.value, network.value)));
                    }
                    (Some(id), None) => id,
                    (None, l) => {
                        let name = host.value.clone();
                        self.link(
                            Member::Host(h),
                            &name,
                            net,
                            l.as_ref(),
                            &format!("{field}.link"),
                        )?
                    }
                };
                let gap = offline.map_or(Duration::ZERO, |d| d.0);
                if !gap.is_zero() {
                    out.push(TimedEvent {
                        at: at(*t),
                        action: Action::Detach { host: h },
                    });
                }
                let back = at(*t) + gap;
                out.push(TimedEvent {
                    at: back,
                    action: Action::Attach {
                        host: h,
                        network: net,
                        address: addr,
                        link: link_id,
                    },
                });
            }
            EventSpec::Faults {
                at: t,
                link,
                direction,
                set,
            } => {
                let field = format!("events[{i}].faults");
                let target = self.member(link, &format!("{field}.link"))?;
                if let Some(nested) = set.value.up.as_ref().or(set.value.down.as_ref()) {
                    return Err(self.err(
                        &nested.referenced,
                        format!("{field}.set"),
                        "use `direction:` instead of `up:`/`down:` in a faults event",
                    ));
                }
                let config = self.faults(&set.value, &format!("{field}.set"))?;
                out.push(TimedEvent {
                    at: at(*t),
                    action: Action::SetFaults {
                        target,
                        dirs: directions(*direction),
                        config,
                    },
                });
            }
        }
        Ok(())
    }

    /// A link spec's two directions: shared keys, then each direction's overrides.
    fn faults_both(
        &self,
        spec: &Spanned<FaultSpec>,
        field: &str,
    ) -> Result<(FaultConfig, FaultConfig), ScenarioError> {
        let mut out = Vec::new();
        for (name, over) in [("up", &spec.value.up), ("down", &spec.value.down)] {
            let (merged, f) = match over {
                Some(o) => {
                    if o.value.up.is_some() || o.value.down.is_some() {
                        return Err(self.err(
                            &o.referenced,
                            format!("{field}.{name}"),
                            "`up`/`down` cannot be nested",
                        ));
                    }
                    (spec.value.overlay(&o.value), format!("{field}.{name}"))
                }
                None => (spec.value.overlay(&FaultSpec::default()), field.to_string()),
            };
            out.push(self.faults(&merged, &f)?);
        }
        let down = out.pop().unwrap_or_default();
        let up = out.pop().unwrap_or_default();
        Ok((up, down))
    }

    fn faults(&self, spec: &FaultSpec, field: &str) -> Result<FaultConfig, ScenarioError> {
        let p = |x: Option<Probability>| x.map_or(0.0, |p| p.0);
        let bottleneck = match (spec.rate, &spec.queue) {
            (Some(rate), queue) => Some(Bottleneck {
                rate: rate.0,
                queue: queue
                    .as_ref()
                    .map_or(Bottleneck::DEFAULT_QUEUE, |q| q.value.0),
            }),
            (None, Some(q)) => {
                return Err(self.err(
                    &q.referenced,
                    format!("{field}.queue"),
                    "a queue needs a `rate` to drain it",
                ));
            }
            (None, None) => None,
        };
        Ok(FaultConfig {
            latency: spec.latency.map_or(Duration::ZERO, |d| d.0),
            jitter: spec.jitter.map_or(Duration::ZERO, |d| d.0),
            loss: p(spec.loss),
            burst_loss: spec.burst_loss.map(|b| GilbertElliott {
                p_good_to_bad: b.p_good_to_bad.0,
                p_bad_to_good: b.p_bad_to_good.0,
                loss_in_good: b.loss_in_good.map_or(0.0, |x| x.0),
                loss_in_bad: b.loss_in_bad.map_or(1.0, |x| x.0),
            }),
            reorder: spec.reorder.map(|r| Reorder {
                probability: r.probability.0,
                delay: r.delay.0,
            }),
            duplicate: p(spec.duplicate),
            corrupt: p(spec.corrupt),
            truncate: p(spec.truncate),
            mtu: spec.mtu,
            bottleneck,
        })
    }
}

fn dependence(d: DependenceSpec) -> Dependence {
    match d {
        DependenceSpec::EndpointIndependent => Dependence::EndpointIndependent,
        DependenceSpec::AddressDependent => Dependence::AddressDependent,
        DependenceSpec::AddressAndPortDependent => Dependence::AddressAndPortDependent,
    }
}

fn nat_type(t: NatTypeSpec) -> NatType {
    match t {
        NatTypeSpec::FullCone => NatType::FullCone,
        NatTypeSpec::RestrictedCone => NatType::RestrictedCone,
        NatTypeSpec::PortRestrictedCone => NatType::PortRestrictedCone,
        NatTypeSpec::Symmetric => NatType::Symmetric,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::Direction;

    fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse("test.yaml", text)
    }

    fn error(text: &str) -> ScenarioError {
        match parse(text) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(e) => e,
        }
    }

    const TWO_HOSTS: &str =
        "hosts:\n  a:\n    address: 192.0.2.1:1935\n  b:\n    address: 192.0.2.2:1935\n";

    #[test]
    fn the_example_file_parses_into_the_topology_it_describes() {
        let text = include_str!("../scenarios/example.yaml");
        let s = parse(text).expect("example parses");
        assert_eq!(s.seed, 7);
        assert_eq!(s.duration, Some(Duration::from_secs(30)));
        let t = &s.topology;
        let names: Vec<&str> = t.links().iter().map(|l| l.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "home@internet",
                "alice@home",
                "bob@internet",
                "alice@internet"
            ]
        );
        let alice = &t.links()[1];
        assert_eq!(alice.up.latency, Duration::from_millis(20));
        assert_eq!(
            alice.up.bottleneck,
            Some(Bottleneck {
                rate: 1_000_000,
                queue: 32 * 1024
            })
        );
        assert_eq!(alice.down.bottleneck, None);
        assert_eq!(
            alice.down.loss, 0.01,
            "shared keys apply to both directions"
        );
        assert!(alice.down.burst_loss.is_some() && alice.up.burst_loss.is_none());
        let nat = t.networks()[1].nat.as_ref().expect("home has a NAT");
        assert_eq!(nat.config.ports, (40000, 40999));
        assert_eq!(nat.config.filtering, Dependence::AddressAndPortDependent);
        // Outage (2 events), partition (2), rebind, faults, move with a gap (2).
        assert_eq!(t.events().len(), 8);
        let times: Vec<u64> = t
            .events()
            .iter()
            .map(|e| e.at.as_micros() / 1_000_000)
            .collect();
        assert_eq!(times, [5, 7, 10, 13, 15, 18, 20, 21]);
        assert!(matches!(
            t.events()[1].action,
            Action::OutageEnds { begins: 0 }
        ));
        assert!(s.workload.is_some() && s.expect.is_some());
        assert_eq!(Directions::Both.list(), &[Direction::Up, Direction::Down]);
    }

    #[test]
    fn unknown_fields_are_named_with_their_line() {
        let e = error(
            "hosts:\n  a:\n    address: 192.0.2.1:1935\n    link:\n      latency: 1ms\n      lossy: 0.5\n",
        );
        assert_eq!((e.file.as_str(), e.line, e.column), ("test.yaml", 6, 7));
        assert_eq!(e.field, "hosts.a.link.lossy");
        assert!(e.message.contains("unknown field `lossy`"), "{e}");
        assert!(
            e.to_string()
                .starts_with("test.yaml:6:7: hosts.a.link.lossy: unknown field"),
            "{e}"
        );
        assert!(e.to_string().contains("lossy: 0.5"), "shows the line: {e}");
    }

    #[test]
    fn bad_values_name_the_field_and_what_was_expected() {
        let cases = [
            (
                "    link: { latency: 5 parsecs }\n",
                "hosts.a.link.latency",
                "unknown unit",
            ),
            (
                "    link: { loss: 1.5 }\n",
                "hosts.a.link.loss",
                "not a probability",
            ),
            (
                "    link: { rate: 10Mbps }\n",
                "hosts.a.link.rate",
                "unknown unit",
            ),
            (
                "    link: { queue: 10KiB }\n",
                "hosts.a.link.queue",
                "needs a `rate`",
            ),
            (
                "    link: { up: { up: {} } }\n",
                "hosts.a.link.up",
                "cannot be nested",
            ),
            (
                "    network: nowhere\n",
                "hosts.a.network",
                "no network called `nowhere`",
            ),
        ];
        for (extra, field, message) in cases {
            let text = format!("hosts:\n  a:\n    address: 192.0.2.1:1935\n{extra}");
            let e = error(&text);
            assert_eq!(e.line, 4, "{e}");
            assert_eq!(e.field, field, "{e}");
            assert!(e.message.contains(message), "{e}");
        }
        let e = error("hosts:\n  a:\n    address: 192.0.2.1\n");
        assert_eq!((e.line, e.field.as_str()), (3, "hosts.a.address"));
        assert!(e.message.contains("not a socket address"), "{e}");
    }

    #[test]
    fn addresses_must_be_unique_per_network() {
        let e =
            error("hosts:\n  a:\n    address: 192.0.2.1:1935\n  b:\n    address: 192.0.2.1:2000\n");
        assert_eq!((e.line, e.field.as_str()), (5, "hosts.b.address"));
        assert!(e.message.contains("already used by `a`"), "{e}");
        // The same private address on two different LANs is fine.
        let ok = "networks:\n  n1: { nat: { type: full-cone, address: 198.51.100.1 } }\n  n2: { nat: { type: full-cone, address: 198.51.100.2 } }\nhosts:\n  a: { network: n1, address: 10.0.0.1:1 }\n  b: { network: n2, address: 10.0.0.1:1 }\n";
        assert!(parse(ok).is_ok());
    }

    #[test]
    fn events_are_checked_and_sorted() {
        let e = error(&format!(
            "{TWO_HOSTS}events:\n  - outage: {{ at: 1s, link: c }}\n"
        ));
        assert_eq!((e.line, e.field.as_str()), (7, "events[0].outage.link"));
        let e = error(&format!("{TWO_HOSTS}events:\n  - outag: {{ at: 1s }}\n"));
        assert_eq!((e.line, e.field.as_str()), (7, "events[0]"));
        assert!(e.message.contains("unknown variant `outag`"), "{e}");
        let e = error(&format!(
            "{TWO_HOSTS}events:\n  - partition: {{ at: 1s, sides: [[a], [a]] }}\n"
        ));
        assert!(e.message.contains("more than one side"), "{e}");
        let e = error(&format!(
            "{TWO_HOSTS}events:\n  - rebind: {{ at: 1s, nat: a }}\n"
        ));
        assert!(e.message.contains("no NAT called `a`"), "{e}");
        let s = parse(&format!(
            "{TWO_HOSTS}events:\n  - outage: {{ at: 9s, link: a, for: 1s }}\n  - outage: {{ at: 2s, link: b, for: 20s }}\n"
        ))
        .expect("valid");
        let ev = s.topology.events();
        let seen: Vec<(u64, bool)> = ev
            .iter()
            .map(|e| {
                (
                    e.at.as_micros() / 1_000_000,
                    matches!(e.action, Action::OutageBegins { .. }),
                )
            })
            .collect();
        assert_eq!(seen, [(2, true), (9, true), (10, false), (22, false)]);
        // After sorting, each end still points at its own beginning.
        assert!(matches!(ev[2].action, Action::OutageEnds { begins: 1 }));
        assert!(matches!(ev[3].action, Action::OutageEnds { begins: 0 }));
    }

    #[test]
    fn nat_chains_must_end_at_the_internet() {
        let e = error(
            "networks:\n  x: { parent: y, nat: { type: symmetric, address: 10.0.0.1 } }\n  y: { parent: x, nat: { type: symmetric, address: 10.0.0.2 } }\nhosts: {}\n",
        );
        assert_eq!(e.field, "networks.x.parent");
        assert!(e.message.contains("cycle"), "{e}");
        let e = error("networks:\n  x: { nat: { address: 10.0.0.1 } }\nhosts: {}\n");
        assert_eq!(e.field, "networks.x.nat");
        assert!(e.message.contains("give `type`"), "{e}");
        let e = error(
            "networks:\n  x: { nat: { type: full-cone, address: 198.51.100.1 } }\nhosts:\n  a: { network: x, address: 198.51.100.1:5 }\n",
        );
        assert!(
            e.message.contains("outside address of `x`'s own NAT"),
            "{e}"
        );
    }

    #[test]
    fn custom_workload_types_get_the_same_error_reporting() {
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Workload {
            #[allow(dead_code)]
            pings: u32,
        }
        let text = format!("{TWO_HOSTS}workload:\n  pings: many\n");
        let e = Scenario::<Workload, serde_json::Value>::parse("w.yaml", &text)
            .expect_err("bad workload");
        assert_eq!((e.line, e.field.as_str()), (7, "workload.pings"));
        let text = format!("{TWO_HOSTS}workload:\n  pings: 3\n");
        let s =
            Scenario::<Workload, serde_json::Value>::parse("w.yaml", &text).expect("good workload");
        assert_eq!(s.workload.map(|w| w.pings), Some(3));
    }

    #[test]
    fn unreadable_files_say_so() {
        let e = Scenario::<serde_json::Value, serde_json::Value>::load(Path::new(
            "/nonexistent/x.yaml",
        ))
        .expect_err("no such file");
        assert_eq!(e.line, 0);
        assert!(
            e.to_string()
                .starts_with("/nonexistent/x.yaml: cannot read the file"),
            "{e}"
        );
    }
}

#[cfg(test)]
mod robustness {
    use super::*;
    use proptest::prelude::*;

    const EXAMPLE: &str = include_str!("../scenarios/example.yaml");

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

        // A scenario file is input: whatever it holds, parsing returns a value or an error.
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
            let _ = Scenario::<serde_json::Value, serde_json::Value>::parse("fuzz.yaml", &text);
        }

        #[test]
        fn damaged_examples_never_panic(cut in 0usize..EXAMPLE.len(), byte in any::<u8>(), at in 0usize..EXAMPLE.len()) {
            let mut bytes = EXAMPLE.as_bytes()[..cut.max(at)].to_vec();
            if let Some(b) = bytes.get_mut(at) {
                *b = byte;
            }
            let text = String::from_utf8_lossy(&bytes);
            if let Err(e) = Scenario::<serde_json::Value, serde_json::Value>::parse("fuzz.yaml", &text) {
                prop_assert!(!e.message.is_empty());
            }
        }
    }
}
