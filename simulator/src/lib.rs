//! `rtmfp-sim`: a deterministic, event-driven network simulator for RTMFP.
//!
//! The simulator runs [`Node`]s (sans-IO endpoints: RTMFP peers, testers, or small test
//! nodes) on hosts in a simulated network described by a YAML [`Scenario`]: hosts on the
//! public internet or behind NATs, links with faults, and timed events (outages, partitions,
//! NAT rebinding, hosts moving between networks, fault changes). A run is a pure function of
//! the scenario, the seed and the nodes: the same inputs give the same trace, byte for byte.
//!
//! ```no_run
//! # use rtmfp_sim::{Limits, Scenario, Sim, node::{Node, Transmit}};
//! # struct Idle;
//! # impl Node for Idle {
//! #     fn handle_datagram(&mut self, _: rtmfp::time::Instant, _: std::net::SocketAddr, _: std::net::SocketAddr, _: &[u8]) {}
//! #     fn handle_timeout(&mut self, _: rtmfp::time::Instant) {}
//! #     fn poll_transmit(&mut self, _: rtmfp::time::Instant) -> Option<Transmit> { None }
//! #     fn poll_timeout(&self) -> Option<rtmfp::time::Instant> { None }
//! # }
//! let scenario: Scenario = Scenario::load("simulator/scenarios/example.yaml".as_ref())?;
//! let mut sim = Sim::new(&scenario.topology, scenario.seed, |_host| Idle);
//! sim.run(scenario.limits());
//! print!("{}", sim.trace().to_text());
//! # Ok::<(), rtmfp_sim::ScenarioError>(())
//! ```
//!
//! Modules, in the order a datagram meets them: [`node`] (the interface), [`engine`] (time
//! and routing), [`host`], [`link`] and [`fault`] (the wire), [`nat`], [`topology`] (the
//! model), [`scenario`] and [`units`] (the YAML files), [`rng`] (seeded randomness),
//! [`trace`] and [`pcap`] (what happened).

pub mod endpoint_node;
pub mod engine;
pub mod expect;
pub mod fault;
pub mod host;
pub mod link;
pub mod nat;
pub mod node;
pub mod packets;
pub mod pcap;
pub mod rng;
pub mod run;
pub mod scenario;
pub mod topology;
pub mod trace;
pub mod traffic;
pub mod units;
pub mod workload;

pub use engine::{Limits, Sim, Stop};
pub use host::HostInfo;
pub use node::{Node, Transmit};
pub use scenario::{Scenario, ScenarioError};
pub use trace::{DropReason, Trace, TraceEvent};
