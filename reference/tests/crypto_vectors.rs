//! Checks the cryptography layer against every vector in `vectors/crypto/`
//! (RFC 7425 section 4), one named test case per vector.
//!
//! Each file names its `kind`; `crypto_vectors/kinds.rs` holds the checking
//! code for every kind, ready to move into a single vectors harness.

#[path = "crypto_vectors/kinds.rs"]
mod kinds;

use std::path::PathBuf;

use libtest_mimic::{Arguments, Failed, Trial};

fn main() {
    let args = Arguments::from_args();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../vectors/crypto");
    let mut trials = Vec::new();
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .collect(),
        Err(e) => {
            trials.push(Trial::test("vectors/crypto", move || {
                Err(Failed::from(format!("cannot read {}: {e}", dir.display())))
            }));
            Vec::new()
        }
    };
    files.sort();
    for path in files {
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        match std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|text| kinds::trials(&stem, &text))
        {
            Ok(t) => trials.extend(t),
            Err(e) => trials.push(Trial::test(format!("{stem}::<file>"), move || {
                Err(Failed::from(e))
            })),
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
