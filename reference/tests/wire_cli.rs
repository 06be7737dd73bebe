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
        &["decode", "00", "--keylog", "/nonexistent/keys.log"],
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

// RFC 7425 4.1: a startup packet opens with the Default Session Key, no key needed.
// Bytes: frame 1 of shared/captures (rtmfp-cpp fcclient's IHello), as in
// vectors/crypto/inspect.yaml `capture-ihello`.
#[test]
fn decrypts_a_captured_ihello_with_the_default_key() {
    let o = rtmfp(&[
        "decode",
        "9a5a6fadc7de30395d845f9417bb44536d94b8c9394764842993423819d0f676352013898b6a3e10f0820698841de8f925c94701",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(out.contains("key: the Default Session Key"), "{out}");
    assert!(out.contains("Initiator Hello (0x30)"), "{out}");
    assert!(
        out.contains("endpointDiscriminator: [8 bytes] 07 0a 72 74 6d 66 70 3a"),
        "{out}"
    );
}

// RFC 7425 4.7: a session packet needs the session keys; with the captured key log
// (frame 5, `capture-client-frame-5` in vectors/crypto/inspect.yaml) it verifies
// with a 16-byte HMAC and session sequence number 0.
#[test]
fn decrypts_a_captured_session_packet_with_the_key_log() {
    let dir = std::env::temp_dir().join(format!("rtmfp-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let keylog = dir.join("keys.log");
    std::fs::write(&keylog, "RTMFP_KEYLOG role=client dh_group=16 near_nonce=db5811dbb6a76f85a3630929cff0f594e05ac1a87f1f31df4197fe4913710b10 far_nonce=363c6a1d84813ff95894ff8d44f0b531214f9a6623b6bb2f91b7d27cb407f4b1 enc_key=ac594b72f222e1d34b099b629a3c71da dec_key=cfdf584afee06e4a0c032bea807eaef0 hmac_tx_key=a427e2fa9bf641df1f560da161b6d57cc2f8f5a86c689fcb8c24dad60a7c835f hmac_rx_key=14ff5cd45c319eafb8663f955e666a9bfff6adfffb8f39067aa1e3f6e9493f29 hmac_send=1 hmac_recv=1 sseq_send=1 sseq_recv=1 dh_secret=ba64d7716f7395bf96401404ba5b55fa1b741352bea062b34faf1e23b050d74d92d5cfa7b76a503e10751454beb343b3394f5fe4d55d8aa98bd630a298571537770a3649b1b48f425d220b31d7c6f4231fa2e7612b9447d21aca0c51dc365621b56c208d3da01b8cdf6bae3c7d9296fb1c4e39fe80d700aed08b6e5e4b0d7e4110870ad56163aa28f03187cdb74774bd6ee046492dc87e21088788875e8dd760623a230c86a570f595482a0cff207b094bc5413dc401f3aad9922d09d7aa46f091ad70ddf9b65ed335dbd53006d06d16b1d55a460748907cdfdd41c65e31c4d6cbfb3d21ef77d5d29ca4f140392a16b0e6e21be8c30b6d26ac2bff01140a1a4a65509cbf0f256ca1902e961daaccf97a98e48c34ae20ca4f1e7d7d9fd58f5384512c54aa010d5c667aa362707b829d7544edf0924c485cc153d0a58fef58fccce7450379ca3a6a16d08d284aee2ac2f6105c2735cbb0b1a047e23175ee2a5b07ddc791adf2dbbcc8b593c0c60a4bcee2009a9bb7e3a220945ae067b64b3f63ef68bceb4669cc1b3970080781e53b0892a62545b78a8180434d03ae4cb9284ecf5c04a31e0343552d5df38039f4089608aba9cb4848743527fe521152cdc86390eb754b9a0da2bfc5271c5ab86acbde30107e7a6203a318bde37e336b152a7fd5c918ee84a4dddc101cb4f1f7f151cd4b3c58904fbc9829ae080cd4ec5a5d42ca\n").unwrap();
    let datagram = "125a840b4af1c03f5aab4434f85a8cd0f9656e9fcea179b230fee6aca7f0e58a3607c373103435c2a4f6bff281c80b707c9a812899d5f0e3d84c0d068cf7949f390f2bae438ee6227b6d0d1849d6fbdcba93a822958548cd69943f195093d3a3fb984b562eec8e08d39f7dcc1c9581f36910f8c7e27eae9a820f1f784512e2e618a7873633910d9ce609657ded854a5accf640a845d0e227769b8a052ddf4773eb399369d442bea4d6f35bcab1791f673a90726bcd9a952583d5907d3121be40f209c910aaceda1363b40ee0775edaa3634a8c25b1fdb600140d9809d43370f02270995212051988a4fa7cd8a7427484cc70b0664f68c0980a0fbe143de2a4529289452b257050a114aa567ab8b04b5cb44fd696fd67c908dfd80094de4827be341bbfb8b984ae2aef52b60cfad91c35b07178ae7b29d6187650a037346d1dc91d411ba6f49271a5896282a3a1c34cf4e5ad5b472fcd260c1f2c977fa37dbf3948969e645d3acd226390747733ec59dd160f2ce6363b5466fe99b740042e297d7b51b7b82756fca679185100d3ef16c6c00d3c28e4a4df092cbc9c5281083d53afaced772707e59a4138247649fa56812e436253cbd9feca29484eae21c317ff63b6c142d87946a999fd786c7a9b204e1ca6e67278c157cd252b33c23075fd6e632ac44fe9c110bfd1fdb683f36d67aa32ab4ebd5c90d0f6d8d0ab10d52d087fbeac786bf41a3c2631a44930d82e406aa2a0cc46b4feb2164bc1fa3f434f13311589658bfe5991d1ceeda1f4aec91308f1e823cd85f88769267957dc776b5dc5363b3a70d71963f2ee57fe73f1668daa9be0fdf3787f9e696debde7c9944f08c0ee71c7bd5bcec6281d9b2b9b64b416225f89c829bcdf0c8d3daffcb1e1856399736e614a0d8b8a387899948110668873cc474bfeeb14a3d81745541d1d80e4b0f755eaa566df5419ea7a88cda0044b2f98fa999a183a9050428c7352c58d459552d7a22ff98b460eee659615d84f5723c8d7ec6baa0a713f92cdf4875cd08af6d7ede563f203b32ba059b9fd3e931549867fda371fc58605ecec6fd22acc9225034b3339e481ba30ec57283c39ac31e2081b3544e30c835102c4abb121400e35a8fa597ac9a4b8914f67e692ea26a1ee0aaecc3a00abb663ca288e91ae9d47503f0368e16fd48e667b4b156f35e3665a8e363941dca9160248af2dccb3ab8317aa79c8a4ac727c55efadb27393d2ff5c08724a4d3de5f4a05dc65bc634a68e2a999850a217f22139fac4ed24b65dc0ef304461725c5026750860f39d712c7892f853c8e36a5042d8ed4f756b1121f9310e9e30e4469684c4a3b4f5e15299157b9d0d85ac41e1e25714cee2debfc42e07d4b3ee2cd09f7179158aacb669c3018d6ea2ebef9b4627234ec940889880796f3f5b3f5a3a971991aaa66413f2805115e91fa8280b6b1506e1e6d4db585370981930f8790f7d140a467a17ce32e4513bbb4f5adf3b441c50cbe0b153d390b7c119efbc7ec89e6335252625374d9ec988a0b809923e9087ddc4d7e19e7dc4e28558643c1bd8a2df80dff6a13027815182825812ea5e576489d4d8b9f53d51dbb1d0d8f79f996c658a20475e668f1cf0c66f866843d82cd053fb77c920ad95bcbf256bafbd214f7534739283f1ae2f351492715156946507108fed9ed6f4eb7d357176c9c";
    let without = rtmfp(&["decode", datagram]);
    assert_eq!(without.status.code(), Some(0));
    assert!(stdout(&without).contains("give --key or --keylog"));
    let o = rtmfp(&["decode", datagram, "--keylog", keylog.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(out.contains("HMAC-SHA256 truncated to 16 bytes"), "{out}");
    assert!(out.contains("sessionSequenceNumber: 0"), "{out}");
    assert!(out.contains("mode: initiator"), "{out}");
    // A wrong raw key is tried and reported, and the exit status says it failed.
    let o = rtmfp(&[
        "decode",
        datagram,
        "--key",
        "000102030405060708090a0b0c0d0e0f",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("No key decrypts"));
    let _ = std::fs::remove_dir_all(&dir);
}
