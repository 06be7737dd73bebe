//! `rtmfp-sim`: a deterministic, event-driven network simulator for RTMFP.
//!
//! Under construction: the network model, scenarios and traces land here.
