//! The `rtmfp listen` and `rtmfp connect` binaries talking over 127.0.0.1
//! (RFC 7016 3.5.1 handshake, 3.5.5 close; RFC 7425 4.6 keys in the key log).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rtmfp::crypto::flash::keylog::KeyLog;
use rtmfp::crypto::flash::session_keys::Role;

fn rtmfp() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rtmfp"));
    c.env_remove("RTMFP_KEYLOGFILE").env_remove("RUST_LOG");
    c
}

/// A running `rtmfp listen`: its address and its stdout lines so far.
struct Listener {
    child: Child,
    lines: mpsc::Receiver<String>,
    address: String,
    fingerprint: String,
}

impl Listener {
    fn start(extra: &[&str]) -> Listener {
        let mut child = rtmfp()
            .args(["listen", "--bind", "127.0.0.1:0", "--time", "30"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = lines.recv_timeout(Duration::from_secs(20)).unwrap();
        let address = field(&first, "listening on ").unwrap();
        let fingerprint = field(&first, "fingerprint=").unwrap_or_default();
        Listener {
            child,
            lines,
            address,
            fingerprint,
        }
    }

    /// Interrupts it (as Ctrl-C does) and returns the rest of its output and its status.
    fn stop(mut self) -> (String, Option<i32>) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-INT", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                break s.code();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut out = String::new();
        while let Ok(l) = self.lines.recv_timeout(Duration::from_secs(2)) {
            out.push_str(&l);
            out.push('\n');
        }
        (out, status)
    }
}

/// The word after `prefix` in `line`.
fn field(line: &str, prefix: &str) -> Option<String> {
    let rest = &line[line.find(prefix)? + prefix.len()..];
    Some(rest.split_whitespace().next()?.to_string())
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

fn temp(name: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("rtmfp-cli-net-{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

// RFC 7016 3.5.1.1 and 3.5.5 between the two commands; RFC 7425 4.4.2.1 (Required Hostname).
#[test]
fn connect_opens_a_session_with_listen_and_both_log_keys() {
    let server_keys = temp("server.keylog");
    let client_keys = temp("client.keylog");
    let listener = Listener::start(&[
        "--hostname",
        "cli-test",
        "--keylog",
        server_keys.to_str().unwrap(),
    ]);
    assert_eq!(
        listener.fingerprint.len(),
        64,
        "a SHA-256 fingerprint in hex"
    );
    let o = rtmfp()
        .args(["connect", &listener.address, "--hostname", "cli-test"])
        .args(["--time", "1", "--open-timeout", "10"])
        .env("RTMFP_KEYLOGFILE", &client_keys)
        .output()
        .unwrap();
    let announced = listener.fingerprint.clone();
    let (server_out, status) = listener.stop();
    let client_out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{client_out}");
    assert!(
        client_out.contains("s1 session opened: role=initiator"),
        "{client_out}"
    );
    assert!(client_out.contains("far_hostname=cli-test"), "{client_out}");
    // The client saw the fingerprint the listener announced (RFC 7425 4.3.2).
    assert_eq!(
        client_out
            .lines()
            .find_map(|l| field(l, "far_fingerprint=")),
        Some(announced),
        "{client_out}"
    );
    assert!(client_out.contains("dh_group=16"), "{client_out}");
    assert!(client_out.contains("s1 rtt: "), "{client_out}");
    assert!(client_out.contains("final state S_CLOSED"), "{client_out}");

    assert_eq!(status, Some(0), "{server_out}");
    assert!(
        server_out.contains("incoming session opened: role=responder"),
        "{server_out}"
    );
    assert!(
        server_out.contains("session closed: FarClose"),
        "{server_out}"
    );

    // Each side logged its own line; the keys mirror each other.
    let c = KeyLog::parse_all(&std::fs::read_to_string(&client_keys).unwrap()).unwrap();
    let s = KeyLog::parse_all(&std::fs::read_to_string(&server_keys).unwrap()).unwrap();
    assert_eq!((c.len(), s.len()), (1, 1));
    assert_eq!((c[0].role, s[0].role), (Role::Initiator, Role::Responder));
    assert_eq!(c[0].enc_key, s[0].dec_key);
    assert_eq!(c[0].near_nonce, s[0].far_nonce);
    let _ = std::fs::remove_file(&server_keys);
    let _ = std::fs::remove_file(&client_keys);
}

// RFC 7016 3.5.1.1.1: the open timeout ends an unanswered opening with S_OPEN_FAILED.
#[test]
fn connect_without_an_answer_fails_with_status_1() {
    // A socket that never answers.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let address = silent.local_addr().unwrap().to_string();
    let o = rtmfp()
        .args(["connect", &address, "--open-timeout", "1"])
        .output()
        .unwrap();
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("session failed to open: Timeout"), "{out}");
    // It did send IHellos there.
    silent
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let mut buf = [0u8; 2048];
    assert!(silent.recv_from(&mut buf).is_ok());
}

// Usage errors: a clear message on stderr, status 2, no panic.
#[test]
fn bad_arguments_exit_2_with_a_message() {
    let cases: &[(&[&str], &str)] = &[
        (&["connect"], "ADDR:PORT"),
        (&["connect", "127.0.0.1"], "invalid socket address"),
        (
            &["connect", "127.0.0.1:1", "--dh-group", "3"],
            "use 2, 5, 14 or 16",
        ),
        (
            &["connect", "127.0.0.1:1", "--dh-group", "x"],
            "not a number",
        ),
        (
            &["connect", "127.0.0.1:1", "--fingerprint", "abcd"],
            "32 bytes",
        ),
        (
            &["connect", "127.0.0.1:1", "--fingerprint", "zz"],
            "not a hex digit",
        ),
        (
            &["connect", "127.0.0.1:1", "--static-dh", "--ephemeral-dh"],
            "cannot be used with",
        ),
        (
            &["connect", "127.0.0.1:1", "--profile", "nope"],
            "flash, transparent",
        ),
        (
            &[
                "connect",
                "127.0.0.1:1",
                "--profile",
                "transparent",
                "--url",
                "rtmfp:",
            ],
            "--profile flash only",
        ),
        (
            &["listen", "--profile", "transparent", "--no-sseq"],
            "--profile flash only",
        ),
        (&["listen", "--bind", "localhost"], "invalid socket address"),
        (&["listen", "--time", "-1"], "'-1'"),
        (
            &[
                "listen",
                "--keylog",
                "/nonexistent-dir/keys.log",
                "--time",
                "1",
            ],
            "cannot open",
        ),
    ];
    for (args, expected) in cases {
        let o = rtmfp().args(*args).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

// The transparent profile: unencrypted, identity equals EPD (test-only profile, RFC 7016 3.2).
#[test]
fn transparent_profile_sessions_open_too() {
    let listener = Listener::start(&["--profile", "transparent", "--hostname", "plain"]);
    let o = rtmfp()
        .args(["connect", &listener.address, "--profile", "transparent"])
        .args(["--hostname", "plain", "--time", "1", "--open-timeout", "10"])
        .output()
        .unwrap();
    let (server_out, status) = listener.stop();
    assert_eq!(status, Some(0), "{server_out}");
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("far_identity=\"plain\""), "{out}");
    assert!(
        server_out.contains("incoming session opened"),
        "{server_out}"
    );
}

/// A file of `len` pseudo-random bytes (a fixed LCG, so each run sends the same data) and its
/// SHA-256, computed here independently of the binary.
fn test_file(name: &str, len: usize) -> (std::path::PathBuf, String) {
    use sha2::{Digest, Sha256};
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let data: Vec<u8> = (0..len)
        .map(|_| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (x >> 56) as u8
        })
        .collect();
    let p = temp(name);
    std::fs::write(&p, &data).unwrap();
    (p, hex::encode(Sha256::digest(&data)))
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let p = temp(name);
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).unwrap();
    p
}

// RFC 7016 3.6.2 and 3.6.3: a file on one reliable flow, written by the receiver byte for byte;
// both ends print the SHA-256 of what they sent and received.
#[test]
fn send_a_file_to_listen_recv() {
    let (file, digest) = test_file("send.bin", 300_000);
    let dir = temp_dir("recv-dir");
    let listener = Listener::start(&["--recv", dir.to_str().unwrap()]);
    let o = rtmfp()
        .args([
            "connect",
            &listener.address,
            "--send",
            file.to_str().unwrap(),
        ])
        .args([
            "--message-size",
            "4096",
            "--deadline",
            "60",
            "--open-timeout",
            "10",
        ])
        .output()
        .unwrap();
    let (server_out, _) = listener.stop();
    let client_out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{client_out}\n{server_out}");
    assert!(
        client_out.contains("sent 300000 bytes, all acknowledged")
            && client_out.contains(&format!("sha256={digest}")),
        "{client_out}"
    );
    assert!(
        server_out.contains("flow 1 complete: 300000 bytes in 74 messages")
            && server_out.contains(&format!("sha256={digest}")),
        "{server_out}"
    );
    let written = std::fs::read(dir.join("s1-flow1.bin")).unwrap();
    assert_eq!(written, std::fs::read(&file).unwrap());
}

// RFC 7016 2.3.11.1.2: `listen --echo` answers on a return flow associated with the file's
// flow; the sender hashes what comes back.
#[test]
fn echo_comes_back_on_a_return_flow() {
    let (file, digest) = test_file("echo.bin", 200_000);
    let listener = Listener::start(&["--echo"]);
    let o = rtmfp()
        .args([
            "connect",
            &listener.address,
            "--send",
            file.to_str().unwrap(),
        ])
        .args(["--expect-echo", "--deadline", "60", "--open-timeout", "10"])
        .output()
        .unwrap();
    let (server_out, _) = listener.stop();
    let client_out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{client_out}\n{server_out}");
    assert!(
        client_out.contains("in return for SendFlowId(1)"),
        "{client_out}"
    );
    assert!(
        client_out.contains("echo: s1 flow 1 complete: 200000 bytes")
            && client_out.contains("echo matches what was sent"),
        "{client_out}"
    );
    assert_eq!(
        client_out.matches(&format!("sha256={digest}")).count(),
        2,
        "sent and echoed: {client_out}"
    );
}

// RFC 7016 3.6.2.7 and 3.6.1.2: timed messages with a 50 ms lifetime under 10% loss at both
// ends. Every message is either acknowledged or abandoned at the sender, and every sequence
// number is either delivered or reported lost at the receiver.
#[test]
fn stream_under_loss_accounts_for_every_message() {
    let listener = Listener::start(&["--loss", "0.1", "--lifetime", "50"]);
    let o = rtmfp()
        .args([
            "connect",
            &listener.address,
            "--stream",
            "200",
            "--interval",
            "10",
        ])
        .args(["--lifetime", "50", "--loss", "0.1", "--loss-seed", "3"])
        .args(["--deadline", "60", "--open-timeout", "20"])
        .output()
        .unwrap();
    let client_out = text(&o);
    // Let the receiver see the flow complete before stopping it.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut server_out = String::new();
    while Instant::now() < deadline && !server_out.contains("stream: delivered=") {
        if let Ok(l) = listener.lines.recv_timeout(Duration::from_millis(200)) {
            server_out.push_str(&l);
            server_out.push('\n');
        }
    }
    let (rest, _) = listener.stop();
    server_out.push_str(&rest);
    assert_eq!(o.status.code(), Some(0), "{client_out}\n{server_out}");
    let num = |text: &str, key: &str| -> u64 {
        text.lines()
            .find_map(|l| field(l, key))
            .and_then(|v| v.trim_end_matches(';').parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {text}"))
    };
    let (sent, acked, abandoned) = (
        num(&client_out, "sent="),
        num(&client_out, "delivered="),
        num(&client_out, "abandoned="),
    );
    assert_eq!(sent, 200, "{client_out}");
    assert_eq!(acked + abandoned, sent, "{client_out}");
    let (got, lost) = (num(&server_out, "delivered="), num(&server_out, "lost="));
    assert_eq!(got + lost, sent, "{server_out}");
    assert!(
        got >= acked,
        "every acknowledged message was delivered: {server_out}"
    );
}

// Bad paths are clear errors with a nonzero status, never a panic.
#[test]
fn transfer_errors_are_clear() {
    let o = rtmfp()
        .args(["connect", "127.0.0.1:9", "--send", "/nonexistent/file"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("--send: cannot open /nonexistent/file"),
        "{}",
        text(&o)
    );
    let o = rtmfp()
        .args([
            "listen",
            "--bind",
            "127.0.0.1:0",
            "--recv",
            "/nonexistent/dir",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("--recv /nonexistent/dir: not usable"),
        "{}",
        text(&o)
    );
    assert!(!text(&o).contains("panicked"));
}
