//! Writes pcap files of a small NAT and IPv6 scenario, one per link plus a merged one, to
//! show the capture format: `cargo run -p rtmfp-sim --example capture -- DIR`, then e.g.
//! `tshark -r DIR/all.pcap -o udp.check_checksum:TRUE`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use rtmfp::time::Instant;
use rtmfp_sim::{Node, Scenario, Sim, Transmit};

const SCENARIO: &str = "
duration: 1s
networks:
  home: { nat: { type: full-cone, address: 198.51.100.1 }, link: { latency: 5ms } }
hosts:
  alice: { network: home, address: 192.168.1.10:1935, link: { latency: 10ms } }
  bob: { address: 203.0.113.9:1935, link: { latency: 20ms } }
  v6a: { address: '[2001:db8::1]:1935', link: { latency: 3ms } }
  v6b: { address: '[2001:db8::2]:1935', link: { latency: 3ms } }
";

/// Sends three datagrams to `peer` 10 ms apart; answers everything it receives.
struct Ping {
    local: SocketAddr,
    peer: Option<SocketAddr>,
    left: u32,
    next: Option<Instant>,
    out: Vec<Transmit>,
}

impl Node for Ping {
    fn handle_datagram(&mut self, _: Instant, _: SocketAddr, from: SocketAddr, data: &[u8]) {
        if !data.starts_with(b"pong") {
            self.out.push(Transmit {
                local: self.local,
                destination: from,
                contents: b"pong".to_vec(),
            });
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if let Some(peer) = self.peer {
            self.out.push(Transmit {
                local: self.local,
                destination: peer,
                contents: b"ping".to_vec(),
            });
        }
        self.left = self.left.saturating_sub(1);
        self.next = (self.left > 0).then(|| now + Duration::from_millis(10));
    }

    fn poll_transmit(&mut self, _: Instant) -> Option<Transmit> {
        self.out.pop()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.next
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "capture".into()));
    std::fs::create_dir_all(&dir)?;
    let scenario: Scenario = Scenario::parse("capture", SCENARIO)?;
    let mut sim = Sim::new(&scenario.topology, scenario.seed, |h| {
        let peer = match h.name.as_str() {
            "alice" => Some("203.0.113.9:1935"),
            "v6a" => Some("[2001:db8::2]:1935"),
            _ => None,
        };
        Ping {
            local: h.address,
            peer: peer.and_then(|p| p.parse().ok()),
            left: 3,
            next: peer.map(|_| Instant::ZERO),
            out: Vec::new(),
        }
    });
    sim.enable_capture();
    sim.run(scenario.limits());
    let capture = sim.capture().ok_or("capture was enabled")?;
    for path in capture.write_dir(&dir)? {
        println!("{}", path.display());
    }
    let merged = dir.join("all.pcap");
    std::fs::write(&merged, capture.write_merged(Vec::new())?)?;
    println!("{}", merged.display());
    Ok(())
}
