//! `refgate normalise FILE`.

use std::path::Path;
use std::process::ExitCode;

use crate::normalise::{self, Format, operation_outcome};

pub(super) fn run(file: &Path) -> anyhow::Result<ExitCode> {
    let body =
        std::fs::read(file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    let result = Format::detect(&body)
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
