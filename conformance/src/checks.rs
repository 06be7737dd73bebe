//! Consistency checks over `spec/` and the workspace's `spec:` annotations (spec/README.md).
//!
//! Each check returns its findings; the integration tests in `tests/spec_checks.rs` run one
//! test per check on the repository, and `rtmfp-conformance check` runs them all.
//!
//! The coverage policy of DESIGN.md ("a black-box-testable MUST with no test and no written
//! reason fails") is [`coverage_policy`]. While the code base is young it only reports: its
//! findings have [`Severity::Report`] unless `RTMFP_STRICT_COVERAGE=1` is set (or `--strict`
//! is passed to the command), which makes them errors.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

use crate::catalogue::{Spec, is_valid_id, letter_index, letters_at, split_id};
use crate::coverage::evidence;
use crate::trace::{Kind, Trace};

/// Environment variable that turns the coverage policy's reports into errors.
pub const STRICT_COVERAGE_ENV: &str = "RTMFP_STRICT_COVERAGE";

/// Whether `RTMFP_STRICT_COVERAGE=1` is set.
pub fn strict_coverage_from_env() -> bool {
    std::env::var(STRICT_COVERAGE_ENV).is_ok_and(|v| v.trim() == "1")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Fails the check.
    Error,
    /// Printed, does not fail.
    Report,
}

/// One problem found by a check.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Finding {
    pub check: &'static str,
    pub severity: Severity,
    /// `file:line` or an id.
    pub location: String,
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Report => "report",
        };
        write!(
            f,
            "{sev} [{}] {}: {}",
            self.check, self.location, self.message
        )
    }
}

fn error(check: &'static str, location: impl Into<String>, message: impl Into<String>) -> Finding {
    Finding {
        check,
        severity: Severity::Error,
        location: location.into(),
        message: message.into(),
    }
}

fn place(file: &std::path::Path, line: Option<u64>) -> String {
    match line {
        Some(l) => format!("{}:{l}", file.display()),
        None => file.display().to_string(),
    }
}

/// Every id appears once across all catalogues.
pub fn ids_unique(spec: &Spec) -> Vec<Finding> {
    let mut seen: BTreeMap<&str, String> = BTreeMap::new();
    let mut out = Vec::new();
    for c in spec.catalogues.values() {
        for r in &c.requirements {
            let here = place(&c.file, r.line);
            if let Some(first) = seen.get(r.id.as_str()) {
                out.push(error(
                    "ids_unique",
                    here,
                    format!("{} is already defined at {first}", r.id),
                ));
            } else {
                seen.insert(&r.id, here);
            }
        }
    }
    out
}

/// In every section the letters run `a`, `b`, ... with no gap (spec/README.md).
pub fn letters_contiguous(spec: &Spec) -> Vec<Finding> {
    let mut out = Vec::new();
    for c in spec.catalogues.values() {
        let mut by_section: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
        for r in &c.requirements {
            if let Some(index) = split_id(&r.id).and_then(|(_, _, l)| letter_index(l)) {
                by_section
                    .entry(r.section.as_str())
                    .or_default()
                    .insert(index);
            }
        }
        for (section, letters) in by_section {
            let missing: Vec<String> = (0..letters.len())
                .filter(|i| !letters.contains(i))
                .filter_map(letters_at)
                .collect();
            if !missing.is_empty() {
                out.push(error(
                    "letters_contiguous",
                    c.file.display().to_string(),
                    format!(
                        "section {section}: {} ids but letter(s) {} missing",
                        letters.len(),
                        missing.join(", ")
                    ),
                ));
            }
        }
    }
    out
}

/// Every section named by a requirement or a state machine is a heading of its RFC, according
/// to the committed `spec/sections-NNNN.txt`.
pub fn sections_listed(spec: &Spec) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut check = |rfc: u16, section: &str, location: String| match spec.sections.get(&rfc) {
        None => out.push(error(
            "sections_listed",
            location,
            format!("spec/sections-{rfc}.txt is missing, so section {section} cannot be checked"),
        )),
        Some(list) if !list.contains_key(section) => out.push(error(
            "sections_listed",
            location,
            format!("section {section} is not a heading of RFC {rfc}"),
        )),
        Some(_) => {}
    };
    for c in spec.catalogues.values() {
        for r in &c.requirements {
            check(
                c.rfc,
                &r.section,
                format!("{} ({})", place(&c.file, r.line), r.id),
            );
        }
    }
    for m in &spec.machines {
        check(m.rfc, &m.section, m.file.display().to_string());
        for t in &m.transitions {
            check(m.rfc, &t.section, place(&m.file, t.line));
        }
    }
    out
}

/// Retired ids name the ids that replace them, and those exist.
pub fn splits_known(spec: &Spec) -> Vec<Finding> {
    let mut out = Vec::new();
    for c in spec.catalogues.values() {
        for r in &c.requirements {
            for new in &r.split_into {
                if spec.requirement(new).is_none() {
                    out.push(error(
                        "splits_known",
                        place(&c.file, r.line),
                        format!(
                            "{} is split into {new}, which is not in the catalogue",
                            r.id
                        ),
                    ));
                }
            }
        }
    }
    out
}

/// Every id cited by a `spec:` annotation exists, and annotations hold nothing but ids.
pub fn annotations_known(spec: &Spec, trace: &Trace) -> Vec<Finding> {
    let mut out = Vec::new();
    for (file, reason) in &trace.unreadable {
        out.push(error(
            "annotations_known",
            file.display().to_string(),
            format!("not scanned: {reason}"),
        ));
    }
    for a in &trace.annotations {
        let at = format!("{}:{}", a.file.display(), a.line);
        if a.ids.is_empty() && a.malformed.is_empty() {
            out.push(error(
                "annotations_known",
                at.clone(),
                "`spec:` annotation without ids",
            ));
        }
        for word in &a.malformed {
            out.push(error(
                "annotations_known",
                at.clone(),
                format!(
                    "`{word}` is not a requirement id (ids only after `spec:`, separated by commas)"
                ),
            ));
        }
        for id in &a.ids {
            let Some((rfc, _, _)) = split_id(id) else {
                continue;
            };
            match spec.requirement(id) {
                Some(r) if r.is_retired() => out.push(error(
                    "annotations_known",
                    at.clone(),
                    format!("{id} was split into {}; cite those instead", r.split_into.join(", ")),
                )),
                Some(_) => {}
                None if !spec.catalogues.contains_key(&rfc) => out.push(error(
                    "annotations_known",
                    at.clone(),
                    format!("{id} cites RFC {rfc}, which has no catalogue (spec/requirements/rfc{rfc}.yaml)"),
                )),
                None => out.push(error("annotations_known", at.clone(), format!("{id} is not in the catalogue"))),
            }
        }
    }
    out
}

/// Every path in a `tests:` field names exactly one test function.
pub fn tests_resolve(spec: &Spec, trace: &Trace) -> Vec<Finding> {
    let mut out = Vec::new();
    for c in spec.catalogues.values() {
        for r in &c.requirements {
            for t in &r.tests {
                let at = format!("{} ({})", place(&c.file, t.line), r.id);
                let found = trace.resolve(&t.path);
                match found.as_slice() {
                    [] => out.push(error(
                        "tests_resolve",
                        at,
                        format!(
                            "no function `{}` (write crate_name::module::test or path/to/file.rs::test)",
                            t.path
                        ),
                    )),
                    [f] if f.kind != Kind::Test => out.push(error(
                        "tests_resolve",
                        at,
                        format!("`{}` is not a test ({}:{})", t.path, f.file.display(), f.line),
                    )),
                    [_] => {}
                    many => out.push(error(
                        "tests_resolve",
                        at,
                        format!(
                            "`{}` is ambiguous: {}",
                            t.path,
                            many.iter().map(|f| f.file_path()).collect::<Vec<_>>().join(", ")
                        ),
                    )),
                }
            }
        }
    }
    out
}

/// State machines are well formed: states unique; initial and final states declared; each
/// transition joins declared states (`from: none` creates); each state is initial or entered by
/// a transition; each non-final state can be left; requirement ids exist; one file per machine.
pub fn state_machines(spec: &Spec) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut kinds = BTreeMap::new();
    for m in &spec.machines {
        let file = m.file.display().to_string();
        if let Some(other) = kinds.insert(m.machine, file.clone()) {
            out.push(error(
                "state_machines",
                file.clone(),
                format!("machine `{}` is also described by {other}", m.machine),
            ));
        }
        let mut names = BTreeSet::new();
        for s in &m.states {
            if !names.insert(s.name.as_str()) {
                out.push(error(
                    "state_machines",
                    place(&m.file, s.line),
                    format!("state {} is declared twice", s.name),
                ));
            }
        }
        for (field, list) in [("initial", &m.initial), ("final", &m.final_states)] {
            for s in list {
                if !names.contains(s.as_str()) {
                    out.push(error(
                        "state_machines",
                        file.clone(),
                        format!("{field} state {s} is not declared in states"),
                    ));
                }
            }
        }
        let mut entered: BTreeSet<&str> = m.initial.iter().map(String::as_str).collect();
        let mut left: BTreeSet<&str> = BTreeSet::new();
        for t in &m.transitions {
            let at = place(&m.file, t.line);
            if let Some(from) = &t.from {
                if names.contains(from.as_str()) {
                    left.insert(from.as_str());
                } else {
                    out.push(error(
                        "state_machines",
                        at.clone(),
                        format!(
                            "transition from undeclared state {from} (use `none` for creation)"
                        ),
                    ));
                }
            }
            if names.contains(t.to.as_str()) {
                entered.insert(t.to.as_str());
            } else {
                out.push(error(
                    "state_machines",
                    at.clone(),
                    format!("transition to undeclared state {}", t.to),
                ));
            }
            for id in &t.requirements {
                if !is_valid_id(id) {
                    out.push(error(
                        "state_machines",
                        at.clone(),
                        format!("`{id}` is not a requirement id"),
                    ));
                } else if spec.requirement(id).is_none() {
                    out.push(error(
                        "state_machines",
                        at.clone(),
                        format!("{id} is not in the catalogue"),
                    ));
                }
            }
        }
        for s in &m.states {
            if !entered.contains(s.name.as_str()) {
                out.push(error(
                    "state_machines",
                    place(&m.file, s.line),
                    format!(
                        "state {} is neither initial nor entered by any transition",
                        s.name
                    ),
                ));
            }
            if !left.contains(s.name.as_str()) && !m.final_states.contains(&s.name) {
                out.push(error(
                    "state_machines",
                    place(&m.file, s.line),
                    format!("state {} is not final but no transition leaves it", s.name),
                ));
            }
        }
    }
    out
}

/// The coverage policy: each live mandatory requirement (MUST, MUST NOT, REQUIRED, SHALL,
/// SHALL NOT or PROCEDURE) that is black-box testable (observable wire, timing or statistical)
/// has a test, or an `untested_reason:` saying why not. Findings are reports unless `strict`.
pub fn coverage_policy(spec: &Spec, trace: &Trace, strict: bool) -> Vec<Finding> {
    let severity = if strict {
        Severity::Error
    } else {
        Severity::Report
    };
    evidence(spec, trace)
        .into_iter()
        .filter(|e| {
            let r = e.requirement;
            r.level.is_mandatory()
                && r.observable.is_black_box()
                && !e.is_covered()
                && r.untested_reason.is_none()
        })
        .map(|e| Finding {
            check: "coverage_policy",
            severity,
            location: e.requirement.id.clone(),
            message: format!(
                "{} {} requirement has no test and no untested_reason",
                e.requirement.level, e.requirement.observable
            ),
        })
        .collect()
}

/// Runs every check; findings sorted by check, then severity, location and message.
pub fn all(spec: &Spec, trace: &Trace, strict: bool) -> Vec<Finding> {
    let mut out = Vec::new();
    out.extend(ids_unique(spec));
    out.extend(letters_contiguous(spec));
    out.extend(sections_listed(spec));
    out.extend(splits_known(spec));
    out.extend(annotations_known(spec, trace));
    out.extend(tests_resolve(spec, trace));
    out.extend(state_machines(spec));
    out.extend(coverage_policy(spec, trace, strict));
    out.sort();
    out
}
