//! The catalogue loader, the annotation scan and the checks, run on the small repositories under
//! `tests/fixtures/`: `good` must pass, `bad-load` and `bad-checks` must fail in named ways.

use std::path::{Path, PathBuf};

use rtmfp_conformance::catalogue::{self, CatalogueError, Level, MachineKind, Observable, Role};
use rtmfp_conformance::checks::{self, Finding, Severity};
use rtmfp_conformance::coverage;
use rtmfp_conformance::trace::{self, Kind, Target};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(name)
}

fn load_good() -> catalogue::Spec {
    match catalogue::load_spec(&fixture("good")) {
        Ok(spec) => spec,
        Err(errors) => panic!("good fixture must load: {errors:#?}"),
    }
}

fn load_errors(name: &str) -> Vec<CatalogueError> {
    match catalogue::load_spec(&fixture(name)) {
        Ok(_) => panic!("fixture {name} must not load"),
        Err(errors) => errors,
    }
}

fn has_error(
    errors: &[CatalogueError],
    file: &str,
    entry: Option<&str>,
    field: &str,
    text: &str,
) -> bool {
    errors.iter().any(|e| {
        e.file == Path::new(file)
            && e.entry.as_deref() == entry
            && e.field.as_deref() == Some(field)
            && e.message.contains(text)
            && e.line.is_some()
    })
}

#[test]
fn good_fixture_loads_into_typed_entries() {
    let spec = load_good();
    assert_eq!(
        spec.catalogues.keys().copied().collect::<Vec<_>>(),
        [7016, 7425]
    );
    let r = spec
        .requirement("7016-2.1-b")
        .unwrap_or_else(|| panic!("7016-2.1-b"));
    assert_eq!(r.level, Level::Should);
    assert_eq!(r.role, Role::Sender);
    assert_eq!(r.observable, Observable::Timing);
    assert_eq!(r.notes, None, "an empty notes string counts as no notes");
    assert_eq!(r.line, Some(11));
    let appendix = spec
        .requirement("7016-A.2-a")
        .unwrap_or_else(|| panic!("7016-A.2-a"));
    assert_eq!(appendix.section, "A.2");
    assert_eq!(appendix.tests[0].path, "demo/tests/session.rs::opens");
    assert!(
        spec.requirement("7425-4.1-a")
            .is_some_and(|r| r.is_retired())
    );
    let m = spec
        .machine(MachineKind::Session)
        .unwrap_or_else(|| panic!("session machine"));
    assert_eq!(m.figure, Some(8));
    assert_eq!(
        m.transitions[0].from, None,
        "`from: none` is a creation transition"
    );
    assert_eq!(m.transitions[2].timer.as_deref(), Some("90 s"));
    assert_eq!(m.transitions[0].timer, None);
}

#[test]
fn good_fixture_passes_every_check() {
    let spec = load_good();
    let trace = trace::scan_workspace(&fixture("good"));
    let findings = checks::all(&spec, &trace, true);
    // The only strict finding: 7425-4.6.2-a is cited by implementation code alone.
    let ids: Vec<&str> = findings.iter().map(|f| f.location.as_str()).collect();
    assert_eq!(ids, ["7425-4.6.2-a"], "{findings:#?}");
    assert!(findings.iter().all(|f| f.check == "coverage_policy"));
}

#[test]
fn scan_attributes_and_classifies_the_fixture_annotations() {
    let trace = trace::scan_workspace(&fixture("good"));
    let got: Vec<(String, usize, Vec<String>, Target, Kind)> = trace
        .annotations
        .iter()
        .map(|a| {
            (
                a.file.display().to_string(),
                a.line,
                a.ids.clone(),
                a.target.clone(),
                a.kind,
            )
        })
        .collect();
    let f = |s: &str| Target::Function(s.to_string());
    assert_eq!(
        got,
        [
            (
                "demo/src/keys.rs".into(),
                3,
                vec!["7425-4.1-b".into()],
                f("demo/src/keys.rs::first_half_helper"),
                Kind::Test
            ),
            (
                "demo/src/lib.rs".into(),
                5,
                vec!["7425-4.6.2-a".into()],
                f("demo/src/lib.rs::check_key"),
                Kind::Implementation
            ),
            (
                "demo/src/wire/mod.rs".into(),
                4,
                vec!["7016-2.1-b".into()],
                f("demo/src/wire/mod.rs::decode"),
                Kind::Implementation
            ),
            (
                "demo/src/wire/mod.rs".into(),
                13,
                vec!["7016-2.1-a".into()],
                f("demo/src/wire/mod.rs::tests::decodes_vlu"),
                Kind::Test
            ),
            (
                "demo/tests/session.rs".into(),
                3,
                vec!["7425-4.1-c".into()],
                f("demo/tests/session.rs::opens"),
                Kind::Test
            ),
        ]
    );
    // Both addressing forms of the `tests:` field resolve.
    let by_crate = trace.resolve("demo::wire::tests::decodes_vlu");
    assert_eq!(by_crate.len(), 1);
    assert_eq!(by_crate[0].kind, Kind::Test);
    assert_eq!(
        trace
            .resolve("demo/src/wire/mod.rs::tests::decodes_vlu")
            .len(),
        1
    );
    assert_eq!(trace.resolve("demo/tests/session.rs::opens").len(), 1);
    let helper = trace.resolve("demo::wire::tests::not_a_test_helper");
    assert_eq!(
        helper.len(),
        1,
        "helpers in #[cfg(test)] modules count as test code"
    );
    assert!(trace.resolve("demo::wire::nothing").is_empty());
}

#[test]
fn coverage_counts_test_annotations_and_tests_fields_only() {
    let spec = load_good();
    let trace = trace::scan_workspace(&fixture("good"));
    let cov = coverage::compute(&spec, &trace);
    let c7016 = &cov[0];
    assert_eq!(c7016.rfc, 7016);
    // 2.1-a (annotation and tests: field) and A.2-a (tests: field) are covered; 2.1-b is only
    // cited by implementation code; 3.5.1-a and 3.5.1-b have nothing.
    assert_eq!((c7016.total.covered, c7016.total.total), (2, 5));
    let covered: Vec<&str> = c7016.covered.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(covered, ["7016-2.1-a", "7016-A.2-a"]);
    let must_wire = c7016.matrix["MUST"]["wire"];
    assert_eq!((must_wire.covered, must_wire.total), (1, 2));
    let uncovered: Vec<(&str, Vec<&str>)> = c7016
        .uncovered
        .iter()
        .map(|s| {
            (
                s.section.as_str(),
                s.ids.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        uncovered,
        [
            ("2.1", vec!["7016-2.1-b"]),
            ("3.5.1", vec!["7016-3.5.1-a", "7016-3.5.1-b"])
        ]
    );
    // The retired 7425-4.1-a is left out: 4 live entries, 4.1-b and 4.1-c covered.
    let c7425 = &cov[1];
    assert_eq!((c7425.total.covered, c7425.total.total), (2, 4));
    let text = coverage::render_text(&cov, false);
    assert!(
        text.contains("RFC 7016: 5 requirements, 2 covered by tests (40.0%)"),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_str(&coverage::render_json(&cov, true))
        .unwrap_or_else(|e| panic!("coverage JSON parses: {e}"));
    assert_eq!(json[0]["uncovered"][1]["ids"][1], "7016-3.5.1-b");
}

#[test]
fn bad_catalogue_errors_name_file_line_entry_and_field() {
    let errors = load_errors("bad-load");
    let f7425 = "spec/requirements/rfc7425.yaml";
    assert!(
        has_error(&errors, f7425, Some("7425-4.1-A"), "id", "does not match"),
        "{errors:#?}"
    );
    assert!(has_error(
        &errors,
        f7425,
        Some("7425-4.2-a"),
        "section",
        "differs from the section `4.2`"
    ));
    assert!(has_error(
        &errors,
        f7425,
        Some("7425-4.2-b"),
        "level",
        "`MUSTT` is not one of"
    ));
    assert!(has_error(
        &errors,
        f7425,
        Some("7425-4.2-b"),
        "role",
        "`everyone` is not one of"
    ));
    assert!(has_error(
        &errors,
        f7425,
        Some("7425-4.2-b"),
        "how",
        "missing"
    ));
    assert!(has_error(
        &errors,
        f7425,
        Some("7016-4.2-c"),
        "id",
        "is not an RFC 7425 id"
    ));
    assert!(has_error(
        &errors,
        f7425,
        Some("7016-4.2-c"),
        "observable",
        "`sometimes`"
    ));
    assert!(has_error(
        &errors,
        f7425,
        Some("7016-4.2-c"),
        "untested_reason",
        "is empty"
    ));
    // A misspelt field stops the YAML parser; the error still names the line, entry and field.
    let unknown = errors
        .iter()
        .find(|e| e.file == Path::new("spec/requirements/rfc7016.yaml"))
        .unwrap_or_else(|| panic!("an rfc7016.yaml error: {errors:#?}"));
    assert_eq!(unknown.line, Some(14));
    assert_eq!(unknown.entry.as_deref(), Some("7016-2.1-b"));
    assert_eq!(unknown.field.as_deref(), Some("statment"));
    assert!(unknown.message.contains("unknown field"), "{unknown}");
    assert_eq!(
        unknown.to_string(),
        format!(
            "spec/requirements/rfc7016.yaml:14: entry 7016-2.1-b: field `statment`: {}",
            unknown.message
        )
    );
    // State machine shape errors.
    let sm = "spec/state-machines/session.yaml";
    assert!(has_error(
        &errors,
        sm,
        Some("S_OPEN"),
        "kind",
        "`opened` is not one of"
    ));
    assert!(has_error(
        &errors,
        sm,
        Some("transition #1 (none -> S_OPEN)"),
        "event",
        "missing"
    ));
}

#[test]
fn bad_fixture_fails_each_check_with_a_clear_message() {
    let root = fixture("bad-checks");
    let spec = match catalogue::load_spec(&root) {
        Ok(spec) => spec,
        Err(errors) => panic!("bad-checks loads (its faults are for the checks): {errors:#?}"),
    };
    let trace = trace::scan_workspace(&root);
    let msgs = |findings: Vec<Finding>| -> Vec<String> {
        findings.iter().map(|f| f.message.clone()).collect()
    };

    let dup = msgs(checks::ids_unique(&spec));
    assert_eq!(dup.len(), 1);
    assert!(
        dup[0].starts_with("7425-3-a is already defined at spec/requirements/rfc7425.yaml:3"),
        "{dup:?}"
    );

    assert_eq!(
        msgs(checks::letters_contiguous(&spec)),
        ["section 3: 2 ids but letter(s) b missing"]
    );

    let sections = msgs(checks::sections_listed(&spec));
    assert!(
        sections.contains(&"section 4.9 is not a heading of RFC 7425".to_string()),
        "{sections:?}"
    );
    assert!(
        sections
            .iter()
            .any(|m| m.contains("spec/sections-7016.txt is missing")),
        "{sections:?}"
    );

    assert_eq!(
        msgs(checks::splits_known(&spec)),
        ["7425-4.9-a is split into 7425-4.9-b, which is not in the catalogue"]
    );

    let annotations = msgs(checks::annotations_known(&spec, &trace));
    assert_eq!(
        annotations,
        [
            "`see-below` is not a requirement id (ids only after `spec:`, separated by commas)",
            "7425-3-x is not in the catalogue",
            "7425-9.9-a is not in the catalogue",
            "7016-2.1-a cites RFC 7016, which has no catalogue (spec/requirements/rfc7016.yaml)",
        ]
    );

    let tests = msgs(checks::tests_resolve(&spec, &trace));
    assert_eq!(tests.len(), 2, "{tests:?}");
    assert!(tests[0].starts_with("no function `demo::no_such_test`"));
    assert!(tests[1].starts_with("`demo::helper` is not a test (demo/src/lib.rs:4)"));

    let sm = msgs(checks::state_machines(&spec));
    for expected in [
        "final state S_Z is not declared in states",
        "transition to undeclared state S_Y",
        "7016-3.5-a is not in the catalogue",
        "state S_B is neither initial nor entered by any transition",
        "state S_B is not final but no transition leaves it",
    ] {
        assert!(
            sm.iter().any(|m| m == expected),
            "missing `{expected}` in {sm:?}"
        );
    }

    // 7425-3-a (MUST, wire, untested) breaks the policy; 7425-4.1-a has a written reason, and
    // 7425-3-c is covered by the integration test that cites it.
    let relaxed = checks::coverage_policy(&spec, &trace, false);
    assert_eq!(
        relaxed
            .iter()
            .map(|f| (f.location.as_str(), f.severity))
            .collect::<Vec<_>>(),
        [("7425-3-a", Severity::Report)]
    );
    let strict = checks::coverage_policy(&spec, &trace, true);
    assert_eq!(strict[0].severity, Severity::Error);
}

#[test]
fn state_names_come_from_the_machine_file() {
    let names =
        catalogue::state_names_in(&fixture("good"), "session").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(names, ["S_IHELLO_SENT", "S_OPEN", "S_CLOSED"]);
    let missing = catalogue::state_names_in(&fixture("good"), "receiving_flow");
    assert!(missing.is_err_and(|e| e.message.contains("no state machine file declares")));
    let unknown = catalogue::state_names_in(&fixture("good"), "flow");
    assert!(unknown.is_err_and(|e| e.message.contains("unknown machine `flow`")));
    assert!(
        catalogue::compare_state_names_in(
            &fixture("good"),
            "session",
            &["S_OPEN", "S_CLOSED", "S_IHELLO_SENT"]
        )
        .is_ok()
    );
    let diff = catalogue::compare_state_names_in(
        &fixture("good"),
        "session",
        &["S_OPEN", "S_CLOSED", "S_EXTRA"],
    );
    assert_eq!(
        diff,
        Err("state machine `session`: states only in spec/state-machines: [S_IHELLO_SENT]; states only in the code: [S_EXTRA]".to_string())
    );
}

#[test]
fn a_missing_catalogue_is_nothing_to_check() {
    let dir = fixture("good").join("demo");
    let spec = catalogue::load_spec(&dir).unwrap_or_else(|e| panic!("{e:?}"));
    assert!(spec.catalogues.is_empty() && spec.machines.is_empty());
    assert!(checks::all(&spec, &trace::Trace::default(), true).is_empty());
}
