//! `refgate serve`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use crate::app::App;
use crate::config::Settings;

const DEFAULT_DIR: &str = "refgate-data";

pub(super) async fn run(
    config: Option<PathBuf>,
    listen: Option<SocketAddr>,
    smtp_listen: Option<SocketAddr>,
) -> anyhow::Result<ExitCode> {
    let path = match config {
        Some(p) => p,
        None => default_config()?,
    };
    let mut settings =
        Settings::load(&path).with_context(|| format!("configuration {}", path.display()))?;
    if let Some(addr) = listen {
        settings.server.listen = addr;
    }
    if let Some(addr) = smtp_listen {
        let smtp = settings.smtp.as_mut().context(
            "--smtp-listen needs an [smtp] section in the configuration (referral_addresses)",
        )?;
        smtp.listen = addr;
    }
    crate::telemetry::init(&settings.log);
    let app = App::build(settings).await?;
    tracing::info!(port = app.port(), "refgate listening (https)");
    if let Some(port) = app.smtp_port() {
        tracing::info!(port, "refgate listening (smtp)");
    }
    let handle = app.handle();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutdown requested; finishing in-flight requests");
        handle.stop(true).await;
    });
    app.run_until_stopped().await?;
    Ok(ExitCode::SUCCESS)
}

/// With no configuration anywhere, make the demo one so `refgate serve` just works.
fn default_config() -> anyhow::Result<PathBuf> {
    let dir = Path::new(DEFAULT_DIR);
    let path = dir.join("refgate.toml");
    if !path.exists() {
        let report = crate::init::init(dir).context("initialising ./refgate-data")?;
        println!("No configuration found: created a demo one in ./{DEFAULT_DIR}\n");
        println!(
            "{}",
            crate::init::first_referral_hint(&report, "127.0.0.1:8443")
        );
    }
    Ok(path)
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
