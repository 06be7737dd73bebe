//! Packet captures of what crossed each link, as classic pcap files Wireshark opens.
//!
//! Each link is tapped at the far end of each direction: a datagram is captured when it comes
//! out of the wire (after any corruption or truncation, with the addresses it has on that
//! link, so NAT translations show up on the NAT's own link). Lost datagrams are therefore
//! absent from a capture; the trace says where and why they were dropped.
//!
//! One file per link (both directions) is the main export, like a tap on one cable: every
//! datagram appears in it at most once per direction and timestamps are the virtual times it
//! arrived. [`Capture::write_merged`] also writes all links into one file, in time order,
//! where a datagram that crossed several links appears once per link.
//!
//! Files use link type `LINKTYPE_RAW` (101): each record is an IPv4 or IPv6 packet with a
//! synthesised header and a UDP header with a correct checksum, so dissectors work without
//! an Ethernet layer (checked with `tshark -o udp.check_checksum:TRUE`). The headers describe
//! what arrived, so a datagram corrupted on the wire still has a valid checksum here; the
//! trace's `corrupted` line says which bit flipped. The global header is written little-endian whatever the machine, so a
//! capture's bytes depend only on the run. `pcap-file` 2.0.0 writes the records.

use core::time::Duration;
use std::collections::BTreeMap;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::{DataLink, Endianness, PcapError, TsResolution};
use rtmfp::time::Instant;

/// Largest IP packet a record can describe (the IPv4 total-length field is 16 bits).
const MAX_IP_PACKET: usize = 65_535;

/// One datagram as it came out of a link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapturedPacket {
    /// Virtual time it came out.
    pub at: Instant,
    /// Source on that link.
    pub src: SocketAddr,
    /// Destination on that link.
    pub dst: SocketAddr,
    /// UDP payload.
    pub data: Vec<u8>,
}

/// Everything that crossed every link, by link name.
#[derive(Clone, Debug, Default)]
pub struct Capture {
    links: BTreeMap<Arc<str>, Vec<CapturedPacket>>,
}

impl Capture {
    /// An empty capture.
    pub fn new() -> Capture {
        Capture::default()
    }

    /// Records a datagram coming out of `link`.
    pub fn record(&mut self, link: &Arc<str>, packet: CapturedPacket) {
        self.links.entry(link.clone()).or_default().push(packet);
    }

    /// Link names that carried something, in name order.
    pub fn link_names(&self) -> impl Iterator<Item = &str> {
        self.links.keys().map(|k| &**k)
    }

    /// What crossed `link`, in the order it came out.
    pub fn packets(&self, link: &str) -> &[CapturedPacket] {
        self.links.get(link).map_or(&[], Vec::as_slice)
    }

    /// Writes `link`'s capture as a pcap file.
    pub fn write_link<W: Write>(&self, link: &str, out: W) -> Result<W, PcapError> {
        write_pcap(out, self.packets(link).iter())
    }

    /// Writes every link into one pcap file, ordered by time (ties in link-name order).
    pub fn write_merged<W: Write>(&self, out: W) -> Result<W, PcapError> {
        let mut all: Vec<&CapturedPacket> = self.links.values().flatten().collect();
        all.sort_by_key(|p| p.at);
        write_pcap(out, all.into_iter())
    }

    /// Writes one `<link>.pcap` per link into `dir` (which must exist) and returns the paths.
    pub fn write_dir(&self, dir: &Path) -> Result<Vec<PathBuf>, PcapError> {
        let mut paths = Vec::new();
        for name in self.links.keys() {
            let path = dir.join(format!("{name}.pcap"));
            let file = std::fs::File::create(&path).map_err(PcapError::IoError)?;
            let file = self.write_link(name, std::io::BufWriter::new(file))?;
            file.into_inner()
                .map_err(|e| PcapError::IoError(e.into_error()))?;
            paths.push(path);
        }
        Ok(paths)
    }
}

/// Writes `packets` as a classic pcap stream with raw-IP records.
pub fn write_pcap<'a, W: Write>(
    out: W,
    packets: impl Iterator<Item = &'a CapturedPacket>,
) -> Result<W, PcapError> {
    let header = PcapHeader {
        version_major: 2,
        version_minor: 4,
        ts_correction: 0,
        ts_accuracy: 0,
        snaplen: MAX_IP_PACKET as u32,
        datalink: DataLink::RAW,
        ts_resolution: TsResolution::MicroSecond,
        endianness: Endianness::Little,
    };
    let mut writer = PcapWriter::with_header(out, header)?;
    for (index, p) in packets.enumerate() {
        let Some((packet, orig_len)) = ip_udp_packet(p.src, p.dst, &p.data, index as u16) else {
            continue;
        };
        let at = Duration::from_micros(p.at.as_micros());
        writer.write_packet(&PcapPacket::new(at, orig_len, &packet))?;
    }
    Ok(writer.into_writer())
}

/// The internet checksum (RFC 1071) of `chunks` laid end to end.
fn internet_checksum(chunks: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    let mut odd: Option<u8> = None;
    for chunk in chunks {
        for &byte in *chunk {
            match odd.take() {
                Some(high) => sum += u32::from(u16::from_be_bytes([high, byte])),
                None => odd = Some(byte),
            }
        }
    }
    if let Some(high) = odd {
        sum += u32::from(u16::from_be_bytes([high, 0]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An IP packet carrying `payload` in UDP from `src` to `dst`, cut to fit a record if
/// needed, and the length the whole packet would have. `None` if the families differ.
/// `ip_id` fills the IPv4 identification field.
pub fn ip_udp_packet(
    src: SocketAddr,
    dst: SocketAddr,
    payload: &[u8],
    ip_id: u16,
) -> Option<(Vec<u8>, u32)> {
    let udp_len = 8 + payload.len();
    let mut udp = Vec::with_capacity(udp_len);
    udp.extend_from_slice(&src.port().to_be_bytes());
    udp.extend_from_slice(&dst.port().to_be_bytes());
    udp.extend_from_slice(&u16::try_from(udp_len).unwrap_or(u16::MAX).to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(payload);
    let udp_len_field = u16::try_from(udp_len).unwrap_or(u16::MAX).to_be_bytes();
    let mut packet = match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let pseudo = ipv4_pseudo_header(s, d, udp_len_field);
            set_udp_checksum(&mut udp, &pseudo);
            let total = u16::try_from(20 + udp_len).unwrap_or(u16::MAX);
            let mut ip = vec![0x45, 0];
            ip.extend_from_slice(&total.to_be_bytes());
            ip.extend_from_slice(&ip_id.to_be_bytes());
            ip.extend_from_slice(&[0x40, 0]); // don't fragment
            ip.extend_from_slice(&[64, 17, 0, 0]); // TTL, UDP, checksum placeholder
            ip.extend_from_slice(&s.octets());
            ip.extend_from_slice(&d.octets());
            let checksum = internet_checksum(&[&ip]);
            ip[10..12].copy_from_slice(&checksum.to_be_bytes());
            ip
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let pseudo = ipv6_pseudo_header(s, d, udp_len);
            set_udp_checksum(&mut udp, &pseudo);
            let mut ip = vec![0x60, 0, 0, 0];
            ip.extend_from_slice(&udp_len_field);
            ip.extend_from_slice(&[17, 64]); // next header UDP, hop limit
            ip.extend_from_slice(&s.octets());
            ip.extend_from_slice(&d.octets());
            ip
        }
        _ => return None,
    };
    packet.extend_from_slice(&udp);
    let orig_len = u32::try_from(packet.len()).unwrap_or(u32::MAX);
    packet.truncate(MAX_IP_PACKET);
    Some((packet, orig_len))
}

fn ipv4_pseudo_header(s: Ipv4Addr, d: Ipv4Addr, udp_len: [u8; 2]) -> Vec<u8> {
    let mut p = Vec::with_capacity(12);
    p.extend_from_slice(&s.octets());
    p.extend_from_slice(&d.octets());
    p.extend_from_slice(&[0, 17]);
    p.extend_from_slice(&udp_len);
    p
}

fn ipv6_pseudo_header(s: Ipv6Addr, d: Ipv6Addr, udp_len: usize) -> Vec<u8> {
    let mut p = Vec::with_capacity(40);
    p.extend_from_slice(&s.octets());
    p.extend_from_slice(&d.octets());
    p.extend_from_slice(&u32::try_from(udp_len).unwrap_or(u32::MAX).to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 17]);
    p
}

/// Fills in the UDP checksum; zero is sent as all ones (RFC 768).
fn set_udp_checksum(udp: &mut [u8], pseudo: &[u8]) {
    let mut checksum = internet_checksum(&[pseudo, udp]);
    if checksum == 0 {
        checksum = 0xffff;
    }
    if let Some(field) = udp.get_mut(6..8) {
        field.copy_from_slice(&checksum.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcap_file::pcap::PcapReader;

    fn a(s: &str) -> SocketAddr {
        s.parse().expect("test address")
    }

    // RFC 1071 section 3 works this example: the words 0001 f203 f4f5 f6f7 sum to 0xddf2
    // (with end-around carry), so the checksum is its complement, 0x220d.
    #[test]
    fn internet_checksum_matches_rfc_1071_example() {
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(internet_checksum(&[&data]), 0x220d);
        // Split anywhere, including mid-word, the sum is the same.
        assert_eq!(internet_checksum(&[&data[..3], &data[3..]]), 0x220d);
    }

    // A header or datagram with a correct checksum sums (with its checksum) to all ones, so
    // recomputing over it gives zero (RFC 1071 section 1).
    #[test]
    fn synthesised_headers_verify() {
        let (v4, len) = ip_udp_packet(a("192.0.2.1:1935"), a("198.51.100.7:40000"), b"hello", 1)
            .expect("same family");
        assert_eq!(len as usize, v4.len());
        assert_eq!(v4.len(), 20 + 8 + 5);
        assert_eq!(internet_checksum(&[&v4[..20]]), 0, "IPv4 header checksum");
        let pseudo = ipv4_pseudo_header(
            "192.0.2.1".parse().expect("ip"),
            "198.51.100.7".parse().expect("ip"),
            [0, 13],
        );
        assert_eq!(internet_checksum(&[&pseudo, &v4[20..]]), 0, "UDP checksum");
        assert_eq!(
            &v4[20..24],
            &[0x07, 0x8f, 0x9c, 0x40],
            "ports 1935 and 40000"
        );

        let (v6, _) = ip_udp_packet(a("[2001:db8::1]:1935"), a("[2001:db8::2]:1935"), b"hi!", 0)
            .expect("same family");
        assert_eq!(v6.len(), 40 + 8 + 3);
        assert_eq!(v6[0] >> 4, 6);
        let pseudo = ipv6_pseudo_header(
            "2001:db8::1".parse().expect("ip"),
            "2001:db8::2".parse().expect("ip"),
            11,
        );
        assert_eq!(internet_checksum(&[&pseudo, &v6[40..]]), 0, "UDP checksum");

        assert!(ip_udp_packet(a("192.0.2.1:1"), a("[2001:db8::2]:1"), b"", 0).is_none());
    }

    #[test]
    fn captures_read_back_with_their_times() {
        let mut capture = Capture::new();
        let link: Arc<str> = "alice@internet".into();
        capture.record(
            &link,
            CapturedPacket {
                at: Instant::from_micros(1_500_002),
                src: a("192.0.2.1:1935"),
                dst: a("192.0.2.2:1935"),
                data: vec![1, 2, 3],
            },
        );
        let bytes = capture
            .write_link("alice@internet", Vec::new())
            .expect("written");
        // Little-endian magic for microsecond pcap.
        assert_eq!(&bytes[..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
        let mut reader = PcapReader::new(&bytes[..]).expect("header");
        assert_eq!(reader.header().datalink, DataLink::RAW);
        let packet = reader.next_packet().expect("one packet").expect("valid");
        assert_eq!(packet.timestamp, Duration::from_micros(1_500_002));
        assert_eq!(packet.data.len(), 20 + 8 + 3);
        assert_eq!(&packet.data[28..], &[1, 2, 3]);
        assert!(reader.next_packet().is_none());
    }
}
