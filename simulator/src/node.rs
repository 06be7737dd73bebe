//! The interface between the simulated network and whatever runs on a host (sans-IO, in the
//! manner of quinn-proto's `Endpoint`/`Connection`).
//!
//! The simulator owns time and the network; a [`Node`] owns protocol state. The simulator hands
//! a node each datagram that reaches its host and calls it back when the deadline it asked for
//! has passed; after every such call it drains the node's outgoing datagrams with
//! [`Node::poll_transmit`] and asks for its next deadline with [`Node::poll_timeout`]. A node
//! never sees a socket, a clock or a global random number generator.

use std::net::SocketAddr;

use rtmfp::time::Instant;

/// One datagram a node wants sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// The local address to send from. It must be the host's current address, or the
    /// unspecified address (`0.0.0.0` or `::`) with the host's port, meaning "whatever address
    /// the host has now" (as a socket bound to the wildcard address would do).
    pub local: SocketAddr,
    /// Where to send it.
    pub destination: SocketAddr,
    /// The UDP payload.
    pub contents: Vec<u8>,
}

/// Something that runs on a simulated host: an RTMFP endpoint, a tester, or a small test node.
pub trait Node {
    /// A datagram arrived on local address `local` from `from`.
    fn handle_datagram(&mut self, now: Instant, local: SocketAddr, from: SocketAddr, data: &[u8]);

    /// The deadline returned by [`Node::poll_timeout`] has passed.
    fn handle_timeout(&mut self, now: Instant);

    /// The next datagram to send, if any. Called until it returns `None`.
    fn poll_transmit(&mut self, now: Instant) -> Option<Transmit>;

    /// When the node next wants [`Node::handle_timeout`] called, if ever.
    fn poll_timeout(&self) -> Option<Instant>;

    /// The host's addresses changed (it moved to another network, or went offline, in which
    /// case `addrs` is empty).
    fn addresses_changed(&mut self, now: Instant, addrs: &[SocketAddr]) {
        let _ = (now, addrs);
    }

    /// The next line the node wants in the trace (an application event such as "session
    /// opened"), if any. Called until it returns `None` after every call into the node, so a
    /// note appears at the virtual time of the call that produced it, before the datagrams
    /// that call sent. Notes must be deterministic text.
    fn poll_note(&mut self) -> Option<String> {
        None
    }
}

impl<T: Node + ?Sized> Node for Box<T> {
    fn handle_datagram(&mut self, now: Instant, local: SocketAddr, from: SocketAddr, data: &[u8]) {
        (**self).handle_datagram(now, local, from, data);
    }

    fn handle_timeout(&mut self, now: Instant) {
        (**self).handle_timeout(now);
    }

    fn poll_transmit(&mut self, now: Instant) -> Option<Transmit> {
        (**self).poll_transmit(now)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        (**self).poll_timeout()
    }

    fn addresses_changed(&mut self, now: Instant, addrs: &[SocketAddr]) {
        (**self).addresses_changed(now, addrs);
    }

    fn poll_note(&mut self) -> Option<String> {
        (**self).poll_note()
    }
}
