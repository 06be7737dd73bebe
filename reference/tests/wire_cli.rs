//! Runs the `rtmfp decode` binary on RFC 7016 examples and on bad input.

use std::process::{Command, Output};

fn rtmfp(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rtmfp"))
        .args(args)
        .output()
        .expect("the rtmfp binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

// RFC 7016 2.3.14 Figure 5, in a mode-1 packet.
#[test]
fn decodes_the_figure_5_range_ack() {
    let o = rtmfp(&["decode", "--plain", "01 51 00 07 05 7f 10 00 00 01 03"]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(out.contains("mode: initiator"), "{out}");
    assert!(
        out.contains("Chunk 1 at offset 1: Data Acknowledgement Ranges (0x51), 7 bytes"),
        "{out}"
    );
    assert!(out.contains("cumulativeAck: 16"), "{out}");
    assert!(out.contains("acknowledged: 0-16, 18, 21-24"), "{out}");
}

// RFC 7016 2.3.12 Figure 3, in a mode-2 packet with colons as separators.
#[test]
fn resolves_the_figure_3_next_user_data_chunks() {
    let hex = "02:10:00:07:00:02:05:03:00:01:02:11:00:04:00:03:04:05:11:00:04:00:06:07:08";
    let o = rtmfp(&["decode", "--plain", hex]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert_eq!(out.matches("Next User Data (0x11)").count(), 2, "{out}");
    assert!(out.contains("sequenceNumber: 7"), "{out}");
    assert!(out.contains("userData: [3 bytes] 06 07 08"), "{out}");
}

// RFC 7016 2.2.2: the session ID is unscrambled; the packet stays encrypted.
#[test]
fn unscrambles_the_session_id_of_a_datagram() {
    let o = rtmfp(&["decode", "11223343 0102030410203040aa"]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(out.contains("scrambledSessionID: 0x11223343"), "{out}");
    assert!(out.contains("sessionID: 7 (0x00000007)"), "{out}");
    assert!(out.contains("encrypted"), "{out}");
}

#[test]
fn reads_raw_bytes_from_a_file() {
    let path = std::env::temp_dir().join(format!("rtmfp-cli-test-{}.bin", std::process::id()));
    std::fs::write(&path, [0x00, 0x00, 0x00, 0x05]).unwrap();
    let o = rtmfp(&["decode", "--file", path.to_str().unwrap()]);
    let _ = std::fs::remove_file(&path);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("sessionID: 5 "));
}

// RFC 7016 2.3: a malformed chunk is reported and the next one still decoded.
#[test]
fn reports_a_malformed_chunk_and_goes_on() {
    let o = rtmfp(&["decode", "--plain", "01 18 00 01 81 0c 00 00"]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.contains("Buffer Probe (0x18), 1 byte (malformed: ignored)"),
        "{out}"
    );
    assert!(out.contains("field: flowID"), "{out}");
    assert!(out.contains("offset: 4"), "{out}");
    assert!(out.contains("Session Close Request (0x0c)"), "{out}");
}

#[test]
fn bad_input_is_a_clear_error_not_a_panic() {
    for args in [
        &["decode", "--plain", "0g"][..],
        &["decode", "123"],
        &["decode", "--file", "/nonexistent/rtmfp/input"],
        &["decode"],
        &["decode", "00", "--key", "00"],
    ] {
        let o = rtmfp(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("error"), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    let o = rtmfp(&["decode", "--plain", "00"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("field mode at byte 0: invalid"));
}
