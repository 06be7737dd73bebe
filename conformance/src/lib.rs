//! `rtmfp-conformance`: the RTMFP conformance suite.
//!
//! Under construction: the requirement catalogue checks and the tester land here.
