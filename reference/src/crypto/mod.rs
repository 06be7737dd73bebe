//! Cryptography profiles, RFC 7016 sections 2.2.3 and 3.2; the Flash profile is RFC 7425 section 4.
//!
//! [`profile`] holds the interface a session drives ([`CryptoProfile`],
//! [`PacketCipher`]); [`flash`] is RFC 7425's profile, the one real
//! implementation; [`transparent`] is a readable stand-in for tests; and
//! [`inspect`] decrypts captured datagrams for the CLI and the simulator.

pub mod error;
pub mod flash;
pub mod inspect;
pub mod profile;
pub mod transparent;

pub use error::{CryptoError, Structure};
pub use profile::{
    CryptoProfile, Decrypted, InitiatorKeying, PacketCipher, ResponderKeying, SessionKeys,
};
