//! Settings: layered loading and validation.
//!
//! Layers, later wins: built-in defaults, the TOML file, then `REFGATE__SECTION__KEY`
//! environment variables (`REFGATE__SERVER__LISTEN=0.0.0.0:8443`). Relative paths in
//! the file are relative to the file's folder. Unknown keys, missing files and routes to
//! unknown providers stop start-up with a message naming the key.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::domain::{MailboxId, OrgId};

/// Everything the gateway needs to run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub server: ServerSettings,
    pub tls: TlsSettings,
    pub store: StoreSettings,
    pub keys: KeySettings,
    #[serde(default)]
    pub log: LogSettings,
    #[serde(default)]
    pub organisations: Vec<Organisation>,
    pub routing: RoutingSettings,
    /// Folders whose files are taken in as submissions from one organisation.
    #[serde(default)]
    pub drop_folders: Vec<DropFolderSettings>,
    /// Inbound email: the SMTP listener for referral addresses. Absent: no listener.
    #[serde(default)]
    pub smtp: Option<SmtpSettings>,
    /// Outbound email through a relay: replies to senders, status notifications and
    /// delivery to email-only providers. Absent: nothing is emailed.
    #[serde(default)]
    pub mail: Option<MailSettings>,
    /// The MESH-compatible mailbox API (`/messageexchange`). Absent: no MESH routes.
    #[serde(default)]
    pub mesh: Option<MeshSettings>,
    /// Push delivery to providers' `$process-message` endpoints (needed by any
    /// provider with `delivery = "push"`). Absent: nothing is pushed.
    #[serde(default)]
    pub push: Option<PushSettings>,
}

/// Push delivery: how the gateway POSTs FHIR messages to providers, and how hard it
/// tries. The gateway presents its own client certificate (mutual TLS) and trusts
/// only `ca` for providers' server certificates.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushSettings {
    /// The gateway's client certificate (PEM), presented to providers.
    pub client_cert: PathBuf,
    /// Its private key (PEM).
    pub client_key: PathBuf,
    /// The CA (PEM, one or more certificates) that providers' server certificates
    /// must chain to.
    pub ca: PathBuf,
    /// Attempts before a referral goes to the dead letters (and operators are alerted).
    #[serde(default = "default_push_attempts")]
    pub max_attempts: u32,
    /// How long one attempt (connect, TLS, request and answer) may take.
    #[serde(default = "default_push_timeout")]
    pub timeout_secs: u64,
    /// The first retry delay; each further one is four times longer (with jitter).
    #[serde(default = "default_push_first_retry")]
    pub first_retry_ms: u64,
    /// The longest delay between two attempts.
    #[serde(default = "default_push_max_retry")]
    pub max_retry_secs: u64,
    /// How often ready referrals are looked for when nothing is due sooner.
    #[serde(default = "default_push_poll")]
    pub poll_interval_ms: u64,
    /// Deliveries in flight at once, per push provider.
    #[serde(default = "default_push_concurrency")]
    pub concurrency: usize,
}

/// The MESH-compatible mailbox API: organisations with a `mesh_mailbox` use it with
/// their client certificate plus the `NHSMESH` authorisation header.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeshSettings {
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// A file holding the MESH shared secret that keys every token's HMAC. A file, so
    /// the secret never sits in the configuration (or in git).
    pub shared_key_file: PathBuf,
    /// How far a token's timestamp may be from the gateway's clock (MESH: 2 hours).
    #[serde(default = "default_mesh_skew")]
    pub max_clock_skew_minutes: u32,
    /// The gateway's own mailbox: referrers address referrals to it (`mex-To`), and it
    /// is the `mex-From` of referrals whose referrer has no mailbox.
    #[serde(default = "default_intake_mailbox")]
    pub intake_mailbox: MailboxId,
    /// The workflow id of referrals, sent and delivered (`mex-WorkflowID`).
    #[serde(default = "default_mesh_workflow")]
    pub workflow_id: String,
}

fn default_mesh_skew() -> u32 {
    120
}
fn default_intake_mailbox() -> MailboxId {
    MailboxId::parse("REFGATE").expect("a valid literal mailbox id")
}
fn default_mesh_workflow() -> String {
    "TALKING_THERAPIES_REFERRAL".to_owned()
}

/// The inbound SMTP listener (STARTTLS with the server certificate of `[tls]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    pub listen: SocketAddr,
    /// The name in the greeting and EHLO reply.
    #[serde(default = "default_smtp_hostname")]
    pub hostname: String,
    /// The only valid recipients; anything else is relaying and refused.
    pub referral_addresses: Vec<String>,
    /// Largest message accepted (advertised with SIZE, enforced while reading DATA).
    #[serde(default = "default_max_message")]
    pub max_message_bytes: usize,
    /// Open SMTP connections at once, in all.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Open SMTP connections at once from one IP address.
    #[serde(default = "default_max_per_ip")]
    pub max_connections_per_ip: usize,
    /// How long a client may take to send one command.
    #[serde(default = "default_command_timeout")]
    pub command_timeout_secs: u64,
    /// How long a client may take to send a whole message after DATA.
    #[serde(default = "default_data_timeout")]
    pub data_timeout_secs: u64,
}

/// The relay outbound mail goes through, always with STARTTLS.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSettings {
    pub relay_host: String,
    #[serde(default = "default_relay_port")]
    pub relay_port: u16,
    /// The From address of every message refgate sends.
    pub from: String,
    /// An extra CA to trust for the relay's certificate (the development CA in the demo).
    #[serde(default)]
    pub ca: Option<PathBuf>,
    /// Tell referrers by email when a provider accepts, rejects, books or completes.
    #[serde(default = "default_true")]
    pub notify_status: bool,
    /// Attempts before an outgoing message is given up (and an operator alerted).
    #[serde(default = "default_mail_attempts")]
    pub max_attempts: u32,
}

/// A watched folder: a clinic system's print-to-file or hybrid-mail export writes
/// documents here, refgate takes each in and moves it to `processed/` or `rejected/`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DropFolderSettings {
    /// The referring organisation the files come from.
    pub organisation: OrgId,
    pub path: PathBuf,
    /// How often the folder is looked at.
    #[serde(default = "default_poll_ms")]
    pub poll_interval_ms: u64,
    /// How long a file must be left unchanged before it is read.
    #[serde(default = "default_settle_ms")]
    pub settle_ms: u64,
}

fn default_poll_ms() -> u64 {
    1000
}

fn default_settle_ms() -> u64 {
    2000
}

/// The HTTPS listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Largest request body accepted; larger ones get 413 before they are read whole.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// HTTP worker threads; 0 means one per core.
    #[serde(default)]
    pub workers: usize,
    /// How the gateway names itself in FHIR messages (MessageHeader.source.endpoint).
    #[serde(default = "default_public_url")]
    pub public_url: String,
}

/// Certificates for rustls. Private keys are files generated at run time, never in git.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// CA that issues organisations' client certificates.
    pub client_ca: PathBuf,
}

/// Where referrals are kept.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSettings {
    /// The embedded SQLite database file.
    pub path: PathBuf,
}

/// Key material kept outside the database.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySettings {
    /// 32 random bytes, hex encoded: seals patient data and keys the lookup hashes.
    pub data_key: PathBuf,
}

/// Logging.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    #[serde(default)]
    pub format: LogFormat,
    /// A tracing `EnvFilter` directive; `RUST_LOG` overrides it.
    #[serde(default = "default_log_filter")]
    pub filter: String,
}

/// Text for people, JSON for log collectors.
#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// An organisation allowed to talk to the gateway.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Organisation {
    /// Usually the ODS code.
    pub id: OrgId,
    pub name: String,
    pub role: Role,
    /// The PEM certificate this organisation presents in mutual TLS.
    pub client_cert: PathBuf,
    /// Referrers: who may email referrals for this organisation, each a full address
    /// (`msk.secretary@nhs.net`) or a whole domain (`@rcb.nhs.uk`).
    #[serde(default)]
    pub email_senders: Vec<String>,
    /// Where status notifications go for referrals that did not arrive by email.
    #[serde(default)]
    pub notify_email: Option<String>,
    /// Providers: how referrals reach them.
    #[serde(default)]
    pub delivery: Delivery,
    /// Providers with `delivery = "email"`: the address referrals are sent to.
    #[serde(default)]
    pub delivery_email: Option<String>,
    /// Providers with `delivery = "push"`: the https URL of their `$process-message`.
    #[serde(default)]
    pub push_url: Option<String>,
    /// Its MESH mailbox id (upper case), when it uses the MESH API.
    #[serde(default)]
    pub mesh_mailbox: Option<MailboxId>,
    /// A file holding that mailbox's MESH password (needed with `mesh_mailbox`).
    #[serde(default)]
    pub mesh_password_file: Option<PathBuf>,
}

/// How a provider receives referrals.
#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Delivery {
    /// It lists, downloads and acknowledges them (`/inbox`).
    #[default]
    Inbox,
    /// Each is emailed to `delivery_email` (summary and original document).
    Email,
    /// Each is POSTed as a FHIR message to `push_url` (its `$process-message`).
    Push,
}

/// What an organisation may do.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Sends referrals and reads their status.
    Referrer,
    /// Receives referrals from its inbox.
    Provider,
    /// Runs the gateway: review queue, statistics.
    Operator,
}

/// Where referrals go. Routes are tried in order; the first whose every given
/// criterion matches wins; otherwise the default provider receives the referral.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingSettings {
    pub default_provider: OrgId,
    #[serde(default)]
    pub routes: Vec<Route>,
}

/// One routing rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    pub provider: OrgId,
    /// The patient's GP practice ODS code is one of these.
    #[serde(default)]
    pub gp_ods: Vec<String>,
    /// The patient's postcode starts with one of these (outward code or area, e.g. "HG", "LS1").
    #[serde(default)]
    pub postcode_prefixes: Vec<String>,
    /// The requested service or a diagnosis mentions one of these words (e.g. "cbt", "fibromyalgia").
    #[serde(default)]
    pub pathways: Vec<String>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            max_body_bytes: default_max_body(),
            workers: 0,
            public_url: default_public_url(),
        }
    }
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            filter: default_log_filter(),
        }
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8443))
}
fn default_max_body() -> usize {
    10 * 1024 * 1024
}
fn default_public_url() -> String {
    "https://localhost:8443".to_owned()
}
fn default_log_filter() -> String {
    "info".to_owned()
}
fn default_smtp_hostname() -> String {
    "localhost".to_owned()
}
fn default_max_message() -> usize {
    25 * 1024 * 1024
}
fn default_max_connections() -> usize {
    256
}
fn default_max_per_ip() -> usize {
    16
}
fn default_command_timeout() -> u64 {
    60
}
fn default_data_timeout() -> u64 {
    300
}
fn default_relay_port() -> u16 {
    587
}
fn default_true() -> bool {
    true
}
fn default_mail_attempts() -> u32 {
    10
}
fn default_push_attempts() -> u32 {
    10
}
fn default_push_timeout() -> u64 {
    30
}
fn default_push_first_retry() -> u64 {
    1000
}
fn default_push_max_retry() -> u64 {
    3600
}
fn default_push_poll() -> u64 {
    1000
}
fn default_push_concurrency() -> usize {
    8
}

/// A configuration that cannot be used. Each message names the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
}

impl Settings {
    /// Reads `path`, applies `REFGATE__*` environment overrides, resolves relative paths
    /// against the file's folder and validates the result.
    ///
    /// # Errors
    /// [`ConfigError`] naming the file or the key at fault.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.into(),
            source,
        })?;
        let mut value: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.into(),
            message: e.message().to_owned(),
        })?;
        apply_env_overrides(&mut value, std::env::vars());
        let mut settings: Settings = serde_path_to_error::deserialize(toml::Value::Table(value))
            .map_err(|e| ConfigError::Parse {
                path: path.into(),
                message: format!("{}: {}", e.path(), e.inner()),
            })?;
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        settings.resolve_paths(base);
        settings.validate()?;
        Ok(settings)
    }

    fn resolve_paths(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        fix(&mut self.tls.cert);
        fix(&mut self.tls.key);
        fix(&mut self.tls.client_ca);
        fix(&mut self.store.path);
        fix(&mut self.keys.data_key);
        for org in &mut self.organisations {
            fix(&mut org.client_cert);
            if let Some(p) = org.mesh_password_file.as_mut() {
                fix(p);
            }
        }
        if let Some(mesh) = self.mesh.as_mut() {
            fix(&mut mesh.shared_key_file);
        }
        for folder in &mut self.drop_folders {
            fix(&mut folder.path);
        }
        if let Some(ca) = self.mail.as_mut().and_then(|m| m.ca.as_mut()) {
            fix(ca);
        }
        if let Some(push) = self.push.as_mut() {
            fix(&mut push.client_cert);
            fix(&mut push.client_key);
            fix(&mut push.ca);
        }
    }

    /// Checks what serde cannot: files exist, ids are unique, routes name providers.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] for the first problem, naming its key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: String, message: String| Err(ConfigError::Invalid { key, message });
        for (key, p) in [
            ("tls.cert", &self.tls.cert),
            ("tls.key", &self.tls.key),
            ("tls.client_ca", &self.tls.client_ca),
            ("keys.data_key", &self.keys.data_key),
        ] {
            if !p.is_file() {
                return invalid(key.into(), format!("file not found: {}", p.display()));
            }
        }
        let mut seen = HashSet::new();
        for (i, org) in self.organisations.iter().enumerate() {
            if !seen.insert(&org.id) {
                return invalid(
                    format!("organisations[{i}].id"),
                    format!("duplicate organisation id {}", org.id),
                );
            }
            if !org.client_cert.is_file() {
                return invalid(
                    format!("organisations[{i}].client_cert"),
                    format!("file not found: {}", org.client_cert.display()),
                );
            }
        }
        if self.provider(&self.routing.default_provider).is_none() {
            return invalid(
                "routing.default_provider".into(),
                format!(
                    "{} is not an organisation with role provider",
                    self.routing.default_provider
                ),
            );
        }
        for (i, route) in self.routing.routes.iter().enumerate() {
            if self.provider(&route.provider).is_none() {
                return invalid(
                    format!("routing.routes[{i}].provider"),
                    format!(
                        "{} is not an organisation with role provider",
                        route.provider
                    ),
                );
            }
            if route.gp_ods.is_empty()
                && route.postcode_prefixes.is_empty()
                && route.pathways.is_empty()
            {
                return invalid(
                    format!("routing.routes[{i}]"),
                    "a route needs at least one of gp_ods, postcode_prefixes, pathways".into(),
                );
            }
        }
        for (i, folder) in self.drop_folders.iter().enumerate() {
            if self
                .organisation(&folder.organisation)
                .is_none_or(|o| o.role != Role::Referrer)
            {
                return invalid(
                    format!("drop_folders[{i}].organisation"),
                    format!(
                        "{} is not an organisation with role referrer",
                        folder.organisation
                    ),
                );
            }
            if folder.poll_interval_ms == 0 {
                return invalid(
                    format!("drop_folders[{i}].poll_interval_ms"),
                    "must be greater than 0".into(),
                );
            }
        }
        self.validate_email()?;
        self.validate_mesh()?;
        self.validate_push()?;
        if self.server.max_body_bytes == 0 {
            return invalid(
                "server.max_body_bytes".into(),
                "must be greater than 0".into(),
            );
        }
        Ok(())
    }

    fn validate_email(&self) -> Result<(), ConfigError> {
        let invalid = |key: String, message: &str| {
            Err(ConfigError::Invalid {
                key,
                message: message.to_owned(),
            })
        };
        if let Some(smtp) = &self.smtp {
            if smtp.referral_addresses.is_empty() {
                return invalid("smtp.referral_addresses".into(), "at least one is needed");
            }
            for (i, a) in smtp.referral_addresses.iter().enumerate() {
                if !is_address(a) {
                    return invalid(
                        format!("smtp.referral_addresses[{i}]"),
                        "not an email address",
                    );
                }
            }
            if smtp.max_message_bytes == 0 || smtp.max_connections == 0 {
                return invalid("smtp".into(), "limits must be greater than 0");
            }
        }
        if let Some(mail) = &self.mail {
            if !is_address(&mail.from) {
                return invalid("mail.from".into(), "not an email address");
            }
            if mail.ca.as_ref().is_some_and(|ca| !ca.is_file()) {
                return invalid("mail.ca".into(), "file not found");
            }
        }
        let mut claimed = HashSet::new();
        for (i, org) in self.organisations.iter().enumerate() {
            if !org.email_senders.is_empty() && org.role != Role::Referrer {
                return invalid(
                    format!("organisations[{i}].email_senders"),
                    "only referrers send referrals",
                );
            }
            for (j, sender) in org.email_senders.iter().enumerate() {
                let key = format!("organisations[{i}].email_senders[{j}]");
                let domain = sender.strip_prefix('@');
                if !domain.map_or(is_address(sender), |d| d.contains('.') && !d.contains('@')) {
                    return invalid(key, "neither an address nor @domain");
                }
                if !claimed.insert(sender.to_ascii_lowercase()) {
                    return invalid(key, "already allowed for another organisation");
                }
            }
            if org.notify_email.as_deref().is_some_and(|a| !is_address(a)) {
                return invalid(
                    format!("organisations[{i}].notify_email"),
                    "not an email address",
                );
            }
            if org.delivery == Delivery::Email {
                let key = format!("organisations[{i}].delivery");
                if org.role != Role::Provider {
                    return invalid(key, "only providers receive referrals");
                }
                if !org.delivery_email.as_deref().is_some_and(is_address) {
                    return invalid(key, "email delivery needs delivery_email (an address)");
                }
                if self.mail.is_none() {
                    return invalid(key, "email delivery needs the [mail] relay");
                }
            }
        }
        Ok(())
    }

    fn validate_mesh(&self) -> Result<(), ConfigError> {
        let invalid = |key: String, message: &str| {
            Err(ConfigError::Invalid {
                key,
                message: message.to_owned(),
            })
        };
        // A disabled section may point at files not yet made; nothing reads them then.
        if let Some(mesh) = self.mesh.as_ref().filter(|m| m.enabled) {
            if !mesh.shared_key_file.is_file() {
                return invalid("mesh.shared_key_file".into(), "file not found");
            }
            if !(1..=24 * 60).contains(&mesh.max_clock_skew_minutes) {
                return invalid(
                    "mesh.max_clock_skew_minutes".into(),
                    "must be between 1 and 1440",
                );
            }
            let workflow = &mesh.workflow_id;
            if workflow.is_empty()
                || workflow.len() > 300
                || !workflow.bytes().all(|b| b.is_ascii_graphic())
            {
                return invalid("mesh.workflow_id".into(), "1 to 300 printable characters");
            }
        }
        let mut mailboxes = HashSet::new();
        if let Some(mesh) = &self.mesh {
            mailboxes.insert(&mesh.intake_mailbox);
        }
        for (i, org) in self.organisations.iter().enumerate() {
            let key = |k: &str| format!("organisations[{i}].{k}");
            match (&org.mesh_mailbox, &org.mesh_password_file) {
                (None, None) => continue,
                (Some(_), None) => {
                    return invalid(key("mesh_password_file"), "needed with mesh_mailbox");
                }
                (None, Some(_)) => {
                    return invalid(key("mesh_mailbox"), "needed with mesh_password_file");
                }
                (Some(mailbox), Some(password)) => {
                    if org.role == Role::Operator {
                        return invalid(
                            key("mesh_mailbox"),
                            "only referrers and providers have mailboxes",
                        );
                    }
                    if !mailboxes.insert(mailbox) {
                        return invalid(
                            key("mesh_mailbox"),
                            "already used (by another organisation or mesh.intake_mailbox)",
                        );
                    }
                    if !password.is_file() {
                        return invalid(key("mesh_password_file"), "file not found");
                    }
                }
            }
        }
        Ok(())
    }

    fn validate_push(&self) -> Result<(), ConfigError> {
        let invalid = |key: String, message: &str| {
            Err(ConfigError::Invalid {
                key,
                message: message.to_owned(),
            })
        };
        if let Some(push) = &self.push {
            for (key, p) in [
                ("push.client_cert", &push.client_cert),
                ("push.client_key", &push.client_key),
                ("push.ca", &push.ca),
            ] {
                if !p.is_file() {
                    return invalid(key.into(), "file not found");
                }
            }
            if push.max_attempts == 0 {
                return invalid("push.max_attempts".into(), "must be greater than 0");
            }
            if push.timeout_secs == 0 || push.poll_interval_ms == 0 || push.concurrency == 0 {
                return invalid(
                    "push".into(),
                    "timeouts, intervals and limits must be greater than 0",
                );
            }
        }
        for (i, org) in self.organisations.iter().enumerate() {
            let key = |k: &str| format!("organisations[{i}].{k}");
            if org.delivery != Delivery::Push {
                if org.push_url.is_some() {
                    return invalid(key("push_url"), "only used with delivery = \"push\"");
                }
                continue;
            }
            if org.role != Role::Provider {
                return invalid(key("delivery"), "only providers receive referrals");
            }
            if self.push.is_none() {
                return invalid(key("delivery"), "push delivery needs the [push] section");
            }
            if !org.push_url.as_deref().is_some_and(is_push_url) {
                return invalid(key("push_url"), "push delivery needs an https URL");
            }
        }
        Ok(())
    }

    /// The referrer allowed to send from `address`: an exact address entry wins over a
    /// domain entry. Case-insensitive, as mail systems treat addresses in practice.
    pub fn sender_organisation(&self, address: &str) -> Option<&Organisation> {
        let address = address.trim().to_ascii_lowercase();
        let domain = address.rsplit_once('@').map(|(_, d)| format!("@{d}"))?;
        let allows = |want: &str| {
            self.organisations.iter().find(|o| {
                o.role == Role::Referrer
                    && o.email_senders.iter().any(|s| s.eq_ignore_ascii_case(want))
            })
        };
        allows(&address).or_else(|| allows(&domain))
    }

    /// The organisation with this id, if configured.
    pub fn organisation(&self, id: &OrgId) -> Option<&Organisation> {
        self.organisations.iter().find(|o| &o.id == id)
    }

    fn provider(&self, id: &OrgId) -> Option<&Organisation> {
        self.organisation(id).filter(|o| o.role == Role::Provider)
    }
}

/// A plausible single address (`local@domain.tld`): no spaces, angle brackets or line
/// breaks, which also keeps configured addresses out of header injection.
pub fn is_address(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && s.chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '<' | '>' | ',' | ';' | '"'))
        && !domain.contains('@')
}

/// An absolute `https://host[:port]/path` URL, as push delivery needs: never plain
/// HTTP, because the message carries patient data.
pub fn is_push_url(s: &str) -> bool {
    s.parse::<awc::http::Uri>()
        .is_ok_and(|u| u.scheme_str() == Some("https") && u.host().is_some_and(|h| !h.is_empty()))
        && !s.chars().any(char::is_whitespace)
}

/// `REFGATE__SERVER__LISTEN=x` sets `server.listen`. Values are read as TOML when they
/// parse (numbers, booleans, arrays) and as strings otherwise.
fn apply_env_overrides(table: &mut toml::Table, vars: impl Iterator<Item = (String, String)>) {
    for (name, raw) in vars {
        let Some(rest) = name.strip_prefix("REFGATE__") else {
            continue;
        };
        let keys: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
        let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or(toml::Value::String(raw));
        let mut cur = &mut *table;
        for (i, key) in keys.iter().enumerate() {
            if i + 1 == keys.len() {
                cur.insert(key.clone(), value.clone());
            } else {
                let entry = cur
                    .entry(key.clone())
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()));
                let toml::Value::Table(next) = entry else {
                    break;
                };
                cur = next;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_nested_keys_with_typed_values() {
        let mut t: toml::Table = toml::from_str("[server]\nlisten = \"127.0.0.1:1\"").unwrap();
        let vars = vec![
            (
                "REFGATE__SERVER__LISTEN".to_owned(),
                "0.0.0.0:9443".to_owned(),
            ),
            ("REFGATE__SERVER__WORKERS".to_owned(), "4".to_owned()),
            ("OTHER".to_owned(), "x".to_owned()),
        ];
        apply_env_overrides(&mut t, vars.into_iter());
        assert_eq!(t["server"]["listen"].as_str(), Some("0.0.0.0:9443"));
        assert_eq!(t["server"]["workers"].as_integer(), Some(4));
        assert!(!t.contains_key("other"));
    }

    #[test]
    fn addresses_are_single_plain_addresses() {
        assert!(is_address("msk.secretary@nhs.net"));
        for bad in [
            "",
            "nhs.net",
            "@nhs.net",
            "a@b",
            "a b@nhs.net",
            "a@nhs.net\r\nBcc: x@y.z",
            "<a@nhs.net>",
            "a@b.c,d@e.f",
        ] {
            assert!(!is_address(bad), "{bad:?}");
        }
    }

    #[test]
    fn mesh_settings_errors_name_the_key() {
        let tmp = tempfile::tempdir().unwrap();
        let report = crate::init::init(tmp.path()).unwrap();
        let base = Settings::load(&report.config).unwrap();
        let index = |id: &str| {
            base.organisations
                .iter()
                .position(|o| o.id.as_str() == id)
                .unwrap()
        };
        let (msk, north, ops) = (index("RCB55"), index("TTNORTH"), index("OPS"));
        let key_of = |s: &Settings| match s.validate() {
            Err(ConfigError::Invalid { key, .. }) => key,
            other => panic!("expected an invalid key, got {other:?}"),
        };
        let mut s = base.clone();
        s.organisations[msk].mesh_password_file = None;
        assert_eq!(
            key_of(&s),
            format!("organisations[{msk}].mesh_password_file")
        );
        let mut s = base.clone();
        s.organisations[north].mesh_mailbox = s.organisations[msk].mesh_mailbox.clone();
        let later = msk.max(north);
        assert_eq!(key_of(&s), format!("organisations[{later}].mesh_mailbox"));
        let mut s = base.clone();
        s.organisations[msk].mesh_mailbox = Some(MailboxId::parse("REFGATE").unwrap());
        assert_eq!(key_of(&s), format!("organisations[{msk}].mesh_mailbox"));
        let mut s = base.clone();
        s.organisations[ops].mesh_mailbox = Some(MailboxId::parse("OPSMB1").unwrap());
        s.organisations[ops].mesh_password_file = s.organisations[msk].mesh_password_file.clone();
        assert_eq!(key_of(&s), format!("organisations[{ops}].mesh_mailbox"));
        let mut s = base.clone();
        if let Some(m) = s.mesh.as_mut() {
            m.shared_key_file = tmp.path().join("missing.key");
        }
        assert_eq!(key_of(&s), "mesh.shared_key_file");
        let mut s = base.clone();
        if let Some(m) = s.mesh.as_mut() {
            m.max_clock_skew_minutes = 0;
        }
        assert_eq!(key_of(&s), "mesh.max_clock_skew_minutes");
        // A lower-case mailbox id is refused when the file is read, naming the key.
        let text = std::fs::read_to_string(&report.config)
            .unwrap()
            .replace("mesh_mailbox = \"RCB55MB1\"", "mesh_mailbox = \"rcb55mb1\"");
        std::fs::write(&report.config, text).unwrap();
        let err = Settings::load(&report.config).unwrap_err().to_string();
        assert!(err.contains("mesh_mailbox"), "{err}");
    }

    #[test]
    fn push_settings_errors_name_the_key() {
        let tmp = tempfile::tempdir().unwrap();
        let report = crate::init::init(tmp.path()).unwrap();
        let base = Settings::load(&report.config).unwrap();
        let north = base
            .organisations
            .iter()
            .position(|o| o.id.as_str() == "TTNORTH")
            .unwrap();
        let key_of = |s: &Settings| match s.validate() {
            Err(ConfigError::Invalid { key, .. }) => key,
            other => panic!("expected an invalid key, got {other:?}"),
        };
        let push = PushSettings {
            client_cert: report.pki.gateway.0.clone(),
            client_key: report.pki.gateway.1.clone(),
            ca: report.pki.ca.clone(),
            max_attempts: 10,
            timeout_secs: 30,
            first_retry_ms: 1000,
            max_retry_secs: 3600,
            poll_interval_ms: 1000,
            concurrency: 8,
        };
        let mut s = base.clone();
        s.organisations[north].delivery = Delivery::Push;
        s.organisations[north].push_url =
            Some("https://provider.example/fhir/$process-message".into());
        assert_eq!(
            key_of(&s),
            format!("organisations[{north}].delivery"),
            "needs [push]"
        );
        s.push = Some(push.clone());
        s.validate().unwrap();
        for bad in [
            "http://provider.example/x",
            "provider.example/x",
            "https:///x",
        ] {
            s.organisations[north].push_url = Some(bad.into());
            assert_eq!(
                key_of(&s),
                format!("organisations[{north}].push_url"),
                "{bad}"
            );
        }
        let mut s = base.clone();
        s.organisations[north].push_url = Some("https://provider.example/x".into());
        assert_eq!(
            key_of(&s),
            format!("organisations[{north}].push_url"),
            "inbox delivery"
        );
        let mut s = base.clone();
        s.push = Some(PushSettings {
            client_key: tmp.path().join("missing.pem"),
            ..push.clone()
        });
        assert_eq!(key_of(&s), "push.client_key");
        s.push = Some(PushSettings {
            max_attempts: 0,
            ..push
        });
        assert_eq!(key_of(&s), "push.max_attempts");
    }
}
