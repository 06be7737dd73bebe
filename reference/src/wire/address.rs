//! Internet Socket Address with origin tag, RFC 7016 section 2.1.5.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::error::WireError;
use super::reader::Reader;

/// Where an address came from (the two-bit `origin` field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AddressOrigin {
    /// 0: unknown, unspecified or other.
    Unknown,
    /// 1: reported by its owner as a directly attached interface address.
    Local,
    /// 2: observed as the source of a received packet (reflexive).
    Reflexive,
    /// 3: a relay, proxy or introducer (Redirector or Forwarder).
    Relay,
}

impl AddressOrigin {
    /// The two-bit wire value.
    pub fn bits(self) -> u8 {
        match self {
            AddressOrigin::Unknown => 0,
            AddressOrigin::Local => 1,
            AddressOrigin::Reflexive => 2,
            AddressOrigin::Relay => 3,
        }
    }

    /// The origin for a two-bit wire value (higher bits ignored).
    pub fn from_bits(bits: u8) -> Self {
        match bits & 0x03 {
            0 => AddressOrigin::Unknown,
            1 => AddressOrigin::Local,
            2 => AddressOrigin::Reflexive,
            _ => AddressOrigin::Relay,
        }
    }
}

/// An IPv4 or IPv6 socket address tagged with its origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Address {
    /// The IP address and port.
    pub socket: SocketAddr,
    /// The origin tag.
    pub origin: AddressOrigin,
}

impl Address {
    /// A tagged address.
    pub fn new(socket: SocketAddr, origin: AddressOrigin) -> Self {
        Address { socket, origin }
    }

    /// Encoded size: 1 flag byte, 4 or 16 address bytes, 2 port bytes.
    pub fn encoded_len(&self) -> usize {
        match self.socket {
            SocketAddr::V4(_) => 7,
            SocketAddr::V6(_) => 19,
        }
    }

    /// Decodes an address; the reserved bits are ignored as section 2 requires.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let flags = r.u8("address flags")?;
        let origin = AddressOrigin::from_bits(flags);
        let ip = if flags & 0x80 != 0 {
            IpAddr::V6(Ipv6Addr::from(r.array::<16>("ipAddress")?))
        } else {
            IpAddr::V4(Ipv4Addr::from(r.array::<4>("ipAddress")?))
        };
        let port = r.u16("port")?;
        Ok(Address {
            socket: SocketAddr::new(ip, port),
            origin,
        })
    }

    /// Appends the encoding, with reserved bits zero.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let inet6 = matches!(self.socket, SocketAddr::V6(_));
        out.push(if inet6 { 0x80 } else { 0 } | self.origin.bits());
        match self.socket.ip() {
            IpAddr::V4(a) => out.extend_from_slice(&a.octets()),
            IpAddr::V6(a) => out.extend_from_slice(&a.octets()),
        }
        out.extend_from_slice(&self.socket.port().to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_and_ipv6_layouts() {
        // Hand-derived from the section 2.1.5 diagram.
        let a = Address::new("192.0.2.1:1935".parse().unwrap(), AddressOrigin::Reflexive);
        let mut out = Vec::new();
        a.encode(&mut out);
        assert_eq!(out, [0x02, 192, 0, 2, 1, 0x07, 0x8f]);
        assert_eq!(Address::decode(&mut Reader::new(&out, "t")).unwrap(), a);

        let b = Address::new("[2001:db8::1]:80".parse().unwrap(), AddressOrigin::Local);
        let mut out = Vec::new();
        b.encode(&mut out);
        assert_eq!(out.len(), 19);
        assert_eq!(out[0], 0x81);
        assert_eq!(Address::decode(&mut Reader::new(&out, "t")).unwrap(), b);
    }

    #[test]
    fn reserved_bits_are_ignored() {
        let bytes = [0x7d, 10, 0, 0, 1, 0, 80];
        let a = Address::decode(&mut Reader::new(&bytes, "t")).unwrap();
        assert_eq!(a.origin, AddressOrigin::Local);
        assert_eq!(a.socket, "10.0.0.1:80".parse::<SocketAddr>().unwrap());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        #[test]
        fn round_trip(a in crate::wire::chunk::testing::arb_address()) {
            let mut out = Vec::new();
            a.encode(&mut out);
            proptest::prop_assert_eq!(out.len(), a.encoded_len());
            let mut r = Reader::new(&out, "t");
            proptest::prop_assert_eq!(Address::decode(&mut r).unwrap(), a);
            proptest::prop_assert!(r.is_empty());
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..24)) {
            let mut r = Reader::new(&bytes, "t");
            if Address::decode(&mut r).is_ok() {
                proptest::prop_assert!(bytes.len() - r.remaining() >= 7);
            }
        }
    }

    #[test]
    fn truncated_ipv6_names_the_field() {
        let e = Address::decode(&mut Reader::new(&[0x80, 0, 0], "t")).unwrap_err();
        assert_eq!((e.field, e.offset), ("ipAddress", 1));
    }
}
