//! Shared pieces of the driver tests: Flash endpoints and bounded event waits.
#![allow(dead_code)]

use std::time::Duration;

use rtmfp::crypto::flash::endpoint_discriminator::EndpointDiscriminator;
use rtmfp::crypto::flash::{FlashConfig, FlashProfile};
use rtmfp::endpoint::{Endpoint, EndpointConfig, Event};
use rtmfp::random::SeededRandom;
use tokio::sync::mpsc::UnboundedReceiver;

/// The listener's certificate hostname.
pub const HOSTNAME: &str = "driver-test";

/// A Flash responder (ephemeral keys, RFC 7425 section 7) named [`HOSTNAME`].
pub fn responder(seed: u64) -> Endpoint {
    let flash = FlashConfig {
        hostname: Some(HOSTNAME.as_bytes().to_vec()),
        ..FlashConfig::server()
    };
    let mut rng = SeededRandom::new(seed);
    let profile = FlashProfile::new(flash, &mut rng).unwrap();
    Endpoint::new(EndpointConfig::default(), Box::new(profile), Box::new(rng))
}

/// A Flash initiator with static keys (a client, RFC 7425 section 7).
pub fn initiator(seed: u64) -> Endpoint {
    let mut rng = SeededRandom::new(seed);
    let profile = FlashProfile::new(FlashConfig::client(), &mut rng).unwrap();
    Endpoint::new(EndpointConfig::default(), Box::new(profile), Box::new(rng))
}

/// An EPD with Required Hostname [`HOSTNAME`] (RFC 7425 4.4.2.1).
pub fn epd() -> Vec<u8> {
    EndpointDiscriminator {
        required_hostname: Some(HOSTNAME.as_bytes().to_vec()),
        ..EndpointDiscriminator::default()
    }
    .encode()
}

/// Waits (at most `limit`) for the first event `pick` accepts; events before it are returned too.
pub async fn wait_for<T>(
    events: &mut UnboundedReceiver<Event>,
    limit: Duration,
    mut pick: impl FnMut(&Event) -> Option<T>,
) -> (T, Vec<Event>) {
    let mut seen = Vec::new();
    let found = tokio::time::timeout(limit, async {
        while let Some(e) = events.recv().await {
            if let Some(t) = pick(&e) {
                return Some(t);
            }
            seen.push(e);
        }
        None
    })
    .await;
    match found {
        Ok(Some(t)) => (t, seen),
        Ok(None) => panic!("the driver stopped; events so far: {seen:?}"),
        Err(_) => panic!("no such event within {limit:?}; events so far: {seen:?}"),
    }
}
