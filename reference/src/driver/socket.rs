//! The datagram socket the driver runs on (RFC 7016 2.2.1: RTMFP runs over UDP).
//!
//! The driver needs only three operations, so any UDP-like socket fits:
//! tokio's real [`tokio::net::UdpSocket`], or a simulated one such as
//! turmoil's (wrapped in a newtype by the caller, since neither the trait nor
//! the type would be local to the caller's crate).

use core::future::Future;
use core::net::SocketAddr;
use std::io;

/// A UDP-like socket: unreliable datagrams to and from socket addresses.
///
/// `recv_from` must be cancel safe (the driver races it against timers and
/// commands), as tokio's and turmoil's are.
pub trait DatagramSocket: Send + Sync + 'static {
    /// The address the socket is bound to.
    fn local_addr(&self) -> io::Result<SocketAddr>;

    /// Sends one datagram to `to`.
    fn send_to(
        &self,
        data: &[u8],
        to: SocketAddr,
    ) -> impl Future<Output = io::Result<usize>> + Send;

    /// Receives one datagram into `buf`; returns its length and source.
    fn recv_from(
        &self,
        buf: &mut [u8],
    ) -> impl Future<Output = io::Result<(usize, SocketAddr)>> + Send;
}

impl DatagramSocket for tokio::net::UdpSocket {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        tokio::net::UdpSocket::local_addr(self)
    }

    fn send_to(
        &self,
        data: &[u8],
        to: SocketAddr,
    ) -> impl Future<Output = io::Result<usize>> + Send {
        tokio::net::UdpSocket::send_to(self, data, to)
    }

    fn recv_from(
        &self,
        buf: &mut [u8],
    ) -> impl Future<Output = io::Result<(usize, SocketAddr)>> + Send {
        tokio::net::UdpSocket::recv_from(self, buf)
    }
}
