//! `refgate config check` and `refgate audit verify`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::audit;
use crate::config::Settings;
use crate::normalise;
use crate::route::Router;
use crate::store::Store;
use crate::store::sqlite::SqliteStore;

pub(super) fn run(config: &Path, files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let settings = match Settings::load(config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("configuration invalid: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    println!(
        "configuration ok: {} organisations, {} routes",
        settings.organisations.len(),
        settings.routing.routes.len()
    );
    let router = Router::new(&settings.routing);
    let mut all_routed = true;
    for file in files {
        let line = match std::fs::read(file) {
            Err(e) => {
                all_routed = false;
                format!("cannot read ({e})")
            }
            Ok(body) => match normalise::Format::detect(&body)
                .map_err(|p| vec![p])
                .and_then(|f| normalise::normalise(f, &body, chrono::Utc::now().date_naive()))
            {
                Ok(n) if n.review_reasons.is_empty() => {
                    let d = router.route(&n.record);
                    format!("-> {} ({})", d.provider, d.rule)
                }
                Ok(n) => format!("-> review queue (missing: {})", n.review_reasons.join(", ")),
                Err(problems) => {
                    all_routed = false;
                    let paths: Vec<_> = problems
                        .iter()
                        .map(|p| format!("{}: {}", p.path, p.message))
                        .collect();
                    format!("rejected: {}", paths.join("; "))
                }
            },
        };
        println!("{}: {line}", file.display());
    }
    Ok(if all_routed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub(super) async fn audit_verify(config: &Path) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(config)?;
    let store = SqliteStore::open(&settings.store.path).await?;
    let events = store.audit_events().await?;
    store.close().await;
    match audit::verify(events) {
        Ok(n) => {
            println!("audit chain intact: {n} events verified");
            Ok(ExitCode::SUCCESS)
        }
        Err(broken) => {
            println!("{broken}");
            Ok(ExitCode::from(1))
        }
    }
}
