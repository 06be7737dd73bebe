//! The tokio driver over real UDP on 127.0.0.1: two endpoints in one process
//! open a session (RFC 7016 3.5.1), log their keys and close it (3.5.5).

mod driver_common;

use std::time::Duration;

use driver_common::{epd, initiator, responder, wait_for};
use rtmfp::crypto::flash::certificate::Certificate;
use rtmfp::crypto::flash::keylog::KeyLog;
use rtmfp::crypto::flash::session_keys::Role;
use rtmfp::driver::{Driver, KeyLogFile};
use rtmfp::endpoint::{CloseKind, CloseReason, Event};
use rtmfp::session::SessionState;
use tokio::net::UdpSocket;

const LIMIT: Duration = Duration::from_secs(20);

// RFC 7016 3.5.1.1 (handshake), 3.5.5 (orderly close); RFC 7425 4.6 (keys).
#[tokio::test]
async fn handshake_and_close_over_loopback_udp() {
    let keylog_path =
        std::env::temp_dir().join(format!("rtmfp-driver-udp-{}.keylog", std::process::id()));
    let _ = std::fs::remove_file(&keylog_path);

    let server_socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let server_addr = server_socket.local_addr().unwrap();
    let (server, server_handle, mut server_events) = Driver::new(responder(1), server_socket);
    let server = server.with_key_log(KeyLogFile::open(&keylog_path).unwrap());
    let server_task = tokio::spawn(server.run());

    let client_socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let client_addr = client_socket.local_addr().unwrap();
    let (client, client_handle, mut client_events) = Driver::new(initiator(2), client_socket);
    let client = client.with_key_log(KeyLogFile::open(&keylog_path).unwrap());
    let client_task = tokio::spawn(client.run());

    let s = client_handle
        .connect(epd(), vec![server_addr])
        .await
        .unwrap();
    let (opened, _) = wait_for(&mut client_events, LIMIT, |e| match e {
        Event::SessionOpened { session } => Some(*session),
        _ => None,
    })
    .await;
    assert_eq!(opened, s);
    let (incoming, _) = wait_for(&mut server_events, LIMIT, |e| match e {
        Event::IncomingSession { session } => Some(*session),
        _ => None,
    })
    .await;

    let ci = client_handle.session(s).await.unwrap().unwrap();
    let si = server_handle.session(incoming).await.unwrap().unwrap();
    assert_eq!(ci.state, SessionState::S_OPEN);
    assert_eq!(si.state, SessionState::S_OPEN);
    assert_eq!(ci.far_address, Some(server_addr));
    assert_eq!(si.far_address, Some(client_addr));
    // RFC 7425 4.6.5: each end's near nonce is the other's far nonce.
    assert_eq!(ci.near_nonce, si.far_nonce);
    assert_eq!(ci.far_nonce, si.near_nonce);
    // The initiator holds the responder's certificate, which names our hostname.
    let cert = Certificate::decode(ci.far_certificate.as_deref().unwrap()).unwrap();
    assert_eq!(
        cert.hostname.as_deref(),
        Some(driver_common::HOSTNAME.as_bytes())
    );

    // Both key-log lines were appended (spec/keylog.md), and they mirror each other.
    let text = std::fs::read_to_string(&keylog_path).unwrap();
    let logs = KeyLog::parse_all(&text).unwrap();
    assert_eq!(logs.len(), 2, "{text}");
    let client_log = logs.iter().find(|k| k.role == Role::Initiator).unwrap();
    let server_log = logs.iter().find(|k| k.role == Role::Responder).unwrap();
    assert_eq!(client_log.enc_key, server_log.dec_key);
    assert_eq!(client_log.dec_key, server_log.enc_key);
    assert_eq!(
        client_log.dh_group, 16,
        "both prefer group 16 (RFC 3526 section 5)"
    );
    assert_eq!(Some(&client_log.near_nonce), ci.near_nonce.as_ref());

    // Orderly close from the initiator: the responder hears a Close Request.
    client_handle.close(s, CloseKind::Orderly).await.unwrap();
    let (why, _) = wait_for(&mut server_events, LIMIT, |e| match e {
        Event::SessionClosed { reason, .. } => Some(*reason),
        _ => None,
    })
    .await;
    assert_eq!(why, CloseReason::FarClose);
    let (why, _) = wait_for(&mut client_events, LIMIT, |e| match e {
        Event::SessionClosed { reason, .. } => Some(*reason),
        _ => None,
    })
    .await;
    assert_eq!(why, CloseReason::LocalOrderly);

    client_handle.shutdown();
    server_handle.shutdown();
    let client = client_task.await.unwrap().unwrap();
    let server = server_task.await.unwrap().unwrap();
    assert_eq!(client.stats.send_errors, 0);
    assert_eq!(server.stats.send_errors, 0);
    assert_eq!(client.stats.key_log_errors, 0);
    assert!(client.endpoint.stats().datagrams_received >= 2);
    assert!(server.endpoint.stats().datagrams_received >= 2);
    let _ = std::fs::remove_file(&keylog_path);
}

// A handle outliving its driver gets an error, not a hang or a panic.
#[tokio::test]
async fn requests_after_shutdown_fail_cleanly() {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (driver, handle, _events) = Driver::new(responder(3), socket);
    let task = tokio::spawn(driver.run());
    assert!(handle.sessions().await.unwrap().is_empty());
    handle.shutdown();
    task.await.unwrap().unwrap();
    let far = "127.0.0.1:9".parse().unwrap();
    assert!(handle.connect(epd(), vec![far]).await.is_err());
    assert!(handle.sessions().await.is_err());
}

// Dropping every handle stops the driver too.
#[tokio::test]
async fn dropping_every_handle_stops_the_driver() {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (driver, handle, _events) = Driver::new(responder(4), socket);
    let task = tokio::spawn(driver.run());
    drop(handle);
    tokio::time::timeout(LIMIT, task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
