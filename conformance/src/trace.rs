//! Traceability: the `// spec: ID` annotations of the workspace's Rust sources (spec/README.md).
//!
//! Every crate's `src/` and `tests/` are scanned (never `target/`, hidden directories or
//! `fixtures/` trees, which hold data rather than code). A light Rust lexer skips strings, chars
//! and block comments, so only real line comments count. Each annotation is tied to the function
//! whose body holds it, or else to the item right below it, and is classified as a test or as
//! implementation. Output is sorted, so it is the same on every run.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::catalogue::{is_valid_id, relative};

/// Whether an annotation sits in test code or in implementation code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A `#[test]` function (or `#[tokio::test]` etc.), a function inside `proptest!`, a file
    /// under `tests/`, or anything inside a `#[cfg(test)]` module.
    Test,
    Implementation,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Test => "test",
            Kind::Implementation => "implementation",
        })
    }
}

/// A function found in the sources.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Function {
    /// File relative to the repository root.
    pub file: PathBuf,
    pub line: usize,
    /// Package name, as in its Cargo.toml.
    pub package: String,
    /// Module path inside the crate (from the file's place under `src/` and inline `mod`s).
    /// Empty for files under `tests/` and binaries, which are their own crates.
    pub module_path: Vec<String>,
    /// Inline `mod` blocks enclosing the function within its file.
    pub inline_modules: Vec<String>,
    pub name: String,
    pub kind: Kind,
    /// Whether the file is a library module (so `package::module::name` addresses it).
    pub in_library: bool,
}

impl Function {
    /// `path/to/file.rs::mod::name`.
    pub fn file_path(&self) -> String {
        let mut s = self.file.to_string_lossy().replace('\\', "/");
        for m in &self.inline_modules {
            s.push_str("::");
            s.push_str(m);
        }
        s.push_str("::");
        s.push_str(&self.name);
        s
    }

    /// `crate_name::module::name` for library functions (package name with `-` as `_`).
    pub fn crate_path(&self) -> Option<String> {
        if !self.in_library {
            return None;
        }
        let mut parts = vec![self.package.replace('-', "_")];
        parts.extend(self.module_path.iter().cloned());
        parts.push(self.name.clone());
        Some(parts.join("::"))
    }
}

/// What an annotation is attached to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "name")]
pub enum Target {
    /// A function (its [`Function::file_path`]).
    Function(String),
    /// Another item, such as `struct Foo` or `impl`.
    Item(String),
    /// Nothing follows the comment in its module.
    Module,
}

/// One `spec:` comment.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Annotation {
    pub file: PathBuf,
    pub line: usize,
    pub ids: Vec<String>,
    pub target: Target,
    pub kind: Kind,
    /// Words after `spec:` that are not well-formed requirement ids.
    pub malformed: Vec<String>,
}

/// The result of a scan: annotations and every function, both sorted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Trace {
    pub annotations: Vec<Annotation>,
    pub functions: Vec<Function>,
    /// Files that could not be read, with the reason.
    pub unreadable: Vec<(PathBuf, String)>,
}

impl Trace {
    /// Test ids covered by annotations: id to the test functions (or places) citing it.
    pub fn covered_by_tests(&self) -> BTreeMap<&str, Vec<String>> {
        let mut map: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for a in &self.annotations {
            if a.kind != Kind::Test {
                continue;
            }
            let place = match &a.target {
                Target::Function(f) => f.clone(),
                Target::Item(i) => format!("{}:{} ({i})", a.file.display(), a.line),
                Target::Module => format!("{}:{}", a.file.display(), a.line),
            };
            for id in &a.ids {
                map.entry(id.as_str()).or_default().push(place.clone());
            }
        }
        for places in map.values_mut() {
            places.sort();
            places.dedup();
        }
        map
    }

    /// Finds the function a `tests:` path names: `crate_name::module::fn` (package name with
    /// `-` or `_`) or `path/to/file.rs::fn` (optionally `file.rs::inline_mod::fn`).
    pub fn resolve(&self, path: &str) -> Vec<&Function> {
        if let Some((file, rest)) = path.split_once(".rs::") {
            let file = format!("{file}.rs");
            let in_file: Vec<&Function> = self
                .functions
                .iter()
                .filter(|f| f.file.to_string_lossy().replace('\\', "/") == file)
                .collect();
            let exact: Vec<&Function> = in_file
                .iter()
                .copied()
                .filter(|f| f.file_path() == path)
                .collect();
            if !exact.is_empty() {
                return exact;
            }
            return in_file.into_iter().filter(|f| f.name == rest).collect();
        }
        let wanted = path.replace('-', "_");
        self.functions
            .iter()
            .filter(|f| f.crate_path().as_deref() == Some(wanted.as_str()))
            .collect()
    }
}

/// Scans every crate under `root` (see the module documentation).
pub fn scan_workspace(root: &Path) -> Trace {
    let mut trace = Trace::default();
    let mut crates = Vec::new();
    find_crates(root, root, &mut crates, &mut trace.unreadable);
    crates.sort();
    for (dir, package) in crates {
        for sub in ["src", "tests"] {
            let base = dir.join(sub);
            if !base.is_dir() {
                continue;
            }
            let mut files = Vec::new();
            collect_rs(&base, &mut files, &mut trace.unreadable);
            files.sort();
            let test_modules = out_of_line_test_modules(&files, &dir, &mut trace.unreadable);
            for file in files {
                let rel = relative(&file, root);
                let context = FileContext::new(&dir, &file, &package, &test_modules);
                match std::fs::read_to_string(&file) {
                    Ok(text) => scan_source(&text, &rel, &context, &mut trace),
                    Err(e) => trace.unreadable.push((rel, e.to_string())),
                }
            }
        }
    }
    trace.annotations.sort();
    trace.functions.sort();
    trace.unreadable.sort();
    trace
}

/// Where a file sits in its crate.
#[derive(Clone, Debug, Default)]
pub struct FileContext {
    pub package: String,
    pub module_path: Vec<String>,
    /// Under `tests/`, or inside a module declared `#[cfg(test)] mod x;`.
    pub test_file: bool,
    pub in_library: bool,
}

impl FileContext {
    fn new(crate_dir: &Path, file: &Path, package: &str, test_modules: &[Vec<String>]) -> Self {
        let rel = file.strip_prefix(crate_dir).unwrap_or(file);
        let parts: Vec<String> = rel
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        let under_tests = parts.first().is_some_and(|p| p == "tests");
        let mut module_path = Vec::new();
        let mut in_library = false;
        if !under_tests && parts.len() >= 2 {
            let inner = &parts[1..];
            let is_bin = inner.first().is_some_and(|p| p == "bin" || p == "main.rs");
            in_library = !is_bin;
            if in_library {
                for (i, p) in inner.iter().enumerate() {
                    let last = i + 1 == inner.len();
                    if !last {
                        module_path.push(p.clone());
                    } else if p != "lib.rs" && p != "mod.rs" {
                        module_path.push(p.trim_end_matches(".rs").to_string());
                    }
                }
            }
        }
        let test_file = under_tests
            || (in_library
                && test_modules
                    .iter()
                    .any(|m| !m.is_empty() && module_path.starts_with(m)));
        FileContext {
            package: package.to_string(),
            module_path,
            test_file,
            in_library,
        }
    }
}

fn find_crates(
    root: &Path,
    dir: &Path,
    out: &mut Vec<(PathBuf, String)>,
    unreadable: &mut Vec<(PathBuf, String)>,
) {
    let manifest = dir.join("Cargo.toml");
    if manifest.is_file() {
        match std::fs::read_to_string(&manifest) {
            Ok(text) => {
                if let Some(name) = package_name(&text) {
                    out.push((dir.to_path_buf(), name));
                }
            }
            Err(e) => unreadable.push((relative(&manifest, root), e.to_string())),
        }
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut subdirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir() && !skipped_dir(p))
        .collect();
    subdirs.sort();
    for sub in subdirs {
        find_crates(root, &sub, out, unreadable);
    }
}

fn skipped_dir(path: &Path) -> bool {
    path.file_name()
        .map(|n| n.to_string_lossy())
        .is_some_and(|n| {
            n.starts_with('.') || n == "target" || n == "fixtures" || n == "node_modules"
        })
}

/// The `name` of the `[package]` table of a Cargo.toml, read line by line.
fn package_name(manifest: &str) -> Option<String> {
    let mut in_package = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
            continue;
        }
        if in_package
            && let Some(rest) = line.strip_prefix("name")
            && let Some(value) = rest.trim_start().strip_prefix('=')
        {
            return Some(value.trim().trim_matches('"').to_string());
        }
    }
    None
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>, unreadable: &mut Vec<(PathBuf, String)>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            unreadable.push((dir.to_path_buf(), e.to_string()));
            return;
        }
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            if !skipped_dir(&path) {
                collect_rs(&path, out, unreadable);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Module paths declared `#[cfg(test)] mod name;` (out of line) anywhere in a crate.
fn out_of_line_test_modules(
    files: &[PathBuf],
    crate_dir: &Path,
    unreadable: &mut Vec<(PathBuf, String)>,
) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    for file in files {
        let context = FileContext::new(crate_dir, file, "", &[]);
        if !context.in_library {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(file) else {
            unreadable.push((file.clone(), "cannot read".into()));
            continue;
        };
        let tokens = lex(&text);
        let mut pending_cfg_test = false;
        let mut i = 0;
        while i < tokens.len() {
            match &tokens[i].kind {
                TokKind::Punct('#') => {
                    if let Some((attr, next)) = attribute_at(&tokens, i) {
                        pending_cfg_test |= attr.cfg_test;
                        i = next;
                        continue;
                    }
                }
                TokKind::Ident(w) if w == "mod" => {
                    if let (Some(TokKind::Ident(name)), Some(TokKind::Punct(';'))) = (
                        tokens.get(i + 1).map(|t| &t.kind),
                        tokens.get(i + 2).map(|t| &t.kind),
                    ) && pending_cfg_test
                    {
                        let mut path = context.module_path.clone();
                        path.push(name.clone());
                        found.push(path);
                    }
                    pending_cfg_test = false;
                }
                TokKind::Ident(w) if w == "pub" || w == "crate" => {}
                TokKind::Comment(_) => {}
                TokKind::Punct('(') | TokKind::Punct(')') => {}
                _ => pending_cfg_test = false,
            }
            i += 1;
        }
    }
    found
}

// ---------------------------------------------------------------- lexer

#[derive(Clone, Debug, PartialEq, Eq)]
enum TokKind {
    Ident(String),
    Punct(char),
    /// A string, char or number literal (contents irrelevant here).
    Literal,
    /// A `//` comment: its text after the slashes.
    Comment(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Tok {
    kind: TokKind,
    line: usize,
}

/// Tokenises Rust source well enough to find comments, identifiers and brackets. Never panics;
/// an unterminated string or comment simply runs to the end of the text.
fn lex(text: &str) -> Vec<Tok> {
    let chars: Vec<char> = text.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    let mut line = 1;
    let at = |j: usize| chars.get(j).copied();
    while let Some(c) = at(i) {
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '/' && at(i + 1) == Some('/') {
            let start = i + 2;
            let mut j = start;
            while at(j).is_some_and(|c| c != '\n') {
                j += 1;
            }
            let body: String = chars[start..j].iter().collect();
            toks.push(Tok {
                kind: TokKind::Comment(body),
                line,
            });
            i = j;
        } else if c == '/' && at(i + 1) == Some('*') {
            let mut depth = 1;
            i += 2;
            while depth > 0 {
                match (at(i), at(i + 1)) {
                    (None, _) => break,
                    (Some('/'), Some('*')) => {
                        depth += 1;
                        i += 2;
                    }
                    (Some('*'), Some('/')) => {
                        depth -= 1;
                        i += 2;
                    }
                    (Some(ch), _) => {
                        if ch == '\n' {
                            line += 1;
                        }
                        i += 1;
                    }
                }
            }
        } else if let Some(len) = raw_string_prefix(&chars, i) {
            // r"..", r#".."#, br"..", cr#".."#: count the hashes, then find the closing quote.
            let start_line = line;
            let mut j = i + len;
            let hashes = chars[i..i + len].iter().filter(|&&c| c == '#').count();
            loop {
                match at(j) {
                    None => break,
                    Some('"') if (1..=hashes).all(|k| at(j + k) == Some('#')) => {
                        j += 1 + hashes;
                        break;
                    }
                    Some(ch) => {
                        if ch == '\n' {
                            line += 1;
                        }
                        j += 1;
                    }
                }
            }
            toks.push(Tok {
                kind: TokKind::Literal,
                line: start_line,
            });
            i = j;
        } else if c == '"' || ((c == 'b' || c == 'c') && at(i + 1) == Some('"')) {
            let start_line = line;
            let mut j = if c == '"' { i + 1 } else { i + 2 };
            loop {
                match at(j) {
                    None => break,
                    Some('\\') => j += 2,
                    Some('"') => {
                        j += 1;
                        break;
                    }
                    Some(ch) => {
                        if ch == '\n' {
                            line += 1;
                        }
                        j += 1;
                    }
                }
            }
            toks.push(Tok {
                kind: TokKind::Literal,
                line: start_line,
            });
            i = j;
        } else if c == '\'' || (c == 'b' && at(i + 1) == Some('\'')) {
            let q = if c == '\'' { i } else { i + 1 };
            if at(q + 1) == Some('\\') {
                // Escaped char literal: run to the closing quote.
                let mut j = q + 2;
                while at(j).is_some_and(|ch| ch != '\'' && ch != '\n') {
                    j += 1;
                }
                toks.push(Tok {
                    kind: TokKind::Literal,
                    line,
                });
                i = j + 1;
            } else if at(q + 2) == Some('\'') {
                toks.push(Tok {
                    kind: TokKind::Literal,
                    line,
                });
                i = q + 3;
            } else {
                // A lifetime or label: skip the quote and its identifier.
                let mut j = q + 1;
                while at(j).is_some_and(|ch| ch.is_alphanumeric() || ch == '_') {
                    j += 1;
                }
                i = j.max(q + 1);
            }
        } else if c.is_alphabetic() || c == '_' {
            let mut j = i;
            if c == 'r' && at(i + 1) == Some('#') {
                j = i + 2; // raw identifier r#name
            }
            let start = j;
            while at(j).is_some_and(|ch| ch.is_alphanumeric() || ch == '_') {
                j += 1;
            }
            let word: String = chars[start..j].iter().collect();
            toks.push(Tok {
                kind: TokKind::Ident(word),
                line,
            });
            i = j.max(i + 1);
        } else if c.is_ascii_digit() {
            let mut j = i;
            while at(j).is_some_and(|ch| ch.is_alphanumeric() || ch == '_') {
                j += 1;
            }
            toks.push(Tok {
                kind: TokKind::Literal,
                line,
            });
            i = j;
        } else {
            toks.push(Tok {
                kind: TokKind::Punct(c),
                line,
            });
            i += 1;
        }
    }
    toks
}

/// The length of a raw string prefix (`r"`, `r#"`, `br##"`, `cr"`...) at `i`, up to and
/// including the opening quote.
fn raw_string_prefix(chars: &[char], i: usize) -> Option<usize> {
    let mut j = i;
    if matches!(chars.get(j), Some('b') | Some('c')) {
        j += 1;
    }
    if chars.get(j) != Some(&'r') {
        return None;
    }
    j += 1;
    while chars.get(j) == Some(&'#') {
        j += 1;
    }
    (chars.get(j) == Some(&'"')).then_some(j + 1 - i)
}

// ---------------------------------------------------------------- scanner

/// What an attribute says about testing.
#[derive(Clone, Copy, Debug, Default)]
struct AttrInfo {
    /// `#[test]`, `#[tokio::test]`, `#[rstest]`, `#[test_case(..)]`...
    test: bool,
    /// `#[cfg(test)]` (also inside `all(..)`, but not under `not(..)`).
    cfg_test: bool,
    /// `#![...]`: applies to the enclosing module or file.
    inner: bool,
}

/// Reads the attribute starting with `#` at `i`; returns it and the index after its `]`.
fn attribute_at(toks: &[Tok], i: usize) -> Option<(AttrInfo, usize)> {
    let mut j = i + 1;
    let inner = matches!(toks.get(j).map(|t| &t.kind), Some(TokKind::Punct('!')));
    if inner {
        j += 1;
    }
    if !matches!(toks.get(j).map(|t| &t.kind), Some(TokKind::Punct('['))) {
        return None;
    }
    let open = j;
    let mut depth = 0usize;
    let mut end = None;
    for (k, t) in toks.iter().enumerate().skip(open) {
        match t.kind {
            TokKind::Punct('[') => depth += 1,
            TokKind::Punct(']') => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    end = Some(k);
                    break;
                }
            }
            _ => {}
        }
    }
    let end = end?;
    let words: Vec<&str> = toks[open + 1..end]
        .iter()
        .filter_map(|t| match &t.kind {
            TokKind::Ident(w) => Some(w.as_str()),
            _ => None,
        })
        .collect();
    let first_path_end = toks[open + 1..end]
        .iter()
        .position(|t| !matches!(t.kind, TokKind::Ident(_) | TokKind::Punct(':')))
        .unwrap_or(end - open - 1);
    let path: Vec<&str> = toks[open + 1..open + 1 + first_path_end]
        .iter()
        .filter_map(|t| match &t.kind {
            TokKind::Ident(w) => Some(w.as_str()),
            _ => None,
        })
        .collect();
    let last = path.last().copied().unwrap_or("");
    let test = matches!(last, "test" | "rstest" | "test_case" | "quickcheck");
    let cfg_test = path == ["cfg"] && words.contains(&"test") && !words.contains(&"not");
    Some((
        AttrInfo {
            test,
            cfg_test,
            inner,
        },
        end + 1,
    ))
}

#[derive(Clone, Debug)]
enum Scope {
    Module { name: String, test: bool },
    Function { path: String, test: bool },
    Proptest,
    Other,
}

#[derive(Clone, Debug)]
enum Pending {
    Module {
        name: String,
        test: bool,
    },
    Function {
        name: String,
        test: bool,
        depth: usize,
    },
    Proptest,
}

/// Keywords and tokens that may stand between an annotation and the function it describes.
fn is_item_prefix(tok: &TokKind) -> bool {
    match tok {
        TokKind::Ident(w) => matches!(
            w.as_str(),
            "pub"
                | "crate"
                | "super"
                | "self"
                | "in"
                | "async"
                | "const"
                | "unsafe"
                | "extern"
                | "default"
        ),
        TokKind::Punct('(') | TokKind::Punct(')') | TokKind::Literal => true,
        TokKind::Comment(_) => true,
        _ => false,
    }
}

const ITEM_KEYWORDS: [&str; 11] = [
    "struct",
    "enum",
    "union",
    "impl",
    "trait",
    "mod",
    "static",
    "type",
    "use",
    "macro_rules",
    "const",
];

/// Scans one file's text, adding its functions and annotations to `trace`.
pub fn scan_source(text: &str, file: &Path, context: &FileContext, trace: &mut Trace) {
    let toks = lex(text);
    let mut scopes: Vec<Scope> = Vec::new();
    let mut pending: Option<Pending> = None;
    let mut attrs = AttrInfo::default();
    let mut file_test = context.test_file;
    // Annotations waiting for the item below them: (line, ids, malformed).
    let mut waiting: Vec<(usize, Vec<String>, Vec<String>)> = Vec::new();
    let mut paren_depth = 0usize;

    let in_test = |scopes: &[Scope], file_test: bool| {
        file_test
            || scopes.iter().any(|s| match s {
                Scope::Module { test, .. } | Scope::Function { test, .. } => *test,
                Scope::Proptest => true,
                Scope::Other => false,
            })
    };
    let inline_modules = |scopes: &[Scope]| -> Vec<String> {
        scopes
            .iter()
            .filter_map(|s| match s {
                Scope::Module { name, .. } => Some(name.clone()),
                _ => None,
            })
            .collect()
    };
    let fn_path = |scopes: &[Scope], name: &str| -> String {
        let mut s = file.to_string_lossy().replace('\\', "/");
        for m in inline_modules(scopes) {
            s.push_str("::");
            s.push_str(&m);
        }
        s.push_str("::");
        s.push_str(name);
        s
    };

    let mut i = 0;
    while i < toks.len() {
        let tok = &toks[i];
        // Flush annotations waiting for an item when something other than a prefix appears.
        if !waiting.is_empty()
            && !is_item_prefix(&tok.kind)
            && !matches!(tok.kind, TokKind::Punct('#'))
            && !matches!(&tok.kind, TokKind::Ident(w) if w == "fn")
        {
            let target = match &tok.kind {
                TokKind::Ident(w) if ITEM_KEYWORDS.contains(&w.as_str()) => {
                    let name = match toks.get(i + 1).map(|t| &t.kind) {
                        Some(TokKind::Ident(n)) => format!("{w} {n}"),
                        _ => w.clone(),
                    };
                    Target::Item(name)
                }
                TokKind::Punct('}') => Target::Module,
                TokKind::Ident(w) => {
                    // `const NAME` / `static NAME`: the keyword was a possible `fn` prefix.
                    match i.checked_sub(1).and_then(|p| toks.get(p)).map(|t| &t.kind) {
                        Some(TokKind::Ident(prev)) if ITEM_KEYWORDS.contains(&prev.as_str()) => {
                            Target::Item(format!("{prev} {w}"))
                        }
                        _ => Target::Item(w.clone()),
                    }
                }
                _ => Target::Module,
            };
            let kind = if in_test(&scopes, file_test) || attrs.test || attrs.cfg_test {
                Kind::Test
            } else {
                Kind::Implementation
            };
            for (line, ids, malformed) in waiting.drain(..) {
                trace.annotations.push(Annotation {
                    file: file.to_path_buf(),
                    line,
                    ids,
                    target: target.clone(),
                    kind,
                    malformed,
                });
            }
        }
        match &tok.kind {
            TokKind::Comment(body) => {
                if let Some((ids, malformed)) = parse_annotation(body) {
                    // Inside a function body: attach at once.
                    let enclosing = scopes.iter().rev().find_map(|s| match s {
                        Scope::Function { path, .. } => Some(path.clone()),
                        _ => None,
                    });
                    match enclosing {
                        Some(path) => trace.annotations.push(Annotation {
                            file: file.to_path_buf(),
                            line: tok.line,
                            ids,
                            target: Target::Function(path),
                            kind: if in_test(&scopes, file_test) {
                                Kind::Test
                            } else {
                                Kind::Implementation
                            },
                            malformed,
                        }),
                        None => waiting.push((tok.line, ids, malformed)),
                    }
                }
            }
            TokKind::Punct('#') => {
                if let Some((attr, next)) = attribute_at(&toks, i) {
                    if attr.inner {
                        if attr.cfg_test {
                            if scopes.is_empty() {
                                file_test = true;
                            } else if let Some(Scope::Module { test, .. }) = scopes.last_mut() {
                                *test = true;
                            }
                        }
                    } else {
                        attrs.test |= attr.test;
                        attrs.cfg_test |= attr.cfg_test;
                    }
                    i = next;
                    continue;
                }
            }
            TokKind::Ident(w) if w == "fn" => {
                if let Some(TokKind::Ident(name)) = toks.get(i + 1).map(|t| &t.kind) {
                    let test = attrs.test || attrs.cfg_test;
                    pending = Some(Pending::Function {
                        name: name.clone(),
                        test,
                        depth: paren_depth,
                    });
                    let path = fn_path(&scopes, name);
                    let is_test = test || in_test(&scopes, file_test);
                    trace.functions.push(Function {
                        file: file.to_path_buf(),
                        line: tok.line,
                        package: context.package.clone(),
                        module_path: {
                            let mut m = context.module_path.clone();
                            m.extend(inline_modules(&scopes));
                            m
                        },
                        inline_modules: inline_modules(&scopes),
                        name: name.clone(),
                        kind: if is_test {
                            Kind::Test
                        } else {
                            Kind::Implementation
                        },
                        in_library: context.in_library,
                    });
                    let kind = if is_test {
                        Kind::Test
                    } else {
                        Kind::Implementation
                    };
                    for (line, ids, malformed) in waiting.drain(..) {
                        trace.annotations.push(Annotation {
                            file: file.to_path_buf(),
                            line,
                            ids,
                            target: Target::Function(path.clone()),
                            kind,
                            malformed,
                        });
                    }
                    attrs = AttrInfo::default();
                    i += 2;
                    continue;
                }
            }
            TokKind::Ident(w) if w == "mod" => {
                if let Some(TokKind::Ident(name)) = toks.get(i + 1).map(|t| &t.kind) {
                    pending = Some(Pending::Module {
                        name: name.clone(),
                        test: attrs.cfg_test,
                    });
                    attrs = AttrInfo::default();
                    i += 2;
                    continue;
                }
            }
            TokKind::Ident(w) if w == "proptest" => {
                if matches!(toks.get(i + 1).map(|t| &t.kind), Some(TokKind::Punct('!'))) {
                    pending = Some(Pending::Proptest);
                    i += 2;
                    continue;
                }
            }
            TokKind::Punct('(') | TokKind::Punct('[') => paren_depth += 1,
            TokKind::Punct(')') | TokKind::Punct(']') => {
                paren_depth = paren_depth.saturating_sub(1)
            }
            TokKind::Punct('{') => {
                let scope = match pending.take() {
                    Some(Pending::Module { name, test }) => Scope::Module { name, test },
                    Some(Pending::Function { name, test, depth }) if depth == paren_depth => {
                        Scope::Function {
                            path: fn_path(&scopes, &name),
                            test,
                        }
                    }
                    Some(p @ Pending::Function { .. }) => {
                        pending = Some(p);
                        Scope::Other
                    }
                    Some(Pending::Proptest) => Scope::Proptest,
                    None => Scope::Other,
                };
                scopes.push(scope);
                attrs = AttrInfo::default();
            }
            TokKind::Punct('}') => {
                scopes.pop();
                attrs = AttrInfo::default();
            }
            TokKind::Punct(';') => {
                if let Some(Pending::Function { depth, .. }) = &pending {
                    if *depth == paren_depth {
                        pending = None;
                    }
                } else {
                    pending = None;
                }
                attrs = AttrInfo::default();
            }
            _ => {}
        }
        i += 1;
    }
    let kind = if file_test {
        Kind::Test
    } else {
        Kind::Implementation
    };
    for (line, ids, malformed) in waiting.drain(..) {
        trace.annotations.push(Annotation {
            file: file.to_path_buf(),
            line,
            ids,
            target: Target::Module,
            kind,
            malformed,
        });
    }
}

/// Parses the text of a line comment (after `//`). Returns `None` unless it is a `spec:`
/// annotation; otherwise the well-formed ids and any other words found after `spec:`.
/// Doc comments (`///`, `//!`) count too.
pub fn parse_annotation(comment: &str) -> Option<(Vec<String>, Vec<String>)> {
    let body = comment.trim_start_matches(['/', '!']).trim_start();
    let rest = body.strip_prefix("spec:")?;
    let mut ids = Vec::new();
    let mut malformed = Vec::new();
    for word in rest.split(|c: char| c == ',' || c.is_whitespace()) {
        let word = word.trim_end_matches(['.', ';']);
        if word.is_empty() {
            continue;
        }
        if is_valid_id(word) {
            ids.push(word.to_string());
        } else {
            malformed.push(word.to_string());
        }
    }
    Some((ids, malformed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(text: &str, test_file: bool) -> Trace {
        let mut trace = Trace::default();
        let context = FileContext {
            package: "demo-crate".into(),
            module_path: vec!["wire".into()],
            test_file,
            in_library: !test_file,
        };
        scan_source(text, Path::new("demo/src/wire.rs"), &context, &mut trace);
        trace.annotations.sort();
        trace
    }

    #[test]
    fn annotation_parsing_takes_ids_and_flags_other_words() {
        assert_eq!(parse_annotation(" not a spec"), None);
        let (ids, bad) = parse_annotation(" spec: 7016-2.3.14-c, 7425-4.6.2-a").unwrap_or_default();
        assert_eq!(ids, ["7016-2.3.14-c", "7425-4.6.2-a"]);
        assert!(bad.is_empty());
        let (ids, bad) = parse_annotation("/ spec: 7425-4.1-b 7425-4.1-Q").unwrap_or_default();
        assert_eq!(ids, ["7425-4.1-b"]);
        assert_eq!(bad, ["7425-4.1-Q"]);
    }

    #[test]
    fn annotations_attach_to_the_function_below_or_around_them() {
        let src = r#"
// spec: 7425-4.1-a
pub fn encrypt() {
    let s = "// spec: 7425-9-z";
    // spec: 7425-4.1-b
}

/* // spec: 7425-9-y */
#[cfg(test)]
mod tests {
    // spec: 7425-4.1-c
    #[test]
    #[ignore]
    fn default_key() { let _c = '}'; }

    proptest! {
        // spec: 7425-4.1-d
        #[test]
        fn never_panics(x in 0..3u8) { let _ = x; }
    }
}
"#;
        let t = scan(src, false);
        let got: Vec<(usize, &str, String, Kind)> = t
            .annotations
            .iter()
            .map(|a| {
                let target = match &a.target {
                    Target::Function(f) => f.clone(),
                    other => format!("{other:?}"),
                };
                (a.line, a.ids[0].as_str(), target, a.kind)
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    2,
                    "7425-4.1-a",
                    "demo/src/wire.rs::encrypt".to_string(),
                    Kind::Implementation
                ),
                (
                    5,
                    "7425-4.1-b",
                    "demo/src/wire.rs::encrypt".to_string(),
                    Kind::Implementation
                ),
                (
                    11,
                    "7425-4.1-c",
                    "demo/src/wire.rs::tests::default_key".to_string(),
                    Kind::Test
                ),
                (
                    17,
                    "7425-4.1-d",
                    "demo/src/wire.rs::tests::never_panics".to_string(),
                    Kind::Test
                ),
            ]
        );
        let names: Vec<String> = t
            .functions
            .iter()
            .filter_map(Function::crate_path)
            .collect();
        assert_eq!(
            names,
            [
                "demo_crate::wire::encrypt",
                "demo_crate::wire::tests::default_key",
                "demo_crate::wire::tests::never_panics"
            ]
        );
    }

    #[test]
    fn annotations_on_other_items_and_in_test_files() {
        let src = "// spec: 7425-4.4.4-c\npub const EPD_LEN: usize = 34;\n\n// spec: 7425-3-a\n";
        let t = scan(src, false);
        assert_eq!(
            t.annotations[0].target,
            Target::Item("const EPD_LEN".into())
        );
        assert_eq!(t.annotations[1].target, Target::Module);
        assert!(t.annotations.iter().all(|a| a.kind == Kind::Implementation));
        let t = scan("// spec: 7425-3-a\nfn helper() {}\n", true);
        assert_eq!(t.annotations[0].kind, Kind::Test);
    }

    #[test]
    fn lexer_survives_raw_strings_lifetimes_and_unterminated_input() {
        let src = "fn a<'x>(s: &'x str) -> &'x str { let _r = r#\"}\"#; let _b = b'{'; s }\n// spec: 7425-3-b\nfn b() {}\n\"unterminated";
        let t = scan(src, false);
        assert_eq!(t.annotations.len(), 1);
        assert_eq!(
            t.annotations[0].target,
            Target::Function("demo/src/wire.rs::b".into())
        );
        for junk in ["\"", "'", "r#\"", "/*", "fn", "fn x(", "#[", "'\\"] {
            let _ = scan(junk, false);
        }
    }
}
