//! The coverage matrix: which requirements have tests, by level and observability.
//!
//! A requirement is covered when at least one test cites it, either through a `// spec:`
//! annotation in test code or through its `tests:` field (when that path resolves to a test).
//! Implementation annotations are listed but do not count. Retired (split) ids are left out.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::catalogue::{Level, Observable, Requirement, Spec};
use crate::trace::{Kind, Target, Trace};

/// The evidence for one requirement.
#[derive(Clone, Debug, Serialize)]
pub struct Evidence<'a> {
    #[serde(flatten)]
    pub requirement: &'a Requirement,
    /// Tests citing it (function paths), from annotations and the `tests:` field.
    pub tests: Vec<String>,
    /// Implementation code citing it.
    pub implementation: Vec<String>,
}

impl Evidence<'_> {
    pub fn is_covered(&self) -> bool {
        !self.tests.is_empty()
    }
}

/// Covered and total counts of one cell.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Cell {
    pub covered: usize,
    pub total: usize,
}

impl Cell {
    fn add(&mut self, covered: bool) {
        self.total += 1;
        if covered {
            self.covered += 1;
        }
    }
}

/// The coverage of one RFC's catalogue.
#[derive(Clone, Debug, Serialize)]
pub struct RfcCoverage {
    pub rfc: u16,
    pub total: Cell,
    /// Level, then observability.
    pub matrix: BTreeMap<String, BTreeMap<String, Cell>>,
    pub by_level: BTreeMap<String, Cell>,
    pub by_observable: BTreeMap<String, Cell>,
    /// Uncovered ids by section, sections in RFC order.
    pub uncovered: Vec<SectionIds>,
    /// Covered ids with their tests.
    pub covered: Vec<CoveredId>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SectionIds {
    pub section: String,
    pub ids: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct CoveredId {
    pub id: String,
    pub tests: Vec<String>,
}

/// Collects the evidence for every live requirement, in catalogue order.
pub fn evidence<'a>(spec: &'a Spec, trace: &Trace) -> Vec<Evidence<'a>> {
    let mut by_id: BTreeMap<&str, (Vec<String>, Vec<String>)> = BTreeMap::new();
    for a in &trace.annotations {
        let place = match &a.target {
            Target::Function(f) => f.clone(),
            Target::Item(i) => format!("{}:{} ({i})", a.file.display(), a.line),
            Target::Module => format!("{}:{}", a.file.display(), a.line),
        };
        for id in &a.ids {
            let entry = by_id.entry(id.as_str()).or_default();
            match a.kind {
                Kind::Test => entry.0.push(place.clone()),
                Kind::Implementation => entry.1.push(place.clone()),
            }
        }
    }
    spec.requirements()
        .filter(|r| !r.is_retired())
        .map(|r| {
            let (mut tests, mut implementation) = by_id.remove(r.id.as_str()).unwrap_or_default();
            for t in &r.tests {
                let found = trace.resolve(&t.path);
                if found.len() == 1 && found.iter().all(|f| f.kind == Kind::Test) {
                    tests.push(found.iter().map(|f| f.file_path()).collect());
                }
            }
            tests.sort();
            tests.dedup();
            implementation.sort();
            implementation.dedup();
            Evidence {
                requirement: r,
                tests,
                implementation,
            }
        })
        .collect()
}

/// Sort key for section numbers: numeric components, appendix letters after every number.
pub fn section_key(section: &str) -> Vec<u32> {
    section
        .split('.')
        .map(|p| {
            p.parse::<u32>()
                .unwrap_or_else(|_| 10_000 + p.bytes().next().map_or(0, u32::from))
        })
        .collect()
}

/// Builds the coverage of each RFC that has a catalogue.
pub fn compute(spec: &Spec, trace: &Trace) -> Vec<RfcCoverage> {
    let all = evidence(spec, trace);
    spec.catalogues
        .keys()
        .map(|&rfc| {
            let mut cov = RfcCoverage {
                rfc,
                total: Cell::default(),
                matrix: BTreeMap::new(),
                by_level: BTreeMap::new(),
                by_observable: BTreeMap::new(),
                uncovered: Vec::new(),
                covered: Vec::new(),
            };
            let mut uncovered: BTreeMap<Vec<u32>, SectionIds> = BTreeMap::new();
            for e in all.iter().filter(|e| e.requirement.rfc == rfc) {
                let r = e.requirement;
                let covered = e.is_covered();
                cov.total.add(covered);
                cov.matrix
                    .entry(r.level.to_string())
                    .or_default()
                    .entry(r.observable.to_string())
                    .or_default()
                    .add(covered);
                cov.by_level
                    .entry(r.level.to_string())
                    .or_default()
                    .add(covered);
                cov.by_observable
                    .entry(r.observable.to_string())
                    .or_default()
                    .add(covered);
                if covered {
                    cov.covered.push(CoveredId {
                        id: r.id.clone(),
                        tests: e.tests.clone(),
                    });
                } else {
                    uncovered
                        .entry(section_key(&r.section))
                        .or_insert_with(|| SectionIds {
                            section: r.section.clone(),
                            ids: Vec::new(),
                        })
                        .ids
                        .push(r.id.clone());
                }
            }
            cov.uncovered = uncovered.into_values().collect();
            cov
        })
        .collect()
}

fn percent(c: Cell) -> String {
    // Integer arithmetic keeps the rendering identical on every platform.
    match (c.covered * 1000).checked_div(c.total) {
        None => "-".into(),
        Some(tenths) => format!("{}.{}%", tenths / 10, tenths % 10),
    }
}

/// Renders the coverage as a plain-text report.
pub fn render_text(coverage: &[RfcCoverage], uncovered_only: bool) -> String {
    let mut out = String::new();
    if coverage.is_empty() {
        out.push_str("No requirement catalogue found under spec/requirements/.\n");
    }
    for cov in coverage {
        let _ = writeln!(
            out,
            "RFC {}: {} requirements, {} covered by tests ({})",
            cov.rfc,
            cov.total.total,
            cov.total.covered,
            percent(cov.total)
        );
        if !uncovered_only {
            out.push('\n');
            let _ = write!(out, "{:<16}", "level");
            for o in Observable::ALL {
                let _ = write!(out, "{:>12}", o.as_str());
            }
            let _ = writeln!(out, "{:>12}", "total");
            for level in Level::ALL {
                let Some(row) = cov.matrix.get(level.as_str()) else {
                    continue;
                };
                let _ = write!(out, "{:<16}", level.as_str());
                for o in Observable::ALL {
                    let cell = row.get(o.as_str()).copied().unwrap_or_default();
                    let text = if cell.total == 0 {
                        ".".to_string()
                    } else {
                        format!("{}/{}", cell.covered, cell.total)
                    };
                    let _ = write!(out, "{text:>12}");
                }
                let t = cov
                    .by_level
                    .get(level.as_str())
                    .copied()
                    .unwrap_or_default();
                let _ = writeln!(out, "{:>12}", format!("{}/{}", t.covered, t.total));
            }
            let _ = write!(out, "{:<16}", "total");
            for o in Observable::ALL {
                let t = cov
                    .by_observable
                    .get(o.as_str())
                    .copied()
                    .unwrap_or_default();
                let _ = write!(out, "{:>12}", format!("{}/{}", t.covered, t.total));
            }
            let _ = writeln!(
                out,
                "{:>12}",
                format!("{}/{}", cov.total.covered, cov.total.total)
            );
            out.push_str("(cells: covered/total; '.' = no requirement)\n");
            if !cov.covered.is_empty() {
                out.push_str("\nCovered:\n");
                for c in &cov.covered {
                    let _ = writeln!(out, "  {:<18} {}", c.id, c.tests.join(", "));
                }
            }
        }
        if !cov.uncovered.is_empty() {
            out.push_str("\nUncovered, by section:\n");
            for s in &cov.uncovered {
                let _ = writeln!(out, "  {:<10} {}", s.section, s.ids.join(" "));
            }
        }
        out.push('\n');
    }
    out
}

/// Renders the coverage as JSON (pretty-printed, keys in a fixed order).
pub fn render_json(coverage: &[RfcCoverage], uncovered_only: bool) -> String {
    #[derive(Serialize)]
    struct Uncovered<'a> {
        rfc: u16,
        total: Cell,
        uncovered: &'a [SectionIds],
    }
    let result = if uncovered_only {
        let slim: Vec<Uncovered<'_>> = coverage
            .iter()
            .map(|c| Uncovered {
                rfc: c.rfc,
                total: c.total,
                uncovered: &c.uncovered,
            })
            .collect();
        serde_json::to_string_pretty(&slim)
    } else {
        serde_json::to_string_pretty(coverage)
    };
    result.unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_sort_numerically_with_appendices_last() {
        let mut s = vec!["10", "2.10", "2.9", "A.1", "3", "2"];
        s.sort_by_key(|x| section_key(x));
        assert_eq!(s, ["2", "2.9", "2.10", "3", "10", "A.1"]);
    }

    #[test]
    fn percentages_are_rounded_down_to_tenths() {
        assert_eq!(
            percent(Cell {
                covered: 1,
                total: 3
            }),
            "33.3%"
        );
        assert_eq!(
            percent(Cell {
                covered: 0,
                total: 0
            }),
            "-"
        );
        assert_eq!(
            percent(Cell {
                covered: 2,
                total: 2
            }),
            "100.0%"
        );
    }
}
