//! `refgate normalise FILE`.

use std::path::Path;
use std::process::ExitCode;

use crate::normalise::{self, Format, IssueCode, Problem, operation_outcome};

/// Picks the format from the content, not the file name: a JSON object whose
/// `resourceType` is `Bundle` is FHIR, any other JSON object is the flat form.
pub(crate) fn detect_format(body: &[u8]) -> Result<Format, Problem> {
    let doc: serde_json::Value = serde_json::from_slice(body).map_err(|_| {
        Problem::new(
            IssueCode::NotSupported,
            "$",
            "not a JSON or FHIR submission (letters come in a later release)",
        )
    })?;
    match doc.get("resourceType") {
        Some(_) => Ok(Format::Fhir),
        None => Ok(Format::Flat),
    }
}

pub(super) fn run(file: &Path) -> anyhow::Result<ExitCode> {
    let body =
        std::fs::read(file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    let result = detect_format(&body)
        .map_err(|p| vec![p])
        .and_then(|format| normalise::normalise(format, &body, chrono::Utc::now().date_naive()));
    match result {
        Ok(n) => {
            println!("{}", serde_json::to_string_pretty(&n.record)?);
            if n.review_reasons.is_empty() && n.record.is_referral {
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("needs review: {}", n.review_reasons.join(", "));
                Ok(ExitCode::from(1))
            }
        }
        Err(problems) => {
            eprintln!(
                "{}",
                serde_json::to_string_pretty(&operation_outcome(&problems))?
            );
            Ok(ExitCode::from(2))
        }
    }
}
