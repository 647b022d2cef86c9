//! `refgate send FILE`: the one-button client for a clinic system or a secretary. It
//! posts a document to the gateway with the organisation's client certificate and
//! prints the gateway's reference and what happened.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

use crate::normalise::Format;

/// Where to send and as whom.
#[derive(Debug, clap::Args)]
pub struct SendArgs {
    /// The document to send (flat JSON or FHIR; its type is read from the content).
    pub file: PathBuf,
    /// The gateway's address.
    #[arg(
        long,
        env = "REFGATE_GATEWAY",
        default_value = "https://localhost:8443"
    )]
    pub gateway: String,
    /// This organisation's client certificate (PEM).
    #[arg(long, env = "REFGATE_CERT")]
    pub cert: PathBuf,
    /// Its private key (PEM).
    #[arg(long, env = "REFGATE_KEY")]
    pub key: PathBuf,
    /// The CA that issued the gateway's certificate (PEM).
    #[arg(long, env = "REFGATE_CA")]
    pub ca: PathBuf,
}

/// Exit 0 accepted (or already received), 1 held for review, 2 refused.
pub(super) async fn run(args: SendArgs) -> anyhow::Result<ExitCode> {
    let body = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let media_type = Format::detect(&body)
        .map(Format::media_type)
        .unwrap_or("application/octet-stream");
    let tls = crate::tls::client_config(&args.ca, Some(&args.cert), Some(&args.key))
        .context("client certificate")?;
    let url = format!("{}/referrals", args.gateway.trim_end_matches('/'));
    // awc runs on the current thread's task set.
    let local = tokio::task::LocalSet::new();
    let (status, reply) = local
        .run_until(post(tls, &url, media_type, body))
        .await
        .with_context(|| format!("sending to {url}"))?;
    Ok(report(&args.file, status, &reply))
}

async fn post(
    tls: rustls::ClientConfig,
    url: &str,
    media_type: &str,
    body: Vec<u8>,
) -> anyhow::Result<(u16, serde_json::Value)> {
    let client = awc::Client::builder()
        .connector(awc::Connector::new().rustls_0_23(Arc::new(tls)))
        .timeout(std::time::Duration::from_secs(60))
        .finish();
    let mut resp = client
        .post(url)
        .insert_header(("Content-Type", media_type))
        .send_body(body)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let bytes = resp
        .body()
        .limit(16 * 1024 * 1024)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let reply = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    Ok((resp.status().as_u16(), reply))
}

fn report(file: &Path, status: u16, reply: &serde_json::Value) -> ExitCode {
    let file = file.display();
    match status {
        200..=202 => {
            let repeat = if status == 200 {
                " (already received)"
            } else {
                ""
            };
            println!(
                "{file}: reference {}{repeat}",
                reply["id"].as_str().unwrap_or("?")
            );
            println!("state: {}", reply["state"].as_str().unwrap_or("?"));
            if let Some(p) = reply["provider"].as_str() {
                println!("provider: {p}");
            }
            if status == 202 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        _ => {
            println!("{file}: refused ({status})");
            for issue in reply["issue"].as_array().into_iter().flatten() {
                let at = issue["expression"][0].as_str().unwrap_or("");
                println!("  {at} {}", issue["diagnostics"].as_str().unwrap_or(""));
            }
            ExitCode::from(2)
        }
    }
}
