//! `rtmfp-conformance`: command line for the conformance suite (traceability commands today;
//! `certify` and friends are further subcommands of the same [`Command`] enum).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use rtmfp_conformance::catalogue::{self, Spec};
use rtmfp_conformance::checks::{self, Severity};
use rtmfp_conformance::{coverage, rfc_text, trace};

#[derive(Parser)]
#[command(
    name = "rtmfp-conformance",
    version,
    about = "RTMFP (RFC 7016 / RFC 7425) conformance suite"
)]
struct Cli {
    /// Repository root holding spec/ (default: found upward from the current directory,
    /// else the workspace this binary was built in).
    #[arg(long, global = true, value_name = "DIR")]
    repo: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the coverage matrix: requirements by level and observability, covered or not.
    Coverage {
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Only list the uncovered ids.
        #[arg(long)]
        uncovered_only: bool,
        /// Only this RFC (7016 or 7425).
        #[arg(long)]
        rfc: Option<u16>,
    },
    /// Run every catalogue and traceability check; exit status 1 on any error.
    Check {
        /// Treat the coverage policy's reports as errors (as RTMFP_STRICT_COVERAGE=1 does).
        #[arg(long)]
        strict: bool,
    },
    /// List every `spec:` annotation with its function and kind.
    Trace {
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Print the section list of an RFC text file (the format of spec/sections-NNNN.txt).
    Sections {
        /// The RFC as plain text (for example /work/shared/reference/rfc7425.txt).
        rfc_text: PathBuf,
        /// RFC number for the header (default: read from the file name).
        #[arg(long)]
        rfc: Option<u16>,
    },
    /// Compare the RFC 2119 keywords of each section with the catalogue's entries; exit status
    /// 1 when a section has fewer entries of some level than keywords of it.
    Keywords {
        /// The RFC as plain text.
        #[arg(long = "rfc", value_name = "RFC_TEXT")]
        rfc_text: PathBuf,
        /// The catalogue (default: spec/requirements/rfcNNNN.yaml for the RFC's number).
        #[arg(long)]
        catalogue: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let root = cli.repo.clone().unwrap_or_else(find_root);
    match run(&cli.command, &root) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("rtmfp-conformance: {message}");
            ExitCode::from(2)
        }
    }
}

/// The nearest directory upward from the current one holding `spec/README.md`.
fn find_root() -> PathBuf {
    if let Ok(cwd) = std::env::current_dir() {
        for dir in cwd.ancestors() {
            if dir.join("spec").join("README.md").is_file() {
                return dir.to_path_buf();
            }
        }
    }
    catalogue::default_repo_root()
}

fn load(root: &Path) -> Result<Spec, String> {
    catalogue::load_spec(root).map_err(|errors| {
        let mut s = format!(
            "spec/ under {} has {} problem(s):",
            root.display(),
            errors.len()
        );
        for e in errors {
            s.push_str("\n  ");
            s.push_str(&e.to_string());
        }
        s
    })
}

fn rfc_number_from(path: &Path) -> Option<u16> {
    let name = path.file_name()?.to_string_lossy();
    let digits: String = name.chars().filter(char::is_ascii_digit).collect();
    digits.parse().ok()
}

fn run(command: &Command, root: &Path) -> Result<ExitCode, String> {
    match command {
        Command::Coverage {
            format,
            uncovered_only,
            rfc,
        } => {
            let spec = load(root)?;
            let trace = trace::scan_workspace(root);
            let mut cov = coverage::compute(&spec, &trace);
            if let Some(rfc) = rfc {
                cov.retain(|c| c.rfc == *rfc);
            }
            match format {
                Format::Text => print!("{}", coverage::render_text(&cov, *uncovered_only)),
                Format::Json => println!("{}", coverage::render_json(&cov, *uncovered_only)),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { strict } => {
            let spec = load(root)?;
            let trace = trace::scan_workspace(root);
            let strict = *strict || checks::strict_coverage_from_env();
            let findings = checks::all(&spec, &trace, strict);
            let errors = findings
                .iter()
                .filter(|f| f.severity == Severity::Error)
                .count();
            let reports = findings.len() - errors;
            for f in &findings {
                println!("{f}");
            }
            println!(
                "{} requirement(s), {} state machine(s), {} annotation(s): {errors} error(s), {reports} report(s)",
                spec.requirements().count(),
                spec.machines.len(),
                trace.annotations.len()
            );
            Ok(if errors == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Trace { format } => {
            let trace = trace::scan_workspace(root);
            match format {
                Format::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&trace.annotations).map_err(|e| e.to_string())?
                ),
                Format::Text => {
                    for a in &trace.annotations {
                        let target = match &a.target {
                            trace::Target::Function(f) => f.clone(),
                            trace::Target::Item(i) => i.clone(),
                            trace::Target::Module => "(module)".into(),
                        };
                        println!(
                            "{}:{} {} {} -> {}",
                            a.file.display(),
                            a.line,
                            a.kind,
                            a.ids.join(","),
                            target
                        );
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Sections {
            rfc_text: path,
            rfc,
        } => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let rfc = rfc.or_else(|| rfc_number_from(path)).ok_or_else(|| {
                format!(
                    "cannot tell the RFC number of {}; pass --rfc",
                    path.display()
                )
            })?;
            print!(
                "{}",
                rfc_text::render_section_list(rfc, &rfc_text::sections(&text))
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Keywords {
            rfc_text: path,
            catalogue: cat_path,
        } => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let rfc = rfc_number_from(path)
                .ok_or_else(|| format!("cannot tell the RFC number of {}", path.display()))?;
            let cat_path = cat_path.clone().unwrap_or_else(|| {
                root.join("spec")
                    .join("requirements")
                    .join(format!("rfc{rfc}.yaml"))
            });
            let cat = catalogue::load_catalogue(&cat_path, root).map_err(|errors| {
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            })?;
            Ok(keywords_report(&rfc_text::sections(&text), &cat))
        }
    }
}

fn keywords_report(sections: &[rfc_text::Section], cat: &catalogue::Catalogue) -> ExitCode {
    use std::collections::BTreeMap;
    let mut entries: BTreeMap<&str, BTreeMap<catalogue::Level, usize>> = BTreeMap::new();
    for r in &cat.requirements {
        *entries
            .entry(r.section.as_str())
            .or_default()
            .entry(r.level)
            .or_insert(0) += 1;
    }
    let fmt_counts = |m: &BTreeMap<catalogue::Level, usize>| {
        m.iter()
            .map(|(l, n)| format!("{l}:{n}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut missing_sections = 0;
    let (mut keywords_total, mut entries_total) = (0, 0);
    println!(
        "{:<12} {:<8} {:<44} entries",
        "section", "status", "keywords"
    );
    for s in sections {
        let counts = rfc_text::count_keywords(&s.body);
        let empty = BTreeMap::new();
        let have = entries.get(s.number.as_str()).unwrap_or(&empty);
        if counts.is_empty() && have.is_empty() {
            continue;
        }
        let short = counts
            .iter()
            .any(|(level, n)| have.get(level).copied().unwrap_or(0) < *n);
        if short {
            missing_sections += 1;
        }
        keywords_total += counts.values().sum::<usize>();
        entries_total += have.values().sum::<usize>();
        println!(
            "{:<12} {:<8} {:<44} {}",
            s.number,
            if short { "MISSING" } else { "ok" },
            fmt_counts(&counts),
            fmt_counts(have)
        );
    }
    let known: std::collections::BTreeSet<&str> =
        sections.iter().map(|s| s.number.as_str()).collect();
    for section in entries.keys().filter(|s| !known.contains(*s)) {
        missing_sections += 1;
        println!("{section:<12} UNKNOWN  (catalogue section not found in the RFC text)");
    }
    println!(
        "RFC {}: {keywords_total} keyword(s), {entries_total} entries, {missing_sections} section(s) short or unknown",
        cat.rfc
    );
    if missing_sections == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
