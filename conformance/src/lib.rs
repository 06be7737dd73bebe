//! `rtmfp-conformance`: the RTMFP conformance suite.
//!
//! Today it holds the traceability tooling of `spec/` (spec/README.md): the typed requirement
//! catalogue and state machines ([`catalogue`]), the scan of `// spec:` annotations in the
//! workspace ([`trace`]), the consistency checks ([`checks`]), the coverage matrix
//! ([`coverage`]) and RFC text reading for the generators ([`rfc_text`]). The tester peer and
//! the certify command land here next.

pub mod catalogue;
pub mod checks;
pub mod coverage;
pub mod rfc_text;
pub mod trace;
