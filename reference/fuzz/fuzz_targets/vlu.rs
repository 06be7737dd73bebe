//! Variable Length Unsigned integer (RFC 7016 2.1.2).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtmfp::wire::vlu;

fuzz_target!(|data: &[u8]| {
    if let Ok((value, len)) = vlu::decode(data) {
        assert!(len <= data.len());
        let bytes = vlu::to_vec(value);
        assert!(bytes.len() <= len);
        assert_eq!(vlu::decode(&bytes), Ok((value, bytes.len())));
    }
});
