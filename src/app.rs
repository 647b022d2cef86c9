//! Building and running the gateway: `App::build(settings)` binds the listener and
//! wires every stage; `run_until_stopped` serves until a shutdown signal, then lets
//! in-flight requests finish and closes the store (which commits pending writes).

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App as ActixApp, HttpServer, web};
use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::api::{self, AppState, auth::Directory};
use crate::clock::Clock;
use crate::config::Settings;
use crate::crypto::DataKeys;
use crate::deliver::DeliverContext;
use crate::deliver::mailer;
use crate::deliver::push::{self, PushContext};
use crate::intake::IntakeContext;
use crate::intake::drop_folder::DropFolder;
use crate::intake::email::{EmailChannel, Spool};
use crate::intake::smtp::SmtpServer;
use crate::outbox::MailContext;
use crate::route::Router;
use crate::store::Store;
use crate::store::sqlite::SqliteStore;
use crate::telemetry::metrics::Metrics;
use crate::tls;

/// A bound, ready-to-run gateway.
pub struct App {
    port: u16,
    /// The inbound SMTP listener's port, when `[smtp]` is configured.
    smtp_port: Option<u16>,
    server: Server,
    store: Arc<dyn Store>,
    /// Pull channels (drop folders), the outbox and push workers: stopped after the server,
    /// before the store closes.
    channels: Vec<tokio::task::JoinHandle<()>>,
    stop_channels: CancellationToken,
}

impl App {
    /// Opens the store, loads keys and certificates, binds the listener.
    ///
    /// # Errors
    /// Any start-up failure, with context naming what failed.
    pub async fn build(settings: Settings) -> anyhow::Result<App> {
        Self::build_with_clock(settings, Clock::system()).await
    }

    /// As [`App::build`], with an injected clock (tests).
    ///
    /// # Errors
    /// Any start-up failure.
    pub async fn build_with_clock(settings: Settings, clock: Clock) -> anyhow::Result<App> {
        tls::install_crypto_provider();
        crate::normalise::schema::warm_up();
        let keys = Arc::new(DataKeys::load(&settings.keys.data_key).context("keys.data_key")?);
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(&settings.store.path)
                .await
                .context("store.path")?,
        );
        let state = app_state(&settings, store.clone(), keys, clock)?;
        let stop_channels = CancellationToken::new();
        let mut channels = Vec::new();
        for (i, folder) in settings.drop_folders.iter().enumerate() {
            let folder = DropFolder {
                org: folder.organisation.clone(),
                dir: folder.path.clone(),
                poll: Duration::from_millis(folder.poll_interval_ms),
                settle: Duration::from_millis(folder.settle_ms),
                max_bytes: settings.server.max_body_bytes as u64,
            };
            folder
                .prepare()
                .with_context(|| format!("drop_folders[{i}].path"))?;
            channels.push(tokio::spawn(
                folder.run(state.intake.clone(), stop_channels.clone()),
            ));
        }
        // The outbox worker: replies, notifications and email delivery. Stopped with
        // the channels, before the store closes; queued mail waits in the store.
        if let Some(mail) = state.deliver.mail.clone() {
            channels.push(tokio::spawn(mailer::run(mail, stop_channels.clone())));
        }
        // The push worker: delivery to providers' $process-message. Stopped with the
        // channels, before the store closes; delivery state waits in the store.
        if let Some(push) = PushContext::from_settings(
            &settings,
            store.clone(),
            state.deliver.keys.clone(),
            state.metrics.clone(),
            state.deliver.mail.clone(),
        )
        .context("push")?
        {
            channels.push(tokio::spawn(push::run(push, stop_channels.clone())));
        }
        let smtp_port = start_email(&settings, &state, &stop_channels, &mut channels).await?;
        let tls_config = tls::server_config(&settings.tls).context("tls")?;
        let listener = TcpListener::bind(settings.server.listen)
            .with_context(|| format!("cannot listen on {}", settings.server.listen))?;
        let port = listener.local_addr()?.port();
        let data = web::Data::new(state);
        let mut server = HttpServer::new(move || {
            ActixApp::new()
                .app_data(data.clone())
                .wrap(from_fn(api::record_latency))
                .configure(api::configure)
        })
        .on_connect(tls::on_connect)
        .shutdown_timeout(10);
        if settings.server.workers > 0 {
            server = server.workers(settings.server.workers);
        }
        let server = server.listen_rustls_0_23(listener, tls_config)?.run();
        Ok(App {
            port,
            smtp_port,
            server,
            store,
            channels,
            stop_channels,
        })
    }

    /// The bound port (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The bound SMTP port, when `[smtp]` is configured (useful with port 0).
    pub fn smtp_port(&self) -> Option<u16> {
        self.smtp_port
    }

    /// A handle to stop the server from elsewhere (tests, signals).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped (SIGINT/SIGTERM or the handle), then closes the store.
    ///
    /// # Errors
    /// An I/O failure of the server.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.stop_channels.cancel();
        for channel in self.channels {
            let _ = channel.await;
        }
        self.store.close().await;
        result
    }
}

/// How often the email channel looks for spooled mail without being woken.
const EMAIL_SWEEP: Duration = Duration::from_secs(30);

/// The email channel: the processor, which makes referrals of spooled mail, always (so
/// messages accepted before `[smtp]` was switched off are still read), and the SMTP
/// listener, which spools, when `[smtp]` is configured. Returns the SMTP port.
async fn start_email(
    settings: &Settings,
    state: &AppState,
    stop: &CancellationToken,
    channels: &mut Vec<tokio::task::JoinHandle<()>>,
) -> anyhow::Result<Option<u16>> {
    let wake = Arc::new(tokio::sync::Notify::new());
    let email = EmailChannel {
        wake: wake.clone(),
        sweep: EMAIL_SWEEP,
        mail: state.deliver.mail.clone(),
    };
    channels.push(tokio::spawn(email.run(state.intake.clone(), stop.clone())));
    if settings.smtp.is_none() {
        return Ok(None);
    }
    let spool = Spool::new(&state.intake, wake);
    let server = SmtpServer::bind(Arc::new(settings.clone()), spool)
        .await
        .context("smtp")?;
    let port = server.port().context("smtp.listen")?;
    channels.push(tokio::spawn(server.run(stop.clone())));
    Ok(Some(port))
}

fn app_state(
    settings: &Settings,
    store: Arc<dyn Store>,
    keys: Arc<DataKeys>,
    clock: Clock,
) -> anyhow::Result<AppState> {
    let metrics = Arc::new(Metrics::new());
    let mut directory: Directory = HashMap::new();
    let mut names = HashMap::new();
    for (i, org) in settings.organisations.iter().enumerate() {
        let fp = tls::fingerprint_of_pem_file(&org.client_cert)
            .with_context(|| format!("organisations[{i}].client_cert"))?;
        if directory.insert(fp, (org.id.clone(), org.role)).is_some() {
            anyhow::bail!(
                "organisations[{i}].client_cert: the same certificate is registered twice"
            );
        }
        names.insert(org.id.clone(), org.name.clone());
    }
    let intake = IntakeContext {
        store: store.clone(),
        router: Arc::new(Router::new(&settings.routing)),
        keys: keys.clone(),
        metrics: metrics.clone(),
        clock,
    };
    let mail = MailContext::from_settings(
        settings,
        store.clone(),
        keys.clone(),
        clock,
        metrics.clone(),
    )
    .context("mail")?;
    let deliver = DeliverContext {
        store,
        keys,
        clock,
        source_endpoint: settings.server.public_url.clone(),
        names: Arc::new(names),
        mail,
    };
    let mesh = api::mesh_auth::MeshDirectory::load(settings)?.map(Arc::new);
    Ok(AppState {
        intake,
        deliver,
        directory: Arc::new(directory),
        metrics,
        max_body_bytes: settings.server.max_body_bytes,
        mesh,
    })
}
