//! `rtmfp-sim`: a deterministic, event-driven network simulator for RTMFP.

pub mod fault;
pub mod link;
pub mod nat;
pub mod node;
pub mod rng;
pub mod trace;
pub mod units;
