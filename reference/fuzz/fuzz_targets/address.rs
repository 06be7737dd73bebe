//! Internet Socket Address (RFC 7016 2.1.5).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtmfp::wire::{Address, Reader};

fuzz_target!(|data: &[u8]| {
    let mut r = Reader::new(data, "fuzz");
    if let Ok(a) = Address::decode(&mut r) {
        let mut out = Vec::new();
        a.encode(&mut out);
        assert_eq!(out.len(), data.len() - r.remaining());
        assert_eq!(
            Address::decode(&mut Reader::new(&out, "fuzz")).expect("re-encoded address decodes"),
            a
        );
    }
});
