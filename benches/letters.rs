//! Letter reading benchmark: median time per letter for the whole letter path
//! (document -> text -> fields -> record in normal form), on one core.
//!
//! Run: `cargo bench --bench letters`. Text: every fixture letter (`fixtures/letters/*.txt`).
//! PDF: the fixture letters rendered as PDFs (`fixtures/letters/formats/*.pdf`), plus a
//! two-page PDF made of two letters.

use std::path::Path;
use std::time::{Duration, Instant};

use refgate::normalise::document::DocumentKind;
use refgate::normalise::{Format, normalise};

fn main() -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/letters");
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap_or_default();
    let mut texts = Vec::new();
    for entry in std::fs::read_dir(&root)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "txt") {
            texts.push(std::fs::read(&path)?);
        }
    }
    let mut pdfs = Vec::new();
    for entry in std::fs::read_dir(root.join("formats"))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "pdf") {
            pdfs.push(std::fs::read(&path)?);
        }
    }
    let two_page = std::fs::read(root.join("formats/two-page.pdf")).ok();
    println!("refgate letter benchmark (release, one thread)");
    report(
        "text letter",
        &texts,
        Format::Letter(DocumentKind::Text),
        today,
    );
    report(
        "PDF letter",
        &pdfs,
        Format::Letter(DocumentKind::Pdf),
        today,
    );
    if let Some(pdf) = two_page {
        report(
            "two-page PDF",
            &[pdf],
            Format::Letter(DocumentKind::Pdf),
            today,
        );
    }
    Ok(())
}

fn report(label: &str, docs: &[Vec<u8>], format: Format, today: chrono::NaiveDate) {
    if docs.is_empty() {
        return;
    }
    // Warm up, then time each document many times; report the median over all runs.
    for d in docs {
        let _ = normalise(format, d, today);
    }
    let mut times: Vec<Duration> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        for d in docs {
            let t = Instant::now();
            let _ = std::hint::black_box(normalise(format, d, today));
            times.push(t.elapsed());
        }
    }
    times.sort_unstable();
    let median = times[times.len() / 2];
    let p99 = times[times.len() * 99 / 100];
    println!(
        "{label:>14}: {:>4} documents, {:>7} runs, median {:>8.1} µs, p99 {:>8.1} µs",
        docs.len(),
        times.len(),
        median.as_secs_f64() * 1e6,
        p99.as_secs_f64() * 1e6
    );
}
