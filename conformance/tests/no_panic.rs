//! Files are input: the loaders and the source scanner must answer any bytes with data or a
//! clear error, never a panic.

use std::path::Path;

use proptest::prelude::*;
use rtmfp_conformance::catalogue;
use rtmfp_conformance::rfc_text;
use rtmfp_conformance::trace::{self, FileContext, Trace};

// Fragments of Rust and YAML syntax, so random texts reach the interesting states.
const RUST_BITS: &[&str] = &[
    "fn ",
    "f",
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    "#",
    "!",
    "'",
    "\"",
    "r#\"",
    "\"#",
    "b'",
    "//",
    "/*",
    "*/",
    " spec: 7425-3-a",
    "\n",
    "mod ",
    "t",
    ";",
    "proptest! ",
    "#[test]",
    "#[cfg(test)]",
    "\\",
];
const YAML_BITS: &[&str] = &[
    "rfc: 7425\n",
    "requirements:\n",
    "  - id: 7425-3-a\n",
    "    section: \"3\"\n",
    "level: MUST\n",
    "tests: [",
    "]",
    "{",
    "}",
    ":",
    "- ",
    "\n",
    "  ",
    "\"",
    "'",
    "&a ",
    "*a",
    "!!str ",
    "#",
    "machine: session\n",
    "states:\n",
    "  - { name: S, kind: open, summary: s }\n",
    "transitions:\n",
    "null",
    "~",
];

fn assemble(bits: &'static [&'static str]) -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(bits), 0..60).prop_map(|v| v.concat())
}

proptest! {
    #[test]
    fn the_source_scanner_never_panics(text in assemble(RUST_BITS)) {
        let mut t = Trace::default();
        trace::scan_source(&text, Path::new("x/src/lib.rs"), &FileContext::default(), &mut t);
        for a in &t.annotations {
            prop_assert!(a.line >= 1);
        }
    }

    #[test]
    fn the_yaml_loaders_never_panic(text in assemble(YAML_BITS)) {
        let _ = catalogue::parse_catalogue(&text, Path::new("c.yaml"));
        let _ = catalogue::parse_state_machine(&text, Path::new("m.yaml"));
        let _ = catalogue::parse_sections(&text, Path::new("s.txt"));
    }

    #[test]
    fn rfc_text_reading_never_panics(text in "(?s).{0,400}") {
        for s in rfc_text::sections(&text) {
            let _ = rfc_text::count_keywords(&s.body);
        }
    }
}
