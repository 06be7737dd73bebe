//! Option sequences and Option Lists (RFC 7016 2.1.3, 2.1.4).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtmfp::wire::{Reader, option};

fuzz_target!(|data: &[u8]| {
    let mut r = Reader::new(data, "fuzz");
    if let Ok(items) = option::decode_sequence(&mut r) {
        let mut out = Vec::new();
        option::encode_sequence(&items, &mut out);
        let again = option::decode_sequence(&mut Reader::new(&out, "fuzz"))
            .expect("re-encoded sequence decodes");
        assert_eq!(again, items);
    }
    let mut r = Reader::new(data, "fuzz");
    if let Ok(options) = option::decode_list(&mut r) {
        let mut out = Vec::new();
        option::encode_list(&options, &mut out);
        let again =
            option::decode_list(&mut Reader::new(&out, "fuzz")).expect("re-encoded list decodes");
        assert_eq!(again, options);
    }
});
