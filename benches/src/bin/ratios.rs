//! Prints criterion's latest estimates as a table of ratios to each group's baseline
//! (the benchmark whose name starts with `baseline`), for README. Run after `cargo bench -p
//! rtmfp-benches`; reads `target/criterion/GROUP/BENCH/new/estimates.json`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn mean_ns(dir: &Path) -> Result<f64, String> {
    let path = dir.join("new").join("estimates.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    v.pointer("/mean/point_estimate")
        .and_then(serde_json::Value::as_f64)
        .ok_or_else(|| format!("{}: no mean.point_estimate", path.display()))
}

fn sorted_dirs(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("new").is_dir())
        .collect();
    out.sort();
    Ok(out)
}

fn run(root: &Path) -> Result<(), String> {
    println!("| group | benchmark | mean time | baseline | ratio to baseline |");
    println!("|---|---|---|---|---|");
    let mut groups: Vec<PathBuf> = std::fs::read_dir(root)
        .map_err(|e| {
            format!(
                "{}: {e} (run `cargo bench -p rtmfp-benches` first)",
                root.display()
            )
        })?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir() && p.file_name().is_some_and(|n| n != "report"))
        .collect();
    groups.sort();
    for g in groups {
        let benches = sorted_dirs(&g)?;
        let Some(base) = benches.iter().find(|b| {
            b.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("baseline"))
        }) else {
            continue;
        };
        let base_ns = mean_ns(base)?;
        let name = |p: &Path| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        for b in &benches {
            let ns = mean_ns(b)?;
            println!(
                "| {} | {} | {:.0} ns | {} ({:.0} ns) | {:.2} |",
                name(&g),
                name(b),
                ns,
                name(base),
                base_ns,
                ns / base_ns
            );
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let root = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/criterion"));
    match run(&root) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
