//! Fuzzing the letter path on stable Rust (cargo-fuzz needs a nightly toolchain, which
//! this project does not use): a mutational fuzzer seeded with the fixtures and the
//! inputs kept in `fuzz/corpus/`. Targets: `document` (bytes → text, every format,
//! through `Format::detect`), `extract` (text → record) and `email` (a MIME message →
//! its letter and supporting documents with `normalise::email::read`, then the full
//! normalise of the email). Each mutated input must come
//! back as a result, never a panic, within the time bound.
//!
//! It runs in the test command with a short budget. For a long run:
//! `FUZZ_SECONDS=600 cargo test --release --test fuzz`. An input that fails is written
//! to `fuzz/crashes/` and the run fails naming it; fix it, then keep it in
//! `fuzz/corpus/<target>/`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use refgate::normalise::{Format, email, extract, normalise};

/// Tiny xorshift: reproducible from the seed printed at the start.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n.max(1) as u64).unwrap_or(0)
    }
}

const INTERESTING: &[&[u8]] = &[
    b"\x00",
    b"\xff",
    b"{\\rtf1",
    b"%PDF-1.7",
    b"PK\x03\x04",
    b"<html>",
    b"\\u-1?",
    b"\\'ff",
    b"NHS No:",
    b"DOB: 31/02/1975",
    b"999 070 2314",
    b"denies suicidal",
    b"cc: Dr ",
    b"\r\n",
    b"\n\n\n",
    b"((((((((",
    b"<<<<<<",
    b"endstream",
    b"obj",
    b"\xe2\x80\x99",
    b"\r\n--",
    b"\n\n",
    b"Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\n",
    b"Content-Type: message/rfc822\n\n",
    b"Content-Transfer-Encoding: base64\n",
    b"Content-Transfer-Encoding: quoted-printable\n",
    b"charset=\"windows-1252\"",
    b"=\n",
    b"=E2=80",
    b"---------- Forwarded message ---------\n",
    b"Content-Disposition: attachment; filename=\"a.pdf\"\n",
];

fn mutate(rng: &mut Rng, seed: &[u8], corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..=rng.below(8) {
        let at = rng.below(data.len() + 1);
        match rng.below(7) {
            0 if !data.is_empty() => {
                let i = at.min(data.len() - 1);
                data[i] ^= 1 << rng.below(8);
            }
            1 => data.insert(at, u8::try_from(rng.below(256)).unwrap_or(0)),
            2 if !data.is_empty() => {
                let end = (at + rng.below(64)).min(data.len());
                data.drain(at.min(end)..end);
            }
            3 => {
                let piece = INTERESTING[rng.below(INTERESTING.len())];
                data.splice(at..at, piece.iter().copied());
            }
            4 => data.truncate(at),
            5 => {
                // Splice in part of another corpus entry.
                let other = &corpus[rng.below(corpus.len())];
                let from = rng.below(other.len());
                let to = (from + rng.below(256)).min(other.len());
                data.splice(at..at, other[from..to].iter().copied());
            }
            _ => {
                let end = (at + rng.below(32)).min(data.len());
                let chunk: Vec<u8> = data[at.min(end)..end].to_vec();
                data.splice(at..at, chunk.iter().copied().cycle().take(chunk.len() * 8));
            }
        }
    }
    data
}

/// The seeds for a target: the fixtures themselves (every format of letter, the
/// structured submissions) plus `fuzz/corpus/<target>/`, where inputs that once failed
/// are kept so they are tried on every run.
fn corpus(target: &str) -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let seeds: &[&str] = match target {
        "document" => &[
            "fixtures/letters/formats",
            "fixtures/json",
            "fixtures/letters",
        ],
        "email" => &["fixtures/emails"],
        _ => &["fixtures/letters"],
    };
    let mut files: Vec<PathBuf> = seeds
        .iter()
        .map(|d| root.join(d))
        .chain([root.join("fuzz/corpus").join(target)])
        .flat_map(|dir| std::fs::read_dir(dir).into_iter().flatten().flatten())
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

fn run(target: &str, budget: Duration, seed: u64, one: impl Fn(&[u8])) -> usize {
    let corpus = corpus(target);
    assert!(!corpus.is_empty(), "no seeds for {target}");
    let mut rng = Rng(seed | 1);
    let deadline = Instant::now() + budget;
    let mut runs = 0;
    while Instant::now() < deadline {
        let pick = rng.below(corpus.len());
        let input = mutate(&mut rng, &corpus[pick], &corpus);
        let started = Instant::now();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| one(&input)));
        let slow = started.elapsed() > Duration::from_secs(10);
        if outcome.is_err() || slow {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/crashes");
            let _ = std::fs::create_dir_all(&dir);
            let file = dir.join(format!("{target}-{seed}-{runs}"));
            let _ = std::fs::write(&file, &input);
            let what = if slow { "took over 10 s" } else { "panicked" };
            panic!("{target}: input {what}; saved as {}", file.display());
        }
        runs += 1;
    }
    runs
}

fn main() {
    let seconds: u64 = std::env::var("FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6);
    let seed = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_secs())
        });
    // Panics inside the parsers are caught and reported by `run`; keep stderr quiet.
    std::panic::set_hook(Box::new(|_| {}));
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap_or_default();
    let budget = Duration::from_secs(seconds) / 3;
    let documents = run("document", budget, seed, |bytes| {
        if let Ok(format) = Format::detect(bytes) {
            let _ = normalise(format, bytes, today);
        }
    });
    let texts = run("extract", budget, seed, |bytes| {
        let _ = extract::extract(&String::from_utf8_lossy(bytes));
    });
    let emails = run("email", budget, seed, |bytes| {
        let _ = email::read(bytes);
        let _ = normalise(Format::Email, bytes, today);
    });
    println!(
        "fuzz seed {seed}: {documents} documents, {texts} letter texts and {emails} emails, no panic"
    );
}
