//! The traceability checks of spec/README.md, run on this repository: one test per check, so a
//! failure names what is wrong. A missing catalogue (for example `rfc7016.yaml` before it lands)
//! is nothing to check; a present one must be valid.
//!
//! The coverage policy (DESIGN.md) only reports for now; set `RTMFP_STRICT_COVERAGE=1` to make
//! a black-box-testable mandatory requirement without a test or `untested_reason` fail.

use rtmfp_conformance::catalogue::{self, Spec};
use rtmfp_conformance::checks::{self, Finding, Severity};
use rtmfp_conformance::trace::{self, Kind, Trace};

fn spec() -> Spec {
    let root = catalogue::default_repo_root();
    match catalogue::load_spec(&root) {
        Ok(spec) => spec,
        Err(errors) => {
            let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
            panic!("spec/ does not load:\n{}", list.join("\n"))
        }
    }
}

fn workspace_trace() -> Trace {
    trace::scan_workspace(&catalogue::default_repo_root())
}

fn assert_clean(findings: Vec<Finding>) {
    let errors: Vec<String> = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(ToString::to_string)
        .collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn catalogues_and_state_machines_load() {
    let spec = spec();
    for (rfc, c) in &spec.catalogues {
        assert_eq!(c.rfc, *rfc);
        assert!(
            !c.requirements.is_empty(),
            "rfc{rfc}.yaml has no requirements"
        );
    }
}

#[test]
fn requirement_ids_are_unique() {
    assert_clean(checks::ids_unique(&spec()));
}

#[test]
fn requirement_letters_have_no_gaps() {
    assert_clean(checks::letters_contiguous(&spec()));
}

#[test]
fn sections_are_rfc_headings() {
    let spec = spec();
    for rfc in spec.catalogues.keys() {
        assert!(
            spec.sections.contains_key(rfc),
            "spec/sections-{rfc}.txt is missing"
        );
    }
    assert_clean(checks::sections_listed(&spec));
}

#[test]
fn split_ids_point_to_existing_ids() {
    assert_clean(checks::splits_known(&spec()));
}

#[test]
fn annotations_cite_existing_ids() {
    assert_clean(checks::annotations_known(&spec(), &workspace_trace()));
}

#[test]
fn tests_fields_name_existing_tests() {
    assert_clean(checks::tests_resolve(&spec(), &workspace_trace()));
}

#[test]
fn state_machines_are_well_formed() {
    assert_clean(checks::state_machines(&spec()));
}

#[test]
fn coverage_policy_reports_untested_black_box_requirements() {
    let spec = spec();
    let trace = workspace_trace();
    let strict = checks::strict_coverage_from_env();
    let findings = checks::coverage_policy(&spec, &trace, strict);
    if !findings.is_empty() {
        eprintln!(
            "coverage policy: {} black-box-testable mandatory requirement(s) have no test and no \
             untested_reason{}",
            findings.len(),
            if strict {
                ""
            } else {
                " (report only; RTMFP_STRICT_COVERAGE=1 makes this fail)"
            }
        );
        for f in findings.iter().take(20) {
            eprintln!("  {f}");
        }
    }
    assert_clean(findings);
}

#[test]
fn the_scan_classifies_the_reference_crate() {
    // Guards the scanner itself on real code: the reference crate has both implementation and
    // test functions, and everything in its `mod tests` blocks (all `#[cfg(test)]`, including
    // functions inside `proptest!`) is classified as test code.
    let trace = workspace_trace();
    let rtmfp: Vec<_> = trace
        .functions
        .iter()
        .filter(|f| f.package == "rtmfp")
        .collect();
    assert!(
        rtmfp.iter().any(|f| f.kind == Kind::Implementation),
        "no implementation fns found"
    );
    assert!(
        rtmfp.iter().any(|f| f.kind == Kind::Test),
        "no test fns found"
    );
    let misfiled: Vec<String> = rtmfp
        .iter()
        .filter(|f| f.inline_modules.iter().any(|m| m == "tests") && f.kind != Kind::Test)
        .map(|f| f.file_path())
        .collect();
    assert!(
        misfiled.is_empty(),
        "test-module functions classified as implementation: {misfiled:?}"
    );
}
