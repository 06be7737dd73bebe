//! The reference's state enums against `spec/state-machines/*.yaml`: the same
//! state names, exactly as RFC 7016 writes them.

use rtmfp::session::SessionState;
use rtmfp_conformance::catalogue::{compare_state_names, state_names};

// spec: 7016-3.5-a
#[test]
fn session_states_match_the_spec() {
    let names: Vec<&str> = SessionState::ALL.iter().map(|s| s.name()).collect();
    if let Err(e) = compare_state_names("session", &names) {
        panic!("{e}");
    }
    // Debug output of every variant is its RFC name too.
    for s in SessionState::ALL {
        assert_eq!(format!("{s:?}"), s.name());
    }
    assert_eq!(
        state_names("session").unwrap().len(),
        SessionState::ALL.len()
    );
}
