//! The same tokio driver under turmoil's simulated network and time: two
//! hosts, our driver on each, open a session (RFC 7016 3.5.1) and close it
//! (3.5.5) in simulated time.

mod driver_common;

use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use driver_common::{epd, initiator, responder, wait_for};
use rtmfp::driver::{DatagramSocket, Driver};
use rtmfp::endpoint::{CloseKind, CloseReason, Event};

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

const PORT: u16 = 1935;

// RFC 7016 3.5.1.1 and 3.5.5 over a simulated link with 50 ms latency.
#[test]
fn handshake_between_two_turmoil_hosts() {
    let mut sim = turmoil::Builder::new()
        .simulation_duration(Duration::from_secs(120))
        .min_message_latency(Duration::from_millis(50))
        .max_message_latency(Duration::from_millis(50))
        .rng_seed(7)
        .build();

    // What the server saw, checked after the run.
    let server_log: Arc<Mutex<Vec<Event>>> = Arc::default();
    let log = server_log.clone();
    sim.host("server", move || {
        let log = log.clone();
        async move {
            let socket = turmoil::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, PORT)).await?;
            let (driver, _handle, mut events) = Driver::new(responder(11), SimSocket(socket));
            tokio::spawn(driver.run());
            while let Some(e) = events.recv().await {
                log.lock().unwrap().push(e);
            }
            Ok(())
        }
    });

    sim.client("client", async move {
        let socket = turmoil::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).await?;
        let (driver, handle, mut events) = Driver::new(initiator(12), SimSocket(socket));
        let task = tokio::spawn(driver.run());
        let server = SocketAddr::new(turmoil::lookup("server"), PORT);
        let started = tokio::time::Instant::now();
        let s = handle.connect(epd(), vec![server]).await?;
        wait_for(&mut events, Duration::from_secs(30), |e| match e {
            Event::SessionOpened { session } if *session == s => Some(()),
            _ => None,
        })
        .await;
        // IHello, RHello, IIKeying, RIKeying: two round trips of 100 ms in simulated time.
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(200), "{took:?}");
        assert!(took < Duration::from_millis(400), "{took:?}");
        let info = handle.session(s).await?.expect("the session exists");
        assert_eq!(info.far_address, Some(server));
        handle.close(s, CloseKind::Orderly).await?;
        let (why, _) = wait_for(&mut events, Duration::from_secs(30), |e| match e {
            Event::SessionClosed { reason, .. } => Some(*reason),
            _ => None,
        })
        .await;
        assert_eq!(why, CloseReason::LocalOrderly);
        // Let the Close Request reach the server and its Close Ack come back.
        tokio::time::sleep(Duration::from_secs(1)).await;
        handle.shutdown();
        let stopped = task.await??;
        assert_eq!(stopped.stats.send_errors, 0);
        Ok(())
    });

    sim.run().unwrap();
    let log = server_log.lock().unwrap();
    assert!(
        matches!(log.first(), Some(Event::IncomingSession { .. })),
        "{log:?}"
    );
    assert!(
        log.iter().any(|e| matches!(
            e,
            Event::SessionClosed {
                reason: CloseReason::FarClose,
                ..
            }
        )),
        "{log:?}"
    );
}
