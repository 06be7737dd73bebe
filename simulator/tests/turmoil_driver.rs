//! The real tokio driver (`rtmfp::driver`) under turmoil 0.7.2's simulated network and time,
//! through a NAT that rebinds (RFC 7016 3.5.1 handshake, 3.5.4.2 address mobility).
//!
//! turmoil hosts keep one fixed IP and never rewrite addresses, so the NAT is a relay host,
//! as simulator/README.md describes: alice sends to the relay, which forwards each datagram to
//! the server from its "mapping" socket and sends the server's answers back; the server sees
//! the relay's mapping port as alice's address. At a simulated time the relay rebinds: it opens
//! a new mapping socket (a new outside port) and closes the old one, so the server's packets to
//! the old port are lost and alice's next packets come from a new address. The server must
//! verify the new address and follow it, keeping the same session.

use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rtmfp::crypto::flash::dh::DhGroup;
use rtmfp::crypto::flash::endpoint_discriminator::EndpointDiscriminator;
use rtmfp::crypto::flash::{FlashConfig, FlashProfile};
use rtmfp::driver::{DatagramSocket, Driver};
use rtmfp::endpoint::{Endpoint, EndpointConfig, Event};
use rtmfp::random::SeededRandom;

/// turmoil's UDP socket as a driver socket.
struct SimSocket(turmoil::net::UdpSocket);

impl DatagramSocket for SimSocket {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }

    fn send_to(
        &self,
        data: &[u8],
        to: SocketAddr,
    ) -> impl Future<Output = io::Result<usize>> + Send {
        self.0.send_to(data, to)
    }

    fn recv_from(
        &self,
        buf: &mut [u8],
    ) -> impl Future<Output = io::Result<(usize, SocketAddr)>> + Send {
        self.0.recv_from(buf)
    }
}

const SERVER_PORT: u16 = 1935;
const RELAY_PORT: u16 = 1935;
const HOSTNAME: &str = "server.example";
/// When the relay moves alice's mapping to a new outside port.
const REBIND_AT: Duration = Duration::from_secs(5);

fn endpoint(seed: u64, hostname: Option<&str>, keepalive: Duration) -> Endpoint {
    let flash = FlashConfig {
        groups: vec![DhGroup::Modp1024],
        hostname: hostname.map(|h| h.as_bytes().to_vec()),
        ..FlashConfig::default()
    };
    let mut rng = SeededRandom::new(seed);
    let profile = FlashProfile::new(flash, &mut rng).expect("a valid Flash configuration");
    let mut config = EndpointConfig::default();
    config.keepalive.idle = Some(keepalive);
    Endpoint::new(config, Box::new(profile), Box::new(rng))
}

/// Relays alice's datagrams to the server through a mapping socket, and the server's back to
/// alice; at `REBIND_AT` replaces the mapping socket by a new one. Admits on the mapping only
/// datagrams from the server (port-restricted filtering).
async fn relay(server: SocketAddr) -> turmoil::Result {
    let inside = turmoil::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, RELAY_PORT)).await?;
    let mut mapping = turmoil::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 40000)).await?;
    let mut alice: Option<SocketAddr> = None;
    let rebind = tokio::time::sleep(REBIND_AT);
    tokio::pin!(rebind);
    let mut rebound = false;
    let (mut a, mut b) = (vec![0u8; 2048], vec![0u8; 2048]);
    loop {
        tokio::select! {
            got = inside.recv_from(&mut a) => {
                let (n, from) = got?;
                alice = Some(from);
                mapping.send_to(&a[..n], server).await?;
            }
            got = mapping.recv_from(&mut b) => {
                let (n, from) = got?;
                if let (Some(to), true) = (alice, from == server) {
                    inside.send_to(&b[..n], to).await?;
                }
            }
            () = &mut rebind, if !rebound => {
                rebound = true;
                mapping = turmoil::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 40001)).await?;
            }
        }
    }
}

// RFC 7016 3.5.1.1 (handshake through the relay) and 3.5.4.2 (the server verifies alice's new
// outside port after the rebinding and moves DESTADDR; the session survives).
#[test]
fn the_driver_opens_a_session_through_a_relay_nat_and_survives_its_rebinding() {
    let mut sim = turmoil::Builder::new()
        .simulation_duration(Duration::from_secs(60))
        .min_message_latency(Duration::from_millis(20))
        .max_message_latency(Duration::from_millis(20))
        .rng_seed(7)
        .build();

    let server_log: Arc<Mutex<Vec<Event>>> = Arc::default();
    let log = server_log.clone();
    sim.host("server", move || {
        let log = log.clone();
        async move {
            let socket =
                turmoil::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, SERVER_PORT)).await?;
            let ep = endpoint(11, Some(HOSTNAME), Duration::from_secs(1));
            let (driver, _handle, mut events) = Driver::new(ep, SimSocket(socket));
            tokio::spawn(driver.run());
            while let Some(e) = events.recv().await {
                if let Ok(mut l) = log.lock() {
                    l.push(e);
                }
            }
            Ok(())
        }
    });
    sim.host("nat", || async {
        relay(SocketAddr::new(turmoil::lookup("server"), SERVER_PORT)).await
    });

    sim.client("alice", async move {
        let socket = turmoil::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 50000)).await?;
        let ep = endpoint(12, None, Duration::from_secs(1));
        let (driver, handle, mut events) = Driver::new(ep, SimSocket(socket));
        let task = tokio::spawn(driver.run());
        let nat = SocketAddr::new(turmoil::lookup("nat"), RELAY_PORT);
        let epd = EndpointDiscriminator {
            required_hostname: Some(HOSTNAME.as_bytes().to_vec()),
            ..EndpointDiscriminator::default()
        }
        .encode();
        let started = tokio::time::Instant::now();
        let s = handle.connect(epd, vec![nat]).await?;
        let opened = tokio::time::timeout(Duration::from_secs(10), async {
            while let Some(e) = events.recv().await {
                if matches!(e, Event::SessionOpened { session } if session == s) {
                    return true;
                }
            }
            false
        })
        .await;
        assert_eq!(opened, Ok(true), "the session opens");
        // Two round trips through the relay: 4 x 2 hops of 20 ms.
        let took = started.elapsed();
        assert!(
            (Duration::from_millis(160)..Duration::from_millis(400)).contains(&took),
            "{took:?}"
        );
        // Keepalives every second carry the session across the rebinding at 5 s.
        tokio::time::sleep(Duration::from_secs(10)).await;
        let info = handle.session(s).await?.expect("the session exists");
        assert_eq!(info.state, rtmfp::session::SessionState::S_OPEN);
        while let Ok(e) = events.try_recv() {
            assert!(
                !matches!(e, Event::SessionClosed { .. }),
                "alice's session closed: {e:?}"
            );
        }
        handle.shutdown();
        task.await??;
        Ok(())
    });

    sim.run().expect("the simulation runs");
    let log = server_log.lock().expect("server log");
    let Some(Event::IncomingSession { session }) = log.first().cloned() else {
        panic!("no incoming session first: {log:?}");
    };
    let moves: Vec<(SocketAddr, SocketAddr)> = log
        .iter()
        .filter_map(|e| match e {
            Event::AddressChanged {
                session: s,
                from,
                to,
            } if *s == session => Some((*from, *to)),
            _ => None,
        })
        .collect();
    assert_eq!(moves.len(), 1, "{log:?}");
    let (from, to) = moves[0];
    assert_eq!((from.port(), to.port()), (40000, 40001), "{log:?}");
    assert_eq!(from.ip(), to.ip(), "the same relay host");
    assert!(
        !log.iter().any(|e| matches!(e, Event::SessionClosed { .. })),
        "{log:?}"
    );
}
