//! Scores the reader on example letters with the project's scorer
//! (`../shared/tools/score_records.py`), the same way the maintainers score it: each
//! letter's record in normal form (`tidy`) with the reader's own confidence kept.
//!
//! The fixture letters (F01-F10) must score well; held-out letters (set
//! `REFGATE_HELDOUT_DIR` to a folder holding `letters/` and `truth/`, default the
//! fixtures worktree beside this checkout) are scored and printed, never asserted on.
//! Set `REFGATE_EXTRACT_OUT` to keep the records written.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::extract;
use crate::normalise::tidy;

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared")
}

/// The record as the gateway would print it: normal forms, the reader's confidence.
fn record_json(text: &str) -> serde_json::Value {
    let found = extract(text);
    let mut record = found.record.clone();
    tidy::tidy(&mut record, None);
    record.confidence = found.record.confidence;
    serde_json::to_value(&record).unwrap_or_default()
}

/// Runs the scorer on every letter in `dir/letters` named `prefix*` that has a truth in
/// `dir/truth`. `None` when the scorer or the folders are missing.
fn score(dir: &Path, prefix: &str, label: &str) -> Option<serde_json::Value> {
    let tool = shared().join("tools/score_records.py");
    let letters = std::fs::read_dir(dir.join("letters")).ok()?;
    let work = tempfile::tempdir().ok()?;
    let out = std::env::var_os("REFGATE_EXTRACT_OUT")
        .map_or_else(|| work.path().join("out"), |d| PathBuf::from(d).join(label));
    let truth = work.path().join("truth");
    std::fs::create_dir_all(&out).ok()?;
    std::fs::create_dir_all(&truth).ok()?;
    let mut n = 0;
    for entry in letters.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(base) = name.strip_suffix(".txt").filter(|b| b.starts_with(prefix)) else {
            continue;
        };
        let truth_file = dir.join("truth").join(format!("{base}.json"));
        let (Ok(text), true) = (std::fs::read_to_string(entry.path()), truth_file.exists()) else {
            continue;
        };
        std::fs::copy(&truth_file, truth.join(format!("{base}.json"))).ok()?;
        let json = serde_json::to_vec_pretty(&record_json(&text)).ok()?;
        std::fs::write(out.join(format!("{name}.json")), json).ok()?;
        n += 1;
    }
    if n == 0 {
        return None;
    }
    let summary = work.path().join("summary.json");
    let run = Command::new("python3")
        .arg(&tool)
        .arg(&out)
        .arg("--truth")
        .arg(&truth)
        .arg("--label")
        .arg(label)
        .arg("--verbose")
        .arg("--json")
        .arg(&summary)
        .output()
        .ok()?;
    println!("{}", String::from_utf8_lossy(&run.stdout));
    serde_json::from_slice(&std::fs::read(summary).ok()?).ok()
}

fn number(v: &serde_json::Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or(0.0)
}

#[test]
fn fixture_letters_score_well() {
    let Some(s) = score(&shared().join("fixtures"), "F", "F01-F10") else {
        eprintln!("scorer or fixtures not found beside the checkout: not scored");
        return;
    };
    assert!(number(&s, "field_accuracy") >= 0.95, "{s}");
    assert!(
        (number(&s, "risk_recall") - 1.0).abs() < f64::EPSILON,
        "{s}"
    );
    assert_eq!(s["forbidden"].as_array().map_or(0, Vec::len), 0, "{s}");
}

#[test]
fn held_out_letters_are_scored_when_present() {
    let dir = std::env::var_os("REFGATE_HELDOUT_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../wt-fixtures/fixtures"),
        PathBuf::from,
    );
    if let Some(s) = score(&dir, "L", "held-out") {
        println!(
            "held-out: field_accuracy={:.3} risk_recall={:.2} risk_precision={:.2} forbidden={}",
            number(&s, "field_accuracy"),
            number(&s, "risk_recall"),
            number(&s, "risk_precision"),
            s["forbidden"].as_array().map_or(0, Vec::len)
        );
    }
}
