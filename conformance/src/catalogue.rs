//! The formal spec of `spec/` as typed data: requirement catalogues, state machines and the
//! committed RFC section lists (schema and id scheme: `spec/README.md`).
//!
//! Loading never panics on a bad file. Every problem becomes a [`CatalogueError`] naming the
//! file, the line (where the YAML parser knows it), the entry id and the field, and a loader
//! reports all the problems of a file at once rather than stopping at the first.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use regex::Regex;
use serde::{Deserialize, Serialize, Serializer};
use serde_saphyr::Spanned;

/// Requirement id syntax, exactly as `spec/README.md` gives it.
pub const ID_PATTERN: &str = r"^(7016|7425)-([1-9][0-9]*|A)(\.[0-9]+)*-[a-z]{1,2}$";

/// Section number syntax: the section part of [`ID_PATTERN`].
pub const SECTION_PATTERN: &str = r"^([1-9][0-9]*|A)(\.[0-9]+)*$";

/// The RFCs the catalogue covers.
pub const RFCS: [u16; 2] = [7016, 7425];

fn id_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(ID_PATTERN).expect("ID_PATTERN is a valid regular expression"))
}

fn section_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(SECTION_PATTERN).expect("SECTION_PATTERN is a valid regular expression")
    })
}

/// Whether `id` matches [`ID_PATTERN`].
pub fn is_valid_id(id: &str) -> bool {
    id_regex().is_match(id)
}

/// Whether `section` matches [`SECTION_PATTERN`].
pub fn is_valid_section(section: &str) -> bool {
    section_regex().is_match(section)
}

/// Splits a well-formed id into `(rfc, section, letters)`.
pub fn split_id(id: &str) -> Option<(u16, &str, &str)> {
    if !is_valid_id(id) {
        return None;
    }
    let (rfc, rest) = id.split_once('-')?;
    let (section, letters) = rest.rsplit_once('-')?;
    Some((rfc.parse().ok()?, section, letters))
}

/// The position of a letter sequence in `a`, ..., `z`, `aa`, `ab`, ... (0 for `a`).
pub fn letter_index(letters: &str) -> Option<usize> {
    let b = letters.as_bytes();
    let val = |c: u8| c.is_ascii_lowercase().then(|| usize::from(c - b'a'));
    match b {
        [c] => val(*c),
        [c1, c2] => Some(26 + val(*c1)? * 26 + val(*c2)?),
        _ => None,
    }
}

/// The letter sequence at position `index` (inverse of [`letter_index`]), up to `zz`.
pub fn letters_at(index: usize) -> Option<String> {
    let ch = |i: usize| char::from(b'a' + u8::try_from(i).unwrap_or(0));
    if index < 26 {
        Some(ch(index).to_string())
    } else if index < 26 + 26 * 26 {
        let i = index - 26;
        Some(format!("{}{}", ch(i / 26), ch(i % 26)))
    } else {
        None
    }
}

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every value, in the order the schema lists them.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The spelling used in the YAML files.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses the YAML spelling.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }

            /// The accepted spellings, for error messages.
            pub fn expected() -> String {
                Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

string_enum! {
    /// The strength of a requirement: the RFC 2119 keyword as written, or `PROCEDURE`.
    Level {
        Must => "MUST",
        MustNot => "MUST NOT",
        Required => "REQUIRED",
        Shall => "SHALL",
        ShallNot => "SHALL NOT",
        Should => "SHOULD",
        ShouldNot => "SHOULD NOT",
        Recommended => "RECOMMENDED",
        NotRecommended => "NOT RECOMMENDED",
        May => "MAY",
        Optional => "OPTIONAL",
        Procedure => "PROCEDURE",
    }
}

impl Level {
    /// Absolute requirements (RFC 2119 sections 1 and 2) and procedure steps, which state
    /// required behaviour without a keyword. These are what the coverage policy enforces.
    pub fn is_mandatory(self) -> bool {
        matches!(
            self,
            Level::Must
                | Level::MustNot
                | Level::Required
                | Level::Shall
                | Level::ShallNot
                | Level::Procedure
        )
    }
}

string_enum! {
    /// Who a requirement binds.
    Role {
        Initiator => "initiator",
        Responder => "responder",
        Forwarder => "forwarder",
        Redirector => "redirector",
        Sender => "sender",
        Receiver => "receiver",
        Any => "any",
    }
}

string_enum! {
    /// How a black-box tester holding the session keys can see a requirement over UDP.
    Observable {
        Wire => "wire",
        Timing => "timing",
        Statistical => "statistical",
        Hook => "hook",
        None => "none",
    }
}

impl Observable {
    /// Whether a tester can check it from outside with no help from the implementation.
    pub fn is_black_box(self) -> bool {
        matches!(
            self,
            Observable::Wire | Observable::Timing | Observable::Statistical
        )
    }
}

string_enum! {
    /// Which state machine a `spec/state-machines/*.yaml` file describes.
    MachineKind {
        Session => "session",
        SendingFlow => "sending_flow",
        ReceivingFlow => "receiving_flow",
    }
}

string_enum! {
    /// The phase a state belongs to.
    StateKind {
        Opening => "opening",
        Open => "open",
        Closing => "closing",
        Closed => "closed",
    }
}

/// A problem found while loading `spec/`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct CatalogueError {
    /// The file, relative to the repository root where possible.
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<u64>,
    /// The entry: a requirement id, a state name or transition, or `#n` when it has no id.
    pub entry: Option<String>,
    /// The field at fault.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for CatalogueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(entry) = &self.entry {
            write!(f, ": entry {entry}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for CatalogueError {}

/// One normative statement of an RFC.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Requirement {
    pub id: String,
    pub rfc: u16,
    pub section: String,
    pub level: Level,
    pub role: Role,
    pub statement: String,
    pub observable: Observable,
    pub how: String,
    /// Explicit test paths (`crate::module::test` or `path/to/file.rs::test`).
    pub tests: Vec<TestRef>,
    pub notes: Option<String>,
    /// Why a mandatory, black-box-testable requirement has no test (coverage policy).
    pub untested_reason: Option<String>,
    /// Set when this id was split into others (spec/README.md): it is then retired.
    pub split_into: Vec<String>,
    /// Line of the entry in its file.
    pub line: Option<u64>,
}

impl Requirement {
    /// Whether the id was retired by a split.
    pub fn is_retired(&self) -> bool {
        !self.split_into.is_empty()
    }
}

/// A test path from a `tests:` field, with its line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TestRef {
    pub path: String,
    pub line: Option<u64>,
}

/// One `spec/requirements/rfcNNNN.yaml` file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Catalogue {
    pub rfc: u16,
    pub file: PathBuf,
    pub requirements: Vec<Requirement>,
}

/// A state of a state machine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct State {
    pub name: String,
    pub kind: StateKind,
    pub summary: String,
    pub line: Option<u64>,
}

/// A transition of a state machine. `from` is `None` for a creation transition (`from: none`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Transition {
    pub from: Option<String>,
    pub to: String,
    pub event: String,
    pub section: String,
    pub timer: Option<String>,
    pub requirements: Vec<String>,
    pub line: Option<u64>,
}

/// One `spec/state-machines/*.yaml` file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StateMachine {
    pub machine: MachineKind,
    pub rfc: u16,
    pub section: String,
    pub figure: Option<u32>,
    pub states: Vec<State>,
    pub initial: Vec<String>,
    pub final_states: Vec<String>,
    pub transitions: Vec<Transition>,
    pub notes: Option<String>,
    pub file: PathBuf,
}

impl StateMachine {
    /// The declared state names, in file order.
    pub fn state_names(&self) -> Vec<String> {
        self.states.iter().map(|s| s.name.clone()).collect()
    }
}

/// Everything in `spec/`: catalogues by RFC, state machines, and section lists by RFC.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Spec {
    pub root: PathBuf,
    pub catalogues: BTreeMap<u16, Catalogue>,
    pub machines: Vec<StateMachine>,
    /// Section number to title, from `spec/sections-NNNN.txt`.
    pub sections: BTreeMap<u16, BTreeMap<String, String>>,
}

impl Spec {
    /// Every requirement of every catalogue, in RFC then file order.
    pub fn requirements(&self) -> impl Iterator<Item = &Requirement> {
        self.catalogues.values().flat_map(|c| c.requirements.iter())
    }

    /// Looks a requirement up by id.
    pub fn requirement(&self, id: &str) -> Option<&Requirement> {
        let (rfc, _, _) = split_id(id)?;
        self.catalogues
            .get(&rfc)?
            .requirements
            .iter()
            .find(|r| r.id == id)
    }

    /// The state machine of one kind, if its file exists.
    pub fn machine(&self, kind: MachineKind) -> Option<&StateMachine> {
        self.machines.iter().find(|m| m.machine == kind)
    }
}

/// The repository root this crate was built in (the workspace directory).
pub fn default_repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| manifest.to_path_buf())
}

/// Loads `spec/` under `root`: `requirements/rfc7016.yaml` and `rfc7425.yaml` (each optional),
/// every `state-machines/*.yaml`, and `sections-7016.txt` / `sections-7425.txt` (optional).
pub fn load_spec(root: &Path) -> Result<Spec, Vec<CatalogueError>> {
    let spec_dir = root.join("spec");
    let mut errors = Vec::new();
    let mut spec = Spec {
        root: root.to_path_buf(),
        ..Spec::default()
    };
    for rfc in RFCS {
        let path = spec_dir.join("requirements").join(format!("rfc{rfc}.yaml"));
        if path.is_file() {
            match load_catalogue(&path, root) {
                Ok(c) => {
                    if c.rfc != rfc {
                        errors.push(CatalogueError {
                            file: relative(&path, root),
                            line: None,
                            entry: None,
                            field: Some("rfc".into()),
                            message: format!("file is named for RFC {rfc} but says rfc: {}", c.rfc),
                        });
                    }
                    spec.catalogues.insert(rfc, c);
                }
                Err(mut e) => errors.append(&mut e),
            }
        }
        let path = spec_dir.join(format!("sections-{rfc}.txt"));
        if path.is_file() {
            match load_sections(&path, root) {
                Ok(s) => {
                    spec.sections.insert(rfc, s);
                }
                Err(e) => errors.push(e),
            }
        }
    }
    let machines_dir = spec_dir.join("state-machines");
    if machines_dir.is_dir() {
        match sorted_files(&machines_dir, "yaml") {
            Ok(files) => {
                for path in files {
                    match load_state_machine(&path, root) {
                        Ok(m) => spec.machines.push(m),
                        Err(mut e) => errors.append(&mut e),
                    }
                }
            }
            Err(e) => errors.push(io_error(&machines_dir, root, &e)),
        }
    }
    if errors.is_empty() {
        Ok(spec)
    } else {
        errors.sort();
        Err(errors)
    }
}

/// Loads the default repository's `spec/` and returns the declared state names of `machine`
/// (`session`, `sending_flow` or `receiving_flow`), in file order. Reference tests use this to
/// check their state enums against `spec/state-machines`.
pub fn state_names(machine: &str) -> Result<Vec<String>, CatalogueError> {
    state_names_in(&default_repo_root(), machine)
}

/// [`state_names`] for the repository at `root`.
pub fn state_names_in(root: &Path, machine: &str) -> Result<Vec<String>, CatalogueError> {
    let not_found = |message: String| CatalogueError {
        file: PathBuf::from("spec/state-machines"),
        line: None,
        entry: None,
        field: Some("machine".into()),
        message,
    };
    let kind = MachineKind::parse(machine).ok_or_else(|| {
        not_found(format!(
            "unknown machine `{machine}`, expected one of {}",
            MachineKind::expected()
        ))
    })?;
    let dir = root.join("spec").join("state-machines");
    let files = sorted_files(&dir, "yaml").map_err(|e| io_error(&dir, root, &e))?;
    for path in files {
        let m = load_state_machine(&path, root).map_err(|errors| {
            errors.into_iter().next().unwrap_or_else(|| CatalogueError {
                file: relative(&path, root),
                line: None,
                entry: None,
                field: None,
                message: "invalid state machine".into(),
            })
        })?;
        if m.machine == kind {
            return Ok(m.state_names());
        }
    }
    Err(not_found(format!(
        "no state machine file declares `machine: {machine}`"
    )))
}

/// Compares state names from code (for example a `Debug` rendering of every enum variant)
/// with the states `spec/state-machines` declares for `machine`. Order does not matter.
/// The error lists the names missing on each side.
pub fn compare_state_names(machine: &str, code_names: &[&str]) -> Result<(), String> {
    compare_state_names_in(&default_repo_root(), machine, code_names)
}

/// [`compare_state_names`] for the repository at `root`.
pub fn compare_state_names_in(
    root: &Path,
    machine: &str,
    code_names: &[&str],
) -> Result<(), String> {
    let spec: BTreeSet<String> = state_names_in(root, machine)
        .map_err(|e| e.to_string())?
        .into_iter()
        .collect();
    let code: BTreeSet<String> = code_names.iter().map(|s| s.to_string()).collect();
    let only_spec: Vec<_> = spec.difference(&code).cloned().collect();
    let only_code: Vec<_> = code.difference(&spec).cloned().collect();
    if only_spec.is_empty() && only_code.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "state machine `{machine}`: states only in spec/state-machines: [{}]; states only in the code: [{}]",
            only_spec.join(", "),
            only_code.join(", ")
        ))
    }
}

// ---------------------------------------------------------------- requirement catalogues

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalogue {
    rfc: Option<Spanned<u16>>,
    requirements: Option<Vec<Spanned<RawRequirement>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequirement {
    id: Option<Spanned<String>>,
    section: Option<Spanned<String>>,
    level: Option<Spanned<String>>,
    role: Option<Spanned<String>>,
    statement: Option<Spanned<String>>,
    observable: Option<Spanned<String>>,
    how: Option<Spanned<String>>,
    tests: Option<Vec<Spanned<String>>>,
    notes: Option<String>,
    untested_reason: Option<Spanned<String>>,
    split_into: Option<Vec<Spanned<String>>>,
}

/// Loads one requirement catalogue file. `root` only shortens the file names in errors.
pub fn load_catalogue(path: &Path, root: &Path) -> Result<Catalogue, Vec<CatalogueError>> {
    let file = relative(path, root);
    let text = std::fs::read_to_string(path).map_err(|e| vec![io_error(path, root, &e)])?;
    parse_catalogue(&text, &file)
}

/// Parses catalogue text; `file` names it in errors.
pub fn parse_catalogue(text: &str, file: &Path) -> Result<Catalogue, Vec<CatalogueError>> {
    let raw: RawCatalogue =
        serde_saphyr::from_str(text).map_err(|e| vec![yaml_error(&e, text, file, "id")])?;
    let mut errors = Vec::new();
    let err =
        |line: Option<u64>, entry: Option<&str>, field: &str, message: String| CatalogueError {
            file: file.to_path_buf(),
            line,
            entry: entry.map(str::to_string),
            field: Some(field.to_string()),
            message,
        };
    let rfc = match raw.rfc {
        Some(r) if RFCS.contains(&r.value) => r.value,
        Some(r) => {
            errors.push(err(
                Some(r.referenced.line()),
                None,
                "rfc",
                format!("{} is not one of {RFCS:?}", r.value),
            ));
            0
        }
        None => {
            errors.push(err(None, None, "rfc", "missing".into()));
            0
        }
    };
    let Some(entries) = raw.requirements else {
        errors.push(err(None, None, "requirements", "missing".into()));
        return Err(errors);
    };
    let mut requirements = Vec::with_capacity(entries.len());
    for (index, entry) in entries.into_iter().enumerate() {
        let line = Some(entry.referenced.line());
        let raw = entry.value;
        let name = raw
            .id
            .as_ref()
            .map(|s| s.value.clone())
            .unwrap_or_else(|| format!("#{}", index + 1));
        let before = errors.len();
        let mut field_err = |field: &str, at: Option<u64>, message: String| {
            errors.push(err(at.or(line), Some(&name), field, message));
        };
        let text_field = |field: &str,
                          value: Option<Spanned<String>>,
                          field_err: &mut dyn FnMut(&str, Option<u64>, String)|
         -> String {
            match value {
                Some(v) if !v.value.trim().is_empty() => v.value,
                Some(v) => {
                    field_err(field, Some(v.referenced.line()), "is empty".into());
                    String::new()
                }
                None => {
                    field_err(field, None, "missing".into());
                    String::new()
                }
            }
        };
        let id = text_field("id", raw.id.clone(), &mut field_err);
        let id_line = raw.id.as_ref().map(|s| s.referenced.line());
        let section = text_field("section", raw.section.clone(), &mut field_err);
        let section_line = raw.section.as_ref().map(|s| s.referenced.line());
        if !id.is_empty() {
            match split_id(&id) {
                None => field_err("id", id_line, format!("`{id}` does not match {ID_PATTERN}")),
                Some((id_rfc, id_section, _)) => {
                    if rfc != 0 && id_rfc != rfc {
                        field_err("id", id_line, format!("`{id}` is not an RFC {rfc} id"));
                    }
                    if !section.is_empty() && id_section != section {
                        field_err(
                            "section",
                            section_line,
                            format!(
                                "`{section}` differs from the section `{id_section}` in the id"
                            ),
                        );
                    }
                }
            }
        }
        if !section.is_empty() && !is_valid_section(&section) {
            field_err(
                "section",
                section_line,
                format!("`{section}` does not match {SECTION_PATTERN}"),
            );
        }
        let level = enum_field(
            "level",
            raw.level,
            Level::parse,
            Level::expected,
            &mut field_err,
        );
        let role = enum_field(
            "role",
            raw.role,
            Role::parse,
            Role::expected,
            &mut field_err,
        );
        let observable = enum_field(
            "observable",
            raw.observable,
            Observable::parse,
            Observable::expected,
            &mut field_err,
        );
        let statement = text_field("statement", raw.statement, &mut field_err);
        let how = text_field("how", raw.how, &mut field_err);
        let tests = raw
            .tests
            .unwrap_or_default()
            .into_iter()
            .filter_map(|t| {
                if t.value.trim().is_empty() {
                    field_err(
                        "tests",
                        Some(t.referenced.line()),
                        "holds an empty test path".into(),
                    );
                    None
                } else {
                    Some(TestRef {
                        path: t.value,
                        line: Some(t.referenced.line()),
                    })
                }
            })
            .collect();
        let untested_reason = match raw.untested_reason {
            Some(r) if r.value.trim().is_empty() => {
                field_err(
                    "untested_reason",
                    Some(r.referenced.line()),
                    "is empty; give the reason or drop the field".into(),
                );
                None
            }
            other => other.map(|r| r.value),
        };
        let split_into = raw
            .split_into
            .unwrap_or_default()
            .into_iter()
            .filter_map(|s| {
                if is_valid_id(&s.value) {
                    Some(s.value)
                } else {
                    field_err(
                        "split_into",
                        Some(s.referenced.line()),
                        format!("`{}` does not match {ID_PATTERN}", s.value),
                    );
                    None
                }
            })
            .collect();
        if errors.len() == before
            && let (Some(level), Some(role), Some(observable)) = (level, role, observable)
        {
            requirements.push(Requirement {
                id,
                rfc,
                section,
                level,
                role,
                statement,
                observable,
                how,
                tests,
                notes: raw.notes.filter(|n| !n.trim().is_empty()),
                untested_reason,
                split_into,
                line,
            });
        }
    }
    if errors.is_empty() {
        Ok(Catalogue {
            rfc,
            file: file.to_path_buf(),
            requirements,
        })
    } else {
        Err(errors)
    }
}

fn enum_field<T>(
    field: &str,
    value: Option<Spanned<String>>,
    parse: fn(&str) -> Option<T>,
    expected: fn() -> String,
    field_err: &mut dyn FnMut(&str, Option<u64>, String),
) -> Option<T> {
    match value {
        None => {
            field_err(field, None, "missing".into());
            None
        }
        Some(v) => {
            let parsed = parse(&v.value);
            if parsed.is_none() {
                field_err(
                    field,
                    Some(v.referenced.line()),
                    format!("`{}` is not one of: {}", v.value, expected()),
                );
            }
            parsed
        }
    }
}

// ---------------------------------------------------------------- state machines

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMachine {
    machine: Option<Spanned<String>>,
    rfc: Option<Spanned<u16>>,
    section: Option<Spanned<String>>,
    figure: Option<u32>,
    states: Option<Vec<Spanned<RawState>>>,
    initial: Option<Vec<Spanned<String>>>,
    #[serde(rename = "final")]
    final_states: Option<Vec<Spanned<String>>>,
    transitions: Option<Vec<Spanned<RawTransition>>>,
    notes: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawState {
    name: Option<String>,
    kind: Option<String>,
    summary: Option<String>,
    notes: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTransition {
    from: Option<String>,
    to: Option<String>,
    event: Option<String>,
    section: Option<String>,
    timer: Option<String>,
    requirements: Option<Vec<String>>,
    notes: Option<String>,
}

/// Loads one state machine file. Only the file's own shape is checked here; references to
/// requirement ids and sections are checked by [`crate::checks`].
pub fn load_state_machine(path: &Path, root: &Path) -> Result<StateMachine, Vec<CatalogueError>> {
    let file = relative(path, root);
    let text = std::fs::read_to_string(path).map_err(|e| vec![io_error(path, root, &e)])?;
    parse_state_machine(&text, &file)
}

/// Parses state machine text; `file` names it in errors.
pub fn parse_state_machine(text: &str, file: &Path) -> Result<StateMachine, Vec<CatalogueError>> {
    let raw: RawMachine =
        serde_saphyr::from_str(text).map_err(|e| vec![yaml_error(&e, text, file, "name")])?;
    let mut errors = Vec::new();
    let make =
        |line: Option<u64>, entry: Option<String>, field: &str, message: String| CatalogueError {
            file: file.to_path_buf(),
            line,
            entry,
            field: Some(field.to_string()),
            message,
        };
    macro_rules! err {
        ($($arg:expr),+ $(,)?) => { errors.push(make($($arg),+)) };
    }
    let machine = match &raw.machine {
        None => {
            err!(None, None, "machine", "missing".into());
            None
        }
        Some(m) => {
            let parsed = MachineKind::parse(&m.value);
            if parsed.is_none() {
                err!(
                    Some(m.referenced.line()),
                    None,
                    "machine",
                    format!("`{}` is not one of: {}", m.value, MachineKind::expected()),
                );
            }
            parsed
        }
    };
    let rfc = match &raw.rfc {
        Some(r) if RFCS.contains(&r.value) => r.value,
        Some(r) => {
            err!(
                Some(r.referenced.line()),
                None,
                "rfc",
                format!("{} is not one of {RFCS:?}", r.value)
            );
            0
        }
        None => {
            err!(None, None, "rfc", "missing".into());
            0
        }
    };
    let section = match &raw.section {
        Some(s) if is_valid_section(&s.value) => s.value.clone(),
        Some(s) => {
            err!(
                Some(s.referenced.line()),
                None,
                "section",
                format!("`{}` does not match {SECTION_PATTERN}", s.value),
            );
            String::new()
        }
        None => {
            err!(None, None, "section", "missing".into());
            String::new()
        }
    };
    let mut states = Vec::new();
    for (index, s) in raw.states.unwrap_or_default().into_iter().enumerate() {
        let line = Some(s.referenced.line());
        let raw_state = s.value;
        let entry = raw_state
            .name
            .clone()
            .unwrap_or_else(|| format!("state #{}", index + 1));
        let name = match raw_state.name {
            Some(n) if !n.trim().is_empty() => n,
            _ => {
                err!(line, Some(entry.clone()), "name", "missing or empty".into());
                continue;
            }
        };
        let kind = match raw_state.kind.as_deref().map(StateKind::parse) {
            Some(Some(k)) => k,
            Some(None) => {
                err!(
                    line,
                    Some(entry.clone()),
                    "kind",
                    format!(
                        "`{}` is not one of: {}",
                        raw_state.kind.unwrap_or_default(),
                        StateKind::expected()
                    ),
                );
                continue;
            }
            None => {
                err!(line, Some(entry.clone()), "kind", "missing".into());
                continue;
            }
        };
        let summary = match raw_state.summary {
            Some(s) if !s.trim().is_empty() => s,
            _ => {
                err!(
                    line,
                    Some(entry.clone()),
                    "summary",
                    "missing or empty".into()
                );
                continue;
            }
        };
        let _ = raw_state.notes;
        states.push(State {
            name,
            kind,
            summary,
            line,
        });
    }
    if states.is_empty() && errors.is_empty() {
        err!(None, None, "states", "missing or empty".into());
    }
    let names = |list: Option<Vec<Spanned<String>>>| -> Vec<String> {
        list.unwrap_or_default()
            .into_iter()
            .map(|s| s.value)
            .collect()
    };
    let initial = names(raw.initial);
    if initial.is_empty() {
        err!(None, None, "initial", "missing or empty".into());
    }
    let final_states = names(raw.final_states);
    if final_states.is_empty() {
        err!(None, None, "final", "missing or empty".into());
    }
    let mut transitions = Vec::new();
    for (index, t) in raw.transitions.unwrap_or_default().into_iter().enumerate() {
        let line = Some(t.referenced.line());
        let raw_t = t.value;
        let entry = format!(
            "transition #{} ({} -> {})",
            index + 1,
            raw_t.from.as_deref().unwrap_or("?"),
            raw_t.to.as_deref().unwrap_or("?")
        );
        let mut missing = |field: &str, value: &Option<String>| -> bool {
            if value.as_deref().is_none_or(|v| v.trim().is_empty()) {
                err!(line, Some(entry.clone()), field, "missing or empty".into());
                true
            } else {
                false
            }
        };
        let bad = missing("from", &raw_t.from)
            | missing("to", &raw_t.to)
            | missing("event", &raw_t.event)
            | missing("section", &raw_t.section);
        if bad {
            continue;
        }
        let from = raw_t.from.unwrap_or_default();
        let _ = raw_t.notes;
        transitions.push(Transition {
            from: (from != "none").then_some(from),
            to: raw_t.to.unwrap_or_default(),
            event: raw_t.event.unwrap_or_default(),
            section: raw_t.section.unwrap_or_default(),
            timer: raw_t.timer.filter(|t| !t.trim().is_empty() && t != "null"),
            requirements: raw_t.requirements.unwrap_or_default(),
            line,
        });
    }
    if transitions.is_empty() && errors.is_empty() {
        err!(None, None, "transitions", "missing or empty".into());
    }
    match (errors.is_empty(), machine) {
        (true, Some(machine)) => Ok(StateMachine {
            machine,
            rfc,
            section,
            figure: raw.figure,
            states,
            initial,
            final_states,
            transitions,
            notes: raw.notes,
            file: file.to_path_buf(),
        }),
        _ => Err(errors),
    }
}

// ---------------------------------------------------------------- section lists

/// Loads `spec/sections-NNNN.txt`: one section per line, `<number> <title>`; `#` starts a comment.
pub fn load_sections(path: &Path, root: &Path) -> Result<BTreeMap<String, String>, CatalogueError> {
    let file = relative(path, root);
    let text = std::fs::read_to_string(path).map_err(|e| io_error(path, root, &e))?;
    parse_sections(&text, &file)
}

/// Parses a section list; `file` names it in errors.
pub fn parse_sections(text: &str, file: &Path) -> Result<BTreeMap<String, String>, CatalogueError> {
    let mut sections = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line_no = u64::try_from(n + 1).ok();
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (number, title) = line.split_once(' ').unwrap_or((line, ""));
        if !is_valid_section(number) {
            return Err(CatalogueError {
                file: file.to_path_buf(),
                line: line_no,
                entry: Some(number.to_string()),
                field: Some("section".into()),
                message: format!("`{number}` does not match {SECTION_PATTERN}"),
            });
        }
        sections.insert(number.to_string(), title.trim().to_string());
    }
    Ok(sections)
}

// ---------------------------------------------------------------- helpers

/// `path` relative to `root` when it lies under it.
pub fn relative(path: &Path, root: &Path) -> PathBuf {
    path.strip_prefix(root).unwrap_or(path).to_path_buf()
}

fn io_error(path: &Path, root: &Path, e: &std::io::Error) -> CatalogueError {
    CatalogueError {
        file: relative(path, root),
        line: None,
        entry: None,
        field: None,
        message: format!("cannot read: {e}"),
    }
}

/// The files of `dir` with extension `ext`, sorted by name.
pub fn sorted_files(dir: &Path, ext: &str) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_file() && path.extension().is_some_and(|e| e == ext) {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Turns a YAML parse error into a [`CatalogueError`]: the parser's first message line, its
/// line number, and the entry it falls in (found by looking back for the nearest `key:` line).
fn yaml_error(e: &serde_saphyr::Error, text: &str, file: &Path, key: &str) -> CatalogueError {
    let rendered = e.to_string();
    let first = rendered.lines().next().unwrap_or("invalid YAML");
    let message = first.strip_prefix("error: ").unwrap_or(first);
    let message = message
        .split_once(": ")
        .filter(|(head, _)| head.starts_with("line "))
        .map_or(message, |(_, rest)| rest)
        .to_string();
    let line = e.location().map(|l| l.line()).filter(|l| *l > 0);
    let mut entry = None;
    let mut field = None;
    if let Some(line) = line {
        let lines: Vec<&str> = text.lines().collect();
        let at = usize::try_from(line)
            .unwrap_or(usize::MAX)
            .saturating_sub(1);
        if let Some(l) = lines.get(at) {
            let trimmed = l.trim_start().trim_start_matches("- ");
            field = trimmed
                .split_once(':')
                .map(|(k, _)| k.trim().to_string())
                .filter(|k| !k.is_empty() && !k.contains(' '));
        }
        let prefix = format!("{key}:");
        entry = lines
            .iter()
            .take(at + 1)
            .rev()
            .map(|l| l.trim_start().trim_start_matches("- ").trim_start())
            .find_map(|l| l.strip_prefix(&prefix).map(|v| v.trim().to_string()));
    }
    CatalogueError {
        file: file.to_path_buf(),
        line,
        entry,
        field,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_pattern_accepts_the_readme_examples_and_rejects_others() {
        for good in [
            "7016-3.5.1.1.2-c",
            "7425-4.6.2-a",
            "7016-A.2-a",
            "7425-3-f",
            "7016-2.1-ab",
        ] {
            assert!(is_valid_id(good), "{good}");
        }
        for bad in [
            "7017-2.1-a",
            "7016-2.1-A",
            "7016-0.1-a",
            "7016-2.1-abc",
            "7016-2.1",
            "7016-B.1-a",
            " 7016-2.1-a",
        ] {
            assert!(!is_valid_id(bad), "{bad}");
        }
        assert_eq!(split_id("7016-A.2-ab"), Some((7016, "A.2", "ab")));
    }

    #[test]
    fn letters_count_a_to_z_then_aa() {
        assert_eq!(letter_index("a"), Some(0));
        assert_eq!(letter_index("z"), Some(25));
        assert_eq!(letter_index("aa"), Some(26));
        assert_eq!(letter_index("ba"), Some(52));
        assert_eq!(letter_index("A"), None);
        for i in [0, 25, 26, 27, 51, 52, 701] {
            let l = letters_at(i).unwrap_or_default();
            assert_eq!(letter_index(&l), Some(i), "{l}");
        }
        assert_eq!(letters_at(26 + 26 * 26), None);
    }

    #[test]
    fn yaml_syntax_error_names_line_entry_and_field() {
        let text =
            "rfc: 7425\nrequirements:\n  - id: 7425-3-a\n    section: \"3\"\n    tests: nope\n";
        let errs = parse_catalogue(text, Path::new("x.yaml"))
            .err()
            .unwrap_or_default();
        assert_eq!(errs.len(), 1);
        let e = &errs[0];
        assert_eq!(e.line, Some(5));
        assert_eq!(e.entry.as_deref(), Some("7425-3-a"));
        assert_eq!(e.field.as_deref(), Some("tests"));
    }

    #[test]
    fn plain_scalars_are_read_as_written() {
        // Unquoted numbers keep their spelling (`3.10` stays `3.10`), integers are fine as
        // sections, and a quoted rfc number is accepted.
        let text = "rfc: 7016\nrequirements:\n  - id: 7016-2-a\n    section: 2\n    level: MUST\n    role: any\n    statement: s\n    observable: wire\n    how: h\n  - id: 7016-3.10-a\n    section: 3.10\n    level: MAY\n    role: any\n    statement: s\n    observable: none\n    how: h\n";
        let c = parse_catalogue(text, Path::new("x.yaml")).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(c.requirements[0].section, "2");
        assert_eq!(c.requirements[1].section, "3.10");
        let quoted = text.replace("rfc: 7016", "rfc: \"7016\"");
        let c = parse_catalogue(&quoted, Path::new("x.yaml"));
        assert!(c.is_ok_and(|c| c.rfc == 7016), "quoted rfc number");
        let machine = "machine: session\nrfc: 7016\nsection: 3.5\nfigure: null\nstates:\n  - { name: A, kind: open, summary: s }\ninitial: [A]\nfinal: [A]\ntransitions:\n  - { from: none, to: A, event: e, section: 3.5, timer: 90, requirements: [] }\n";
        let m =
            parse_state_machine(machine, Path::new("m.yaml")).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(m.transitions[0].timer.as_deref(), Some("90"));
        assert_eq!(m.figure, None);
    }
}
