//! `rtmfp`: a readable, sans-IO reference implementation of the Secure Real-Time
//! Media Flow Protocol (RFC 7016) and its Flash profile (RFC 7425).
//!
//! The core never touches a socket, a clock or a global random number generator:
//! callers hand it `(now, from, datagram)` and take datagrams, events and the
//! next deadline back. Modules are named after the RFC concepts they implement.

pub mod congestion;
pub mod crypto;
#[cfg(feature = "driver")]
pub mod driver;
pub mod endpoint;
pub mod flow;
pub mod random;
pub mod session;
pub mod time;
pub mod wire;
