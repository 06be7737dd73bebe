//! Known-answer tests: every YAML vector under `vectors/` becomes one named test case.
//!
//! Layout and provenance rules: `vectors/README.md`. Each folder is handled by
//! one module that maps a file's `kind` to a check; a case is named
//! `<folder>/<file>::<vector name>`, so adding a YAML entry adds a test. A file
//! that is not valid YAML, has an unknown `kind`, or holds a malformed vector
//! becomes a failing case named after the file, never a panic.
//!
//! Two kinds of folder: `wire/` vectors are checked field by field through a
//! JSON view (`kind(&str) -> Option<Check>`), `crypto/` vectors are typed per
//! kind (`crypto::trials`). To plug in another folder, add a module and one
//! line in [`FOLDERS`].

mod compare;
mod crypto;
mod wire;

use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::Value as Json;

/// Checks one vector (its whole YAML mapping); `Err` explains the mismatch.
pub type Check = fn(&Json) -> Result<(), String>;

/// How a folder's files become test cases.
#[derive(Clone, Copy)]
enum Loader {
    /// Maps a file's `kind` to a check of each vector's JSON view.
    Json(fn(&str) -> Option<Check>),
    /// Turns a whole file (its case-name prefix and text) into test cases.
    Typed(fn(&str, &str) -> Result<Vec<Trial>, String>),
}

const FOLDERS: &[(&str, Loader)] = &[
    ("wire", Loader::Json(wire::kind)),
    ("crypto", Loader::Typed(crypto::trials)),
];

/// Keys every vector may carry besides its kind-specific ones.
const COMMON_KEYS: &[&str] = &["name", "source", "note"];

fn vectors_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../vectors")
}

fn failing(name: String, why: String) -> Trial {
    Trial::test(name, move || Err(Failed::from(why)))
}

fn load_file(folder: &str, path: &Path, kinds: fn(&str) -> Option<Check>) -> Vec<Trial> {
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let id = format!("{folder}/{file}");
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return vec![failing(id, format!("cannot read: {e}"))],
    };
    let doc: Json = match serde_saphyr::from_str(&text) {
        Ok(d) => d,
        Err(e) => return vec![failing(id, format!("not valid YAML: {e}"))],
    };
    let Some(kind) = doc.get("kind").and_then(Json::as_str) else {
        return vec![failing(id, "missing `kind`".into())];
    };
    let Some(check) = kinds(kind) else {
        return vec![failing(id, format!("unknown kind `{kind}`"))];
    };
    let Some(vectors) = doc.get("vectors").and_then(Json::as_array) else {
        return vec![failing(id, "missing `vectors` list".into())];
    };
    if vectors.is_empty() {
        return vec![failing(id, "`vectors` is empty".into())];
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut trials = Vec::new();
    for (i, v) in vectors.iter().enumerate() {
        let name = v.get("name").and_then(Json::as_str).map(str::to_owned);
        let Some(name) = name.filter(|n| !n.is_empty()) else {
            trials.push(failing(
                format!("{id}::#{i}"),
                "vector has no `name`".into(),
            ));
            continue;
        };
        let case = format!("{id}::{name}");
        if !seen.insert(name.clone()) {
            trials.push(failing(
                format!("{case}#{i}"),
                format!("duplicate vector name `{name}`"),
            ));
            continue;
        }
        let source = v.get("source").and_then(Json::as_str).unwrap_or("").trim();
        if source.is_empty() {
            trials.push(failing(
                case,
                "vector has no `source` (where its expected values come from)".into(),
            ));
            continue;
        }
        let v = v.clone();
        trials.push(Trial::test(case, move || check(&v).map_err(Failed::from)));
    }
    trials
}

fn load_typed(
    folder: &str,
    path: &Path,
    trials: fn(&str, &str) -> Result<Vec<Trial>, String>,
) -> Vec<Trial> {
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let id = format!("{folder}/{file}");
    match std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read: {e}"))
        .and_then(|text| trials(&id, &text))
    {
        Ok(t) => t,
        Err(e) => vec![failing(id, e)],
    }
}

fn load_folder(folder: &str, loader: Loader) -> Vec<Trial> {
    let dir = vectors_root().join(folder);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) => {
            return vec![failing(
                folder.to_string(),
                format!("cannot list {}: {e}", dir.display()),
            )];
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    paths.sort();
    paths
        .iter()
        .flat_map(|p| match loader {
            Loader::Json(kinds) => load_file(folder, p, kinds),
            Loader::Typed(trials) => load_typed(folder, p, trials),
        })
        .collect()
}

fn main() {
    let args = Arguments::from_args();
    let trials: Vec<Trial> = FOLDERS
        .iter()
        .flat_map(|(folder, loader)| load_folder(folder, *loader))
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
