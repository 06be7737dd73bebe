//! A simulated host: the node running on it, where it is attached, and its pending timer.

use std::net::SocketAddr;
use std::sync::Arc;

use rtmfp::time::Instant;

use crate::topology::{LinkId, NetworkId};

/// Where a host is attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attachment {
    /// The network.
    pub network: NetworkId,
    /// The host's socket address there.
    pub address: SocketAddr,
    /// The link to it.
    pub link: LinkId,
}

/// A host's state during a run.
#[derive(Debug)]
pub struct Host<N> {
    /// Name, shared with trace lines.
    pub name: Arc<str>,
    /// What runs on it.
    pub node: N,
    /// Where it is now; `None` while offline between networks.
    pub attachment: Option<Attachment>,
    /// The link it used last (for outages and fault changes that name it while offline).
    pub last_link: LinkId,
    /// The deadline the node asked for, if one is scheduled.
    pub timer: Option<Instant>,
    /// Bumped whenever the deadline changes, so that stale timer events are ignored.
    pub timer_generation: u64,
}

/// What the node factory is told about each host when a run is set up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostInfo {
    /// The host's name in the scenario.
    pub name: String,
    /// The network it starts on.
    pub network: String,
    /// Its starting socket address.
    pub address: SocketAddr,
}
