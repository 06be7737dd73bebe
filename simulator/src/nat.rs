//! Network address and port translation, with the mapping and filtering behaviours of
//! RFC 4787 (endpoint-independent, address-dependent, address-and-port-dependent).
//!
//! A NAT joins a private network (inside) to its parent network (outside) through one outside
//! IP address. An inside datagram going out gets its source rewritten to a *mapping*: an
//! outside port chosen for the inside address, and, for dependent mapping behaviours, also for
//! the remote it is sent to. An outside datagram coming in to a mapped port is admitted if the
//! *filtering* behaviour allows its source, and its destination is rewritten to the inside
//! address. A mapping dies after `mapping_timeout` without outbound traffic (and inbound too if
//! `inbound_refresh`); a timed event can move a mapping to another port (rebinding) or drop
//! every mapping (a NAT reboot). Ports are chosen deterministically: preserved, sequential, or
//! drawn from the NAT's own random stream.

use core::time::Duration;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};

use rtmfp::time::Instant;

use crate::rng::SimRng;
use crate::trace::DropReason;

/// How much of the remote endpoint a mapping or a filter depends on (RFC 4787 sections 4.1
/// and 5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dependence {
    /// Any remote: one mapping per inside address; any remote may send in.
    EndpointIndependent,
    /// The remote's IP address.
    AddressDependent,
    /// The remote's IP address and port.
    AddressAndPortDependent,
}

impl Dependence {
    /// The part of `remote` this behaviour depends on.
    pub fn key(self, remote: SocketAddr) -> RemoteKey {
        match self {
            Dependence::EndpointIndependent => RemoteKey::Any,
            Dependence::AddressDependent => RemoteKey::Ip(remote.ip()),
            Dependence::AddressAndPortDependent => RemoteKey::Endpoint(remote),
        }
    }
}

/// The classic NAT types, as mapping and filtering behaviours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NatType {
    /// Endpoint-independent mapping and filtering.
    FullCone,
    /// Endpoint-independent mapping, address-dependent filtering.
    RestrictedCone,
    /// Endpoint-independent mapping, address-and-port-dependent filtering.
    PortRestrictedCone,
    /// Address-and-port-dependent mapping and filtering.
    Symmetric,
}

impl NatType {
    /// (mapping, filtering).
    pub fn behaviours(self) -> (Dependence, Dependence) {
        use Dependence::*;
        match self {
            NatType::FullCone => (EndpointIndependent, EndpointIndependent),
            NatType::RestrictedCone => (EndpointIndependent, AddressDependent),
            NatType::PortRestrictedCone => (EndpointIndependent, AddressAndPortDependent),
            NatType::Symmetric => (AddressAndPortDependent, AddressAndPortDependent),
        }
    }
}

/// How a NAT picks the outside port of a new mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortAllocation {
    /// The inside port if it is free, otherwise the next free port in the range.
    Preserve,
    /// The next free port in the range, in order, wrapping around.
    Sequential,
    /// A port drawn from the NAT's random stream (still deterministic for a seed).
    Random,
}

/// A NAT's behaviour.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NatConfig {
    /// Mapping behaviour.
    pub mapping: Dependence,
    /// Filtering behaviour.
    pub filtering: Dependence,
    /// Whether an inside host may reach another inside host through its outside address.
    pub hairpinning: bool,
    /// Idle time after which a mapping is removed.
    pub mapping_timeout: Duration,
    /// Whether inbound traffic also keeps a mapping alive.
    pub inbound_refresh: bool,
    /// Port selection.
    pub port_allocation: PortAllocation,
    /// First and last outside port the NAT may use.
    pub ports: (u16, u16),
}

impl NatConfig {
    /// Two minutes, the least RFC 4787 REQ-5 allows.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
    /// The dynamic port range.
    pub const DEFAULT_PORTS: (u16, u16) = (49152, 65535);

    /// A NAT of the classic `kind` with defaults for everything else.
    pub fn of_type(kind: NatType) -> NatConfig {
        let (mapping, filtering) = kind.behaviours();
        NatConfig {
            mapping,
            filtering,
            hairpinning: false,
            mapping_timeout: NatConfig::DEFAULT_TIMEOUT,
            inbound_refresh: false,
            port_allocation: PortAllocation::Sequential,
            ports: NatConfig::DEFAULT_PORTS,
        }
    }
}

/// The remote part a mapping or permission depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RemoteKey {
    /// Any remote.
    Any,
    /// One remote IP address.
    Ip(IpAddr),
    /// One remote IP address and port.
    Endpoint(SocketAddr),
}

impl RemoteKey {
    /// `None` for any remote, else the address as text.
    pub fn describe(self) -> Option<String> {
        match self {
            RemoteKey::Any => None,
            RemoteKey::Ip(ip) => Some(ip.to_string()),
            RemoteKey::Endpoint(addr) => Some(addr.to_string()),
        }
    }
}

/// Something the NAT did to its table, for the trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NatNote {
    /// A mapping was created.
    Mapped {
        /// Mapping id, for scheduling its expiry.
        id: u64,
        /// Inside address.
        internal: SocketAddr,
        /// Outside address.
        external: SocketAddr,
        /// What it is specific to.
        remote: RemoteKey,
    },
    /// A mapping was removed.
    Expired {
        /// Inside address.
        internal: SocketAddr,
        /// Outside address.
        external: SocketAddr,
        /// `timeout` or `flush`.
        why: &'static str,
    },
    /// A mapping moved to another outside port.
    Rebound {
        /// Inside address.
        internal: SocketAddr,
        /// Outside address before.
        old: SocketAddr,
        /// Outside address after.
        new: SocketAddr,
    },
}

#[derive(Clone, Debug)]
struct Mapping {
    internal: SocketAddr,
    remote: RemoteKey,
    port: u16,
    last_active: Instant,
    /// Remotes admitted by the filter (unused under endpoint-independent filtering).
    permitted: BTreeSet<RemoteKey>,
}

/// A NAT's state: its outside address and mapping table.
#[derive(Clone, Debug)]
pub struct Nat {
    config: NatConfig,
    external: IpAddr,
    rng: SimRng,
    mappings: BTreeMap<u64, Mapping>,
    by_key: BTreeMap<(SocketAddr, RemoteKey), u64>,
    by_port: BTreeMap<u16, u64>,
    next_id: u64,
    cursor: u16,
}

impl Nat {
    /// A NAT with an empty table.
    pub fn new(config: NatConfig, external: IpAddr, rng: SimRng) -> Nat {
        let cursor = config.ports.0;
        Nat {
            config,
            external,
            rng,
            mappings: BTreeMap::new(),
            by_key: BTreeMap::new(),
            by_port: BTreeMap::new(),
            next_id: 1,
            cursor,
        }
    }

    /// The NAT's behaviour.
    pub fn config(&self) -> &NatConfig {
        &self.config
    }

    /// Its outside IP address.
    pub fn external_ip(&self) -> IpAddr {
        self.external
    }

    /// Number of live mappings (some may be past their deadline until next looked at).
    pub fn mapping_count(&self) -> usize {
        self.mappings.len()
    }

    /// The outside address of the live mapping for `internal` towards `remote`, if any.
    pub fn mapping_for(
        &self,
        now: Instant,
        internal: SocketAddr,
        remote: SocketAddr,
    ) -> Option<SocketAddr> {
        let id = self
            .by_key
            .get(&(internal, self.config.mapping.key(remote)))?;
        let m = self.mappings.get(id)?;
        (!self.is_expired(m, now)).then(|| SocketAddr::new(self.external, m.port))
    }

    fn is_expired(&self, m: &Mapping, now: Instant) -> bool {
        now >= m.last_active + self.config.mapping_timeout
    }

    /// When mapping `id` will expire if nothing refreshes it.
    pub fn deadline(&self, id: u64) -> Option<Instant> {
        self.mappings
            .get(&id)
            .map(|m| m.last_active + self.config.mapping_timeout)
    }

    /// Translates an outbound datagram from `internal` to `remote`: returns the new source.
    pub fn outbound(
        &mut self,
        now: Instant,
        internal: SocketAddr,
        remote: SocketAddr,
        notes: &mut Vec<NatNote>,
    ) -> Result<SocketAddr, DropReason> {
        let key = (internal, self.config.mapping.key(remote));
        let existing = self.by_key.get(&key).copied();
        if let Some(id) = existing {
            self.expire_if_due(now, id, notes);
        }
        let id = match self.by_key.get(&key).copied() {
            Some(id) => id,
            None => self.create(now, internal, key.1, notes)?,
        };
        let permit = self.config.filtering.key(remote);
        let Some(m) = self.mappings.get_mut(&id) else {
            return Err(DropReason::NatNoMapping);
        };
        m.last_active = now;
        if permit != RemoteKey::Any {
            m.permitted.insert(permit);
        }
        Ok(SocketAddr::new(self.external, m.port))
    }

    /// Translates an inbound datagram from `remote` to outside port `port`: returns the new
    /// destination, or why it is refused.
    pub fn inbound(
        &mut self,
        now: Instant,
        port: u16,
        remote: SocketAddr,
        notes: &mut Vec<NatNote>,
    ) -> Result<SocketAddr, DropReason> {
        let id = *self.by_port.get(&port).ok_or(DropReason::NatNoMapping)?;
        if self.expire_if_due(now, id, notes) {
            return Err(DropReason::NatNoMapping);
        }
        let filter = self.config.filtering.key(remote);
        let refresh = self.config.inbound_refresh;
        let m = self.mappings.get_mut(&id).ok_or(DropReason::NatNoMapping)?;
        if filter != RemoteKey::Any && !m.permitted.contains(&filter) {
            return Err(DropReason::NatFiltered);
        }
        if refresh {
            m.last_active = now;
        }
        Ok(m.internal)
    }

    /// Called at mapping `id`'s deadline: removes it if it is really due and returns `None`,
    /// or returns its new deadline if traffic refreshed it meanwhile.
    pub fn check_expiry(
        &mut self,
        now: Instant,
        id: u64,
        notes: &mut Vec<NatNote>,
    ) -> Option<Instant> {
        if self.expire_if_due(now, id, notes) {
            None
        } else {
            self.deadline(id)
        }
    }

    /// Moves every mapping of inside IP `only` (or every mapping) to a fresh outside port.
    /// A mapping stays where it is if no other port is free.
    pub fn rebind(&mut self, now: Instant, only: Option<IpAddr>, notes: &mut Vec<NatNote>) {
        let ids: Vec<u64> = self.mappings.keys().copied().collect();
        for id in ids {
            if self.expire_if_due(now, id, notes) {
                continue;
            }
            let Some(m) = self.mappings.get(&id) else {
                continue;
            };
            if only.is_some_and(|ip| ip != m.internal.ip()) {
                continue;
            }
            let (internal, old_port) = (m.internal, m.port);
            // The old port is still in `by_port`, so it cannot be chosen again.
            let Some(new_port) = self.allocate(None) else {
                continue;
            };
            self.by_port.remove(&old_port);
            self.by_port.insert(new_port, id);
            if let Some(m) = self.mappings.get_mut(&id) {
                m.port = new_port;
            }
            notes.push(NatNote::Rebound {
                internal,
                old: SocketAddr::new(self.external, old_port),
                new: SocketAddr::new(self.external, new_port),
            });
        }
    }

    /// Forgets every mapping (the NAT rebooted).
    pub fn flush(&mut self, notes: &mut Vec<NatNote>) {
        for (_, m) in std::mem::take(&mut self.mappings) {
            notes.push(NatNote::Expired {
                internal: m.internal,
                external: SocketAddr::new(self.external, m.port),
                why: "flush",
            });
        }
        self.by_key.clear();
        self.by_port.clear();
    }

    fn expire_if_due(&mut self, now: Instant, id: u64, notes: &mut Vec<NatNote>) -> bool {
        let due = self
            .mappings
            .get(&id)
            .is_some_and(|m| self.is_expired(m, now));
        if due && let Some(m) = self.mappings.remove(&id) {
            self.by_key.remove(&(m.internal, m.remote));
            self.by_port.remove(&m.port);
            notes.push(NatNote::Expired {
                internal: m.internal,
                external: SocketAddr::new(self.external, m.port),
                why: "timeout",
            });
        }
        due || !self.mappings.contains_key(&id)
    }

    fn create(
        &mut self,
        now: Instant,
        internal: SocketAddr,
        remote: RemoteKey,
        notes: &mut Vec<NatNote>,
    ) -> Result<u64, DropReason> {
        let port = self
            .allocate(Some(internal.port()))
            .ok_or(DropReason::NatPortsExhausted)?;
        let id = self.next_id;
        self.next_id += 1;
        let mapping = Mapping {
            internal,
            remote,
            port,
            last_active: now,
            permitted: BTreeSet::new(),
        };
        self.mappings.insert(id, mapping);
        self.by_key.insert((internal, remote), id);
        self.by_port.insert(port, id);
        notes.push(NatNote::Mapped {
            id,
            internal,
            external: SocketAddr::new(self.external, port),
            remote,
        });
        Ok(id)
    }

    /// A free outside port, or `None` if the range is full. `wanted` is the inside port, for
    /// port preservation.
    fn allocate(&mut self, wanted: Option<u16>) -> Option<u16> {
        let (first, last) = self.config.ports;
        if first > last {
            return None;
        }
        let span = u64::from(last.saturating_sub(first)) + 1;
        let start = match self.config.port_allocation {
            PortAllocation::Preserve => match wanted {
                Some(port) if port != 0 && !self.by_port.contains_key(&port) => return Some(port),
                _ => self.cursor,
            },
            PortAllocation::Sequential => self.cursor,
            PortAllocation::Random => first.saturating_add(self.rng.below(span) as u16),
        };
        let offset = u64::from(start.clamp(first, last) - first);
        let port = (0..span)
            .map(|i| first + ((offset + i) % span) as u16)
            .find(|p| !self.by_port.contains_key(p))?;
        if self.config.port_allocation != PortAllocation::Random {
            self.cursor = if port >= last { first } else { port + 1 };
        }
        Some(port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUT: &str = "198.51.100.1";

    fn nat(kind: NatType) -> Nat {
        Nat::new(
            NatConfig::of_type(kind),
            OUT.parse().expect("ip"),
            SimRng::stream(1, "nat"),
        )
    }

    fn a(s: &str) -> SocketAddr {
        s.parse().expect("test address")
    }

    fn t(s: u64) -> Instant {
        Instant::from_millis(s * 1000)
    }

    const ALICE: &str = "192.168.1.10:1935";
    const BOB: &str = "203.0.113.9:1935";
    const BOB_OTHER_PORT: &str = "203.0.113.9:2000";
    const CAROL: &str = "203.0.113.77:1935";

    // RFC 4787 4.1: endpoint-independent mapping reuses one port for every remote.
    #[test]
    fn cone_nats_reuse_the_mapping_for_every_remote() {
        let mut n = nat(NatType::PortRestrictedCone);
        let mut notes = Vec::new();
        let to_bob = n
            .outbound(t(0), a(ALICE), a(BOB), &mut notes)
            .expect("mapped");
        let to_carol = n
            .outbound(t(0), a(ALICE), a(CAROL), &mut notes)
            .expect("mapped");
        assert_eq!(to_bob, to_carol);
        assert_eq!(to_bob, a("198.51.100.1:49152"));
        assert_eq!(notes.len(), 1, "{notes:?}");
    }

    // RFC 4787 4.1: address-and-port-dependent mapping gives each remote its own port.
    #[test]
    fn symmetric_nats_map_each_remote_separately() {
        let mut n = nat(NatType::Symmetric);
        let mut notes = Vec::new();
        let to_bob = n
            .outbound(t(0), a(ALICE), a(BOB), &mut notes)
            .expect("mapped");
        let to_bob2 = n
            .outbound(t(0), a(ALICE), a(BOB_OTHER_PORT), &mut notes)
            .expect("mapped");
        assert_ne!(to_bob.port(), to_bob2.port());
        assert_eq!(n.mapping_count(), 2);
    }

    // RFC 4787 5: the three filtering behaviours, one remote at a time.
    #[test]
    fn filtering_admits_what_each_behaviour_allows() {
        let cases = [
            (NatType::FullCone, [true, true, true]),
            (NatType::RestrictedCone, [true, true, false]),
            (NatType::PortRestrictedCone, [true, false, false]),
        ];
        for (kind, expected) in cases {
            let mut n = nat(kind);
            let mut notes = Vec::new();
            let ext = n
                .outbound(t(0), a(ALICE), a(BOB), &mut notes)
                .expect("mapped");
            let got: Vec<bool> = [BOB, BOB_OTHER_PORT, CAROL]
                .iter()
                .map(|r| n.inbound(t(1), ext.port(), a(r), &mut notes).is_ok())
                .collect();
            assert_eq!(got, expected, "{kind:?}");
            assert_eq!(
                n.inbound(t(1), ext.port(), a(BOB), &mut notes),
                Ok(a(ALICE)),
                "{kind:?} rewrites to the inside address"
            );
        }
        let mut n = nat(NatType::PortRestrictedCone);
        let mut notes = Vec::new();
        assert_eq!(
            n.inbound(t(0), 50000, a(BOB), &mut notes),
            Err(DropReason::NatNoMapping)
        );
        let ext = n
            .outbound(t(0), a(ALICE), a(BOB), &mut notes)
            .expect("mapped");
        assert_eq!(
            n.inbound(t(0), ext.port(), a(CAROL), &mut notes),
            Err(DropReason::NatFiltered)
        );
    }

    // RFC 4787 REQ-5/REQ-6: mappings time out unless outbound traffic refreshes them.
    #[test]
    fn mappings_expire_after_the_idle_timeout() {
        let mut n = nat(NatType::FullCone);
        let mut notes = Vec::new();
        let ext = n
            .outbound(t(0), a(ALICE), a(BOB), &mut notes)
            .expect("mapped");
        let id = match notes[0] {
            NatNote::Mapped { id, .. } => id,
            ref other => panic!("{other:?}"),
        };
        assert_eq!(n.deadline(id), Some(t(120)));
        n.outbound(t(60), a(ALICE), a(BOB), &mut notes)
            .expect("refresh");
        assert_eq!(n.check_expiry(t(120), id, &mut notes), Some(t(180)));
        // Inbound does not refresh by default.
        n.inbound(t(179), ext.port(), a(BOB), &mut notes)
            .expect("still mapped");
        assert_eq!(n.check_expiry(t(180), id, &mut notes), None);
        assert!(matches!(
            notes.last(),
            Some(NatNote::Expired { why: "timeout", .. })
        ));
        assert_eq!(
            n.inbound(t(181), ext.port(), a(BOB), &mut notes),
            Err(DropReason::NatNoMapping)
        );
    }

    #[test]
    fn an_expired_mapping_is_replaced_by_a_new_port() {
        let mut n = nat(NatType::FullCone);
        let mut notes = Vec::new();
        let first = n
            .outbound(t(0), a(ALICE), a(BOB), &mut notes)
            .expect("mapped");
        let second = n
            .outbound(t(500), a(ALICE), a(BOB), &mut notes)
            .expect("mapped");
        assert_eq!(
            second.port(),
            first.port() + 1,
            "sequential allocation moves on"
        );
        assert!(
            matches!(notes[1], NatNote::Expired { why: "timeout", .. }),
            "{notes:?}"
        );
    }

    #[test]
    fn rebinding_moves_the_mapping_and_the_old_port_dies() {
        let mut n = nat(NatType::FullCone);
        let mut notes = Vec::new();
        let old = n
            .outbound(t(0), a(ALICE), a(BOB), &mut notes)
            .expect("mapped");
        n.rebind(t(1), None, &mut notes);
        let new = n
            .outbound(t(2), a(ALICE), a(BOB), &mut notes)
            .expect("mapped");
        assert_ne!(old, new);
        assert!(notes.iter().any(|x| *x
            == NatNote::Rebound {
                internal: a(ALICE),
                old,
                new
            }));
        assert_eq!(
            n.inbound(t(2), old.port(), a(BOB), &mut notes),
            Err(DropReason::NatNoMapping)
        );
        assert_eq!(
            n.inbound(t(2), new.port(), a(BOB), &mut notes),
            Ok(a(ALICE))
        );
    }

    #[test]
    fn port_allocation_preserves_or_counts_or_draws_and_runs_out() {
        let mut config = NatConfig::of_type(NatType::Symmetric);
        config.port_allocation = PortAllocation::Preserve;
        config.ports = (40000, 40001);
        let mut n = Nat::new(
            config.clone(),
            OUT.parse().expect("ip"),
            SimRng::stream(1, "n"),
        );
        let mut notes = Vec::new();
        assert_eq!(
            n.outbound(t(0), a(ALICE), a(BOB), &mut notes)
                .map(|x| x.port()),
            Ok(1935)
        );
        // 1935 is now taken: fall back to the range.
        assert_eq!(
            n.outbound(t(0), a(ALICE), a(CAROL), &mut notes)
                .map(|x| x.port()),
            Ok(40000)
        );
        assert_eq!(
            n.outbound(t(0), a(ALICE), a(BOB_OTHER_PORT), &mut notes)
                .map(|x| x.port()),
            Ok(40001)
        );
        assert_eq!(
            n.outbound(t(0), a(ALICE), a("203.0.113.5:1"), &mut notes),
            Err(DropReason::NatPortsExhausted)
        );

        config.port_allocation = PortAllocation::Random;
        config.ports = (40000, 40999);
        let ports = |seed| {
            let mut n = Nat::new(
                config.clone(),
                OUT.parse().expect("ip"),
                SimRng::stream(seed, "n"),
            );
            let mut notes = Vec::new();
            (0..20)
                .map(|i| {
                    let remote = SocketAddr::new(a(BOB).ip(), 1000 + i);
                    n.outbound(t(0), a(ALICE), remote, &mut notes)
                        .map(|x| x.port())
                })
                .collect::<Result<Vec<u16>, _>>()
                .expect("ports")
        };
        let p1 = ports(1);
        assert_eq!(p1, ports(1), "same seed, same ports");
        assert_ne!(p1, ports(2), "another seed, other ports");
        assert!(p1.iter().all(|p| (40000..=40999).contains(p)));
        let distinct: BTreeSet<_> = p1.iter().collect();
        assert_eq!(distinct.len(), p1.len());
    }

    #[test]
    fn flush_forgets_everything() {
        let mut n = nat(NatType::FullCone);
        let mut notes = Vec::new();
        let ext = n
            .outbound(t(0), a(ALICE), a(BOB), &mut notes)
            .expect("mapped");
        n.flush(&mut notes);
        assert_eq!(n.mapping_count(), 0);
        assert_eq!(
            n.inbound(t(0), ext.port(), a(BOB), &mut notes),
            Err(DropReason::NatNoMapping)
        );
    }
}
