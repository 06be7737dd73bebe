//! The flow state enums carry exactly the state names of RFC 7016 (Figures 19 and 22) and of the
//! machine-readable state machines in `spec/state-machines/`.
//!
//! The YAML files have a fixed layout (spec/README.md); this test reads the `states:` list and
//! the `initial`/`final` lines with a few string operations rather than a YAML library, and
//! fails loudly if the layout is not what it expects.

use std::path::PathBuf;

use rtmfp::flow::{RecvFlowState, SendFlowState};

/// The state names, initial and final lists of a state machine file.
fn machine(name: &str) -> (Vec<String>, String, String) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../spec/state-machines")
        .join(format!("{name}.yaml"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut states = Vec::new();
    let mut in_states = false;
    let (mut initial, mut fin) = (String::new(), String::new());
    for line in text.lines() {
        if !line.starts_with(' ') && !line.starts_with('#') {
            in_states = line == "states:";
        }
        if in_states && let Some(n) = line.strip_prefix("  - name: ") {
            states.push(n.trim().to_string());
        }
        if let Some(v) = line.strip_prefix("initial: ") {
            initial = v.trim().to_string();
        }
        if let Some(v) = line.strip_prefix("final: ") {
            fin = v.trim().to_string();
        }
    }
    assert!(
        states.len() >= 4,
        "{}: no states list found",
        path.display()
    );
    (states, initial, fin)
}

// RFC 7016 3.6.2 Figure 19.
#[test]
fn rfc7016_3_6_2_sending_flow_states() {
    let ours: Vec<&str> = SendFlowState::ALL.iter().map(|s| s.name()).collect();
    assert_eq!(
        ours,
        ["F_OPEN", "F_CLOSING", "F_COMPLETE_LINGER", "F_CLOSED"]
    );
    let (states, initial, fin) = machine("sending_flow");
    assert_eq!(states, ours);
    assert_eq!(initial, "[F_OPEN]");
    assert_eq!(fin, "[F_CLOSED]");
    for s in SendFlowState::ALL {
        assert_eq!(format!("{s:?}"), s.name());
    }
}

// RFC 7016 3.6.3 Figure 22.
#[test]
fn rfc7016_3_6_3_receiving_flow_states() {
    let ours: Vec<&str> = RecvFlowState::ALL.iter().map(|s| s.name()).collect();
    assert_eq!(
        ours,
        ["RF_OPEN", "RF_REJECTED", "RF_COMPLETE_LINGER", "RF_CLOSED"]
    );
    let (states, initial, fin) = machine("receiving_flow");
    assert_eq!(states, ours);
    assert_eq!(initial, "[RF_OPEN]");
    assert_eq!(fin, "[RF_CLOSED]");
    for s in RecvFlowState::ALL {
        assert_eq!(format!("{s:?}"), s.name());
    }
}
