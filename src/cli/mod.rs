//! The `refgate` command line: every subcommand is a thin wrapper over the library.

mod check;
mod normalise;
mod send;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// refgate: secure referral interchange gateway.
#[derive(Debug, Parser)]
#[command(name = "refgate", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a demo configuration, development certificates and a data key into DIR.
    Init {
        /// Folder to create (refused if it already holds a refgate.toml).
        dir: PathBuf,
    },
    /// Run the gateway. Without a configuration, initialises ./refgate-data first.
    Serve {
        /// Configuration file [default: $REFGATE_CONFIG, else ./refgate-data/refgate.toml].
        #[arg(long, env = "REFGATE_CONFIG")]
        config: Option<PathBuf>,
        /// Listen address, overriding server.listen (e.g. 127.0.0.1:8443).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// SMTP listen address, overriding smtp.listen (e.g. 127.0.0.1:2525); needs an
        /// [smtp] section naming the referral addresses.
        #[arg(long)]
        smtp_listen: Option<std::net::SocketAddr>,
    },
    /// Configuration tools.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Print the canonical record for a submission file (exit 0 accepted, 1 needs review,
    /// 2 rejected with the OperationOutcome on stderr).
    Normalise { file: PathBuf },
    /// Send a document to a gateway as your organisation (exit 0 accepted, 1 held for
    /// review, 2 refused).
    Send(send::SendArgs),
    /// Audit log tools.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

/// `refgate config ...`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a configuration and show where each given submission would be routed.
    Check {
        #[arg(
            long,
            env = "REFGATE_CONFIG",
            default_value = "refgate-data/refgate.toml"
        )]
        config: PathBuf,
        /// Submission files (flat JSON or FHIR) to route without sending anything.
        files: Vec<PathBuf>,
    },
}

/// `refgate audit ...`
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the hash chain; exit 1 and name the first broken link if altered.
    Verify {
        #[arg(
            long,
            env = "REFGATE_CONFIG",
            default_value = "refgate-data/refgate.toml"
        )]
        config: PathBuf,
    },
}

/// Runs a parsed command line.
///
/// # Errors
/// Start-up and I/O failures, for `main` to print.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Init { dir } => {
            let report = crate::init::init(&dir)?;
            println!(
                "{}",
                crate::init::first_referral_hint(&report, "127.0.0.1:8443")
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve {
            config,
            listen,
            smtp_listen,
        } => serve::run(config, listen, smtp_listen).await,
        Command::Config {
            command: ConfigCommand::Check { config, files },
        } => check::run(&config, &files),
        Command::Normalise { file } => normalise::run(&file),
        Command::Send(args) => send::run(args).await,
        Command::Audit {
            command: AuditCommand::Verify { config },
        } => check::audit_verify(&config).await,
    }
}
