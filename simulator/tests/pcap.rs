//! Captures through the engine: each link's file shows the addresses on that link and reads
//! back as raw IP with UDP.

mod common;

use std::time::Duration;

use common::{Chatter, run};
use pcap_file::DataLink;
use pcap_file::pcap::PcapReader;

const TEXT: &str = "duration: 1s
networks:
  home: { nat: { type: full-cone, address: 198.51.100.1 }, link: { latency: 5ms } }
hosts:
  alice: { network: home, address: 192.168.1.10:1935, link: { latency: 10ms } }
  bob: { address: 203.0.113.9:1935, link: { latency: 20ms, down: { loss: 1 } } }
";

/// (timestamp in us, source ip:port, destination ip:port, payload) of each record.
fn read(bytes: &[u8]) -> Vec<(u128, String, String, Vec<u8>)> {
    let mut reader = PcapReader::new(bytes).expect("pcap header");
    assert_eq!(reader.header().datalink, DataLink::RAW);
    let mut out = Vec::new();
    while let Some(packet) = reader.next_packet() {
        let p = packet.expect("record");
        let d = &p.data;
        assert_eq!(d[0] >> 4, 4, "IPv4");
        assert_eq!(d[9], 17, "UDP");
        let ip = |o: usize| format!("{}.{}.{}.{}", d[o], d[o + 1], d[o + 2], d[o + 3]);
        let port = |o: usize| u16::from_be_bytes([d[o], d[o + 1]]);
        let udp_len = usize::from(u16::from_be_bytes([d[24], d[25]]));
        assert_eq!(udp_len, d.len() - 20);
        out.push((
            p.timestamp.as_micros(),
            format!("{}:{}", ip(12), port(20)),
            format!("{}:{}", ip(16), port(22)),
            d[28..].to_vec(),
        ));
    }
    out
}

#[test]
fn each_link_capture_shows_that_links_addresses_and_arrival_times() {
    let mut sim = {
        let s = common::scenario(TEXT);
        rtmfp_sim::Sim::new(&s.topology, 1, |h| {
            let c = Chatter::new(h);
            if h.name == "alice" {
                c.talk("203.0.113.9:1935", 2, 0, Duration::from_millis(100))
            } else {
                c
            }
        })
    };
    sim.enable_capture();
    sim.run(rtmfp_sim::Limits::default());
    let capture = sim.capture().expect("enabled");
    let names: Vec<&str> = capture.link_names().collect();
    // bob's down link loses everything, so nothing ever comes out of it.
    assert_eq!(names, ["alice@home", "home@internet"]);

    let inside = read(&capture.write_link("alice@home", Vec::new()).expect("pcap"));
    assert_eq!(inside.len(), 2);
    assert_eq!(
        inside[0],
        (
            10_000,
            "192.168.1.10:1935".into(),
            "203.0.113.9:1935".into(),
            b"alice 0".to_vec()
        )
    );
    assert_eq!(inside[1].0, 110_000);

    // On the NAT's link the source is the mapping, 5 ms later.
    let outside = read(
        &capture
            .write_link("home@internet", Vec::new())
            .expect("pcap"),
    );
    assert_eq!(
        outside[0],
        (
            15_000,
            "198.51.100.1:49152".into(),
            "203.0.113.9:1935".into(),
            b"alice 0".to_vec()
        )
    );

    let merged = read(&capture.write_merged(Vec::new()).expect("pcap"));
    let times: Vec<u128> = merged.iter().map(|r| r.0).collect();
    assert_eq!(times, [10_000, 15_000, 110_000, 115_000]);

    let dir = std::env::temp_dir().join(format!("rtmfp-sim-pcap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let paths = capture.write_dir(&dir).expect("files");
    assert_eq!(paths.len(), 2);
    let on_disk = std::fs::read(dir.join("home@internet.pcap")).expect("file");
    assert_eq!(read(&on_disk), outside);
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn captures_are_off_unless_asked_for() {
    let sim = run(TEXT, 1, Chatter::new);
    assert!(sim.capture().is_none());
}
