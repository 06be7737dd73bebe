//! The shape of a simulated network: networks, NATs, hosts, links, and the timed events that
//! change them.
//!
//! # The model
//!
//! There is one public network, `internet`, and any number of private networks. Each private
//! network sits behind exactly one NAT, whose outside address lives on a *parent* network
//! (usually `internet`; a private parent gives carrier-grade, nested NAT). A host is attached
//! to one network at a time with one socket address; a NAT is attached to its parent network
//! with its outside IP address.
//!
//! Every attachment has a *link* carrying the fault model: `up` from the host (or NAT) into
//! the network, `down` from the network to it. Inside a network, delivery is instantaneous and
//! perfect: all delay and damage happen on links. So a datagram from a host behind a NAT to a
//! public host crosses the sender's link up, the NAT (translated), the NAT's link up, then the
//! receiver's link down; its one-way delay is the sum of those links' delays.
//!
//! A host's link is named `host@network` (a laptop that moves has one link per network it
//! visits); a NAT's link is named `nat@parent`, where the NAT is named after its private
//! network. Host names and network names share one namespace, so `alice` or `home` in an event
//! names a host or a NAT without ambiguity.
//!
//! A [`Topology`] is only built from a validated [`crate::scenario::Scenario`], so every id in
//! it is valid.

use core::time::Duration;
use std::net::{IpAddr, SocketAddr};

use rtmfp::time::Instant;

use crate::fault::FaultConfig;
use crate::link::Direction;
use crate::nat::NatConfig;

/// Index of a network; [`INTERNET`] is the public one. A private network's NAT has the same id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NetworkId(pub(crate) usize);

/// Index of a host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostId(pub(crate) usize);

/// Index of a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LinkId(pub(crate) usize);

/// The public network.
pub const INTERNET: NetworkId = NetworkId(0);

/// Something attached to a network through a link: a host, or the outside of a NAT.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Member {
    /// A host.
    Host(HostId),
    /// The NAT in front of this private network.
    Nat(NetworkId),
}

/// The members a datagram has passed through so far: the host that sent it, then each NAT
/// it entered. Partitions check all of them, so a partition between two hosts also cuts a
/// datagram that travels between them through NATs. Up to [`Via::CAPACITY`] are kept (a
/// deeper chain of NATs than that is not a network anyone builds).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Via {
    /// Compact: 0 is empty, `2i + 1` host `i`, `2i + 2` the NAT of network `i`.
    members: [u32; Via::CAPACITY],
}

impl Via {
    /// How many members are remembered.
    pub const CAPACITY: usize = 8;

    /// A datagram sent by `origin`.
    pub fn from(origin: Member) -> Via {
        let mut via = Via::default();
        via.push(origin);
        via
    }

    fn encode(member: Member) -> Option<u32> {
        let (index, tag) = match member {
            Member::Host(h) => (h.0, 1),
            Member::Nat(n) => (n.0, 2),
        };
        u32::try_from(index).ok()?.checked_mul(2)?.checked_add(tag)
    }

    fn decode(code: u32) -> Option<Member> {
        let index = usize::try_from((code.checked_sub(1)?) / 2).ok()?;
        Some(if code % 2 == 1 {
            Member::Host(HostId(index))
        } else {
            Member::Nat(NetworkId(index))
        })
    }

    /// Notes that the datagram entered `member` (ignored once full).
    pub fn push(&mut self, member: Member) {
        if let (Some(slot), Some(code)) = (
            self.members.iter_mut().find(|m| **m == 0),
            Via::encode(member),
        ) {
            *slot = code;
        }
    }

    /// The members, oldest first.
    pub fn members(&self) -> impl Iterator<Item = Member> + '_ {
        self.members.iter().map_while(|m| Via::decode(*m))
    }
}

/// A network.
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkDef {
    /// `internet`, or the private network's name (which is also its NAT's name).
    pub name: String,
    /// The NAT in front of it; `None` only for the internet.
    pub nat: Option<NatDef>,
}

/// The NAT in front of a private network.
#[derive(Clone, Debug, PartialEq)]
pub struct NatDef {
    /// Behaviour.
    pub config: NatConfig,
    /// The network its outside address is on.
    pub parent: NetworkId,
    /// Its outside address.
    pub external: IpAddr,
    /// Its link to the parent network.
    pub link: LinkId,
}

/// A host and where it starts.
#[derive(Clone, Debug, PartialEq)]
pub struct HostDef {
    /// Name.
    pub name: String,
    /// Network it starts on.
    pub network: NetworkId,
    /// Its socket address there.
    pub address: SocketAddr,
    /// Its link there.
    pub link: LinkId,
}

/// A link and its initial fault models.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkDef {
    /// `host@network` or `nat@parent`.
    pub name: String,
    /// Who it attaches.
    pub owner: Member,
    /// The network it attaches them to.
    pub network: NetworkId,
    /// Faults from the owner into the network.
    pub up: FaultConfig,
    /// Faults from the network to the owner.
    pub down: FaultConfig,
}

/// Which directions of a link an event affects.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Directions {
    /// From the owner into the network.
    Up,
    /// From the network to the owner.
    Down,
    /// Both.
    #[default]
    Both,
}

impl Directions {
    /// The directions, in a fixed order.
    pub fn list(self) -> &'static [Direction] {
        match self {
            Directions::Up => &[Direction::Up],
            Directions::Down => &[Direction::Down],
            Directions::Both => &[Direction::Up, Direction::Down],
        }
    }
}

/// A change to the network at a given time.
#[derive(Clone, Debug, PartialEq)]
pub struct TimedEvent {
    /// When.
    pub at: Instant,
    /// What.
    pub action: Action,
}

/// What a timed event does.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// The link the member uses at that moment goes down.
    OutageBegins {
        /// Whose link.
        target: Member,
        /// Which way.
        dirs: Directions,
    },
    /// The outage ends on the link the member used when it began.
    OutageEnds {
        /// Index of the matching [`Action::OutageBegins`] in the event list.
        begins: usize,
    },
    /// A datagram is dropped when it is handed to a member on a different side from any
    /// member it has passed through (see [`Via`]). Members not on any side are unaffected.
    PartitionBegins {
        /// Partition number, to match its end.
        id: usize,
        /// Two or more disjoint sides.
        sides: Vec<Vec<Member>>,
    },
    /// The partition with this number ends.
    PartitionEnds {
        /// Partition number.
        id: usize,
    },
    /// The NAT moves mappings to new outside ports: all of them, or one host's.
    Rebind {
        /// The NAT (its private network).
        nat: NetworkId,
        /// Only this host's mappings (matched by the host's current inside IP).
        host: Option<HostId>,
    },
    /// The NAT forgets every mapping.
    Flush {
        /// The NAT.
        nat: NetworkId,
    },
    /// The host leaves its network.
    Detach {
        /// The host.
        host: HostId,
    },
    /// The host joins a network with a new address, leaving the one it is on if any (a move
    /// without an offline gap is a single `Attach`).
    Attach {
        /// The host.
        host: HostId,
        /// The network.
        network: NetworkId,
        /// Its new address.
        address: SocketAddr,
        /// Its link there.
        link: LinkId,
    },
    /// The link the member uses at that moment gets a new fault model.
    SetFaults {
        /// Whose link.
        target: Member,
        /// Which way.
        dirs: Directions,
        /// The new model.
        config: FaultConfig,
    },
}

/// A validated network: built by [`crate::scenario`], run by [`crate::engine`].
#[derive(Clone, Debug, PartialEq)]
pub struct Topology {
    pub(crate) networks: Vec<NetworkDef>,
    pub(crate) hosts: Vec<HostDef>,
    pub(crate) links: Vec<LinkDef>,
    /// Sorted by time; events at the same time keep their order in the file.
    pub(crate) events: Vec<TimedEvent>,
}

impl Topology {
    /// The networks; index 0 is the internet.
    pub fn networks(&self) -> &[NetworkDef] {
        &self.networks
    }

    /// The hosts, in name order.
    pub fn hosts(&self) -> &[HostDef] {
        &self.hosts
    }

    /// The links: hosts' and NATs' initial links, then links created by moves.
    pub fn links(&self) -> &[LinkDef] {
        &self.links
    }

    /// The timed events, in the order they fire.
    pub fn events(&self) -> &[TimedEvent] {
        &self.events
    }

    /// The host called `name`.
    pub fn host_id(&self, name: &str) -> Option<HostId> {
        self.hosts.iter().position(|h| h.name == name).map(HostId)
    }

    /// The time of the last timed event (useful to size a run).
    pub fn last_event(&self) -> Duration {
        self.events.last().map_or(Duration::ZERO, |e| {
            e.at.saturating_duration_since(Instant::ZERO)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn via_remembers_hosts_and_nats_in_order_up_to_its_capacity() {
        let mut via = Via::from(Member::Host(HostId(0)));
        via.push(Member::Nat(NetworkId(3)));
        via.push(Member::Host(HostId(7)));
        let seen: Vec<Member> = via.members().collect();
        assert_eq!(
            seen,
            [
                Member::Host(HostId(0)),
                Member::Nat(NetworkId(3)),
                Member::Host(HostId(7))
            ]
        );
        for i in 0..20 {
            via.push(Member::Nat(NetworkId(i)));
        }
        assert_eq!(via.members().count(), Via::CAPACITY);
        assert_eq!(via.members().next(), Some(Member::Host(HostId(0))));
    }
}
