//! MESH authorisation: the `NHSMESH` header on top of mutual TLS.
//!
//! `Authorization: NHSMESH mailbox:nonce:count:timestamp:hash`, where hash is the
//! lower-case hex HMAC-SHA256, keyed by the MESH shared secret, of
//! `mailbox:nonce:count:password:timestamp` (standards.md §1.2). A request passes only
//! when the client certificate names an organisation, the path mailbox, the token
//! mailbox and that organisation's mailbox are one and the same, the HMAC matches
//! (compared in constant time), the timestamp is inside the clock window, and the
//! token (mailbox, nonce, count) was never used before; uses are kept in the store, so
//! a replay after a restart is refused too. Every failure is 403, as MESH answers,
//! so a caller learns nothing about which check failed; the reason is logged.

use std::collections::HashMap;
use std::path::Path;

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use futures_util::future::LocalBoxFuture;
use ring::hmac;
use secrecy::{ExposeSecret, SecretString};

use super::AppState;
use super::auth::Caller;
use super::mesh_error::MeshError;
use crate::config::{Role, Settings};
use crate::domain::{MailboxId, OrgId};
use crate::store::MeshTokenUse;
use crate::telemetry::events::AuthDenied;

/// One organisation's mailbox.
struct Account {
    org: OrgId,
    role: Role,
    password: SecretString,
}

/// The MESH mailboxes and the secrets that check their tokens. Built once at start-up.
pub struct MeshDirectory {
    key: hmac::Key,
    window: Duration,
    /// Referrers send referrals here; `mex-From` of referrals from organisations
    /// without a mailbox of their own.
    pub intake_mailbox: MailboxId,
    /// `mex-WorkflowID` of referrals.
    pub workflow_id: String,
    accounts: HashMap<MailboxId, Account>,
    by_org: HashMap<OrgId, MailboxId>,
}

/// A MESH secret file that cannot be used. Names the configuration key.
#[derive(Debug, thiserror::Error)]
pub enum MeshConfigError {
    #[error("{key}: cannot read the file")]
    Read {
        key: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{key}: the file is empty")]
    Empty { key: String },
}

fn read_secret(path: &Path, key: String) -> Result<SecretString, MeshConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| MeshConfigError::Read {
        key: key.clone(),
        source,
    })?;
    // Editors and `echo` add a final newline; it is not part of the secret.
    let secret = text.trim_end_matches(['\r', '\n']);
    if secret.is_empty() {
        return Err(MeshConfigError::Empty { key });
    }
    Ok(SecretString::from(secret.to_owned()))
}

impl MeshDirectory {
    /// Reads the shared secret and every mailbox password. `None` when MESH is off.
    ///
    /// # Errors
    /// [`MeshConfigError`] naming the key whose file cannot be used.
    pub fn load(settings: &Settings) -> Result<Option<Self>, MeshConfigError> {
        let Some(mesh) = settings.mesh.as_ref().filter(|m| m.enabled) else {
            return Ok(None);
        };
        let shared = read_secret(&mesh.shared_key_file, "mesh.shared_key_file".into())?;
        let mut accounts = HashMap::new();
        let mut by_org = HashMap::new();
        for (i, org) in settings.organisations.iter().enumerate() {
            let (Some(mailbox), Some(file)) = (&org.mesh_mailbox, &org.mesh_password_file) else {
                continue;
            };
            let password = read_secret(file, format!("organisations[{i}].mesh_password_file"))?;
            let account = Account {
                org: org.id.clone(),
                role: org.role,
                password,
            };
            accounts.insert(mailbox.clone(), account);
            by_org.insert(org.id.clone(), mailbox.clone());
        }
        Ok(Some(Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, shared.expose_secret().as_bytes()),
            window: Duration::minutes(i64::from(mesh.max_clock_skew_minutes)),
            intake_mailbox: mesh.intake_mailbox.clone(),
            workflow_id: mesh.workflow_id.clone(),
            accounts,
            by_org,
        }))
    }

    /// The mailbox of `org`, if it has one.
    pub fn mailbox_of(&self, org: &OrgId) -> Option<&MailboxId> {
        self.by_org.get(org)
    }
}

/// The parts of an `NHSMESH` authorisation header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token<'a> {
    pub mailbox: &'a str,
    pub nonce: &'a str,
    pub count: &'a str,
    pub timestamp: &'a str,
    pub hash: &'a str,
}

impl<'a> Token<'a> {
    /// Splits the header value; `None` unless it is `NHSMESH ` and five non-empty parts.
    pub fn parse(header: &'a str) -> Option<Self> {
        let rest = header.strip_prefix("NHSMESH ")?;
        let mut parts = rest.split(':');
        let mut next = || parts.next().filter(|p| !p.is_empty());
        let token = Token {
            mailbox: next()?,
            nonce: next()?,
            count: next()?,
            timestamp: next()?,
            hash: next()?,
        };
        parts.next().is_none().then_some(token)
    }

    /// Whether the hash is the HMAC of this token with `password`, compared in
    /// constant time (`ring::hmac::verify`).
    pub fn hmac_matches(&self, key: &hmac::Key, password: &str) -> bool {
        let Ok(given) = hex::decode(self.hash) else {
            return false;
        };
        let message = format!(
            "{}:{}:{}:{}:{}",
            self.mailbox, self.nonce, self.count, password, self.timestamp
        );
        hmac::verify(key, message.as_bytes(), &given).is_ok()
    }

    /// The token's time (`yyyyMMddHHmm`, UTC).
    pub fn time(&self) -> Option<DateTime<Utc>> {
        if self.timestamp.len() != 12 {
            return None;
        }
        NaiveDateTime::parse_from_str(self.timestamp, "%Y%m%d%H%M")
            .ok()
            .map(|t| t.and_utc())
    }
}

/// A caller that passed every MESH check, acting for its own mailbox.
#[derive(Debug, Clone)]
pub struct MeshCaller {
    pub org: OrgId,
    pub role: Role,
    pub mailbox: MailboxId,
}

impl FromRequest for MeshCaller {
    type Error = MeshError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let caller = Caller::from_request(req, payload).into_inner();
        let req = req.clone();
        Box::pin(async move { authorise(&req, caller.ok()).await })
    }
}

async fn authorise(req: &HttpRequest, caller: Option<Caller>) -> Result<MeshCaller, MeshError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or(MeshError::Forbidden)?;
    let Some(mesh) = state.mesh.as_deref() else {
        return Err(MeshError::NotFound);
    };
    // Mutual TLS first: the MESH token never stands in for the certificate. The
    // certificate check has already reported its own refusal.
    let caller = caller.ok_or(MeshError::Forbidden)?;
    let checked = check(req, mesh, &caller, state.deliver.clock.now());
    let (mailbox, role, token_use) = checked.map_err(|reason| {
        AuthDenied {
            reason,
            org: Some(caller.org.clone()),
        }
        .emit(&state.metrics);
        MeshError::Forbidden
    })?;
    // Recorded last, after the HMAC, so nobody without the password can fill the
    // store with nonces.
    let fresh = state
        .deliver
        .store
        .use_mesh_token(token_use)
        .await
        .map_err(|e| MeshError::internal(e, &state.metrics))?;
    if !fresh {
        AuthDenied {
            reason: "mesh-replayed-token",
            org: Some(caller.org.clone()),
        }
        .emit(&state.metrics);
        return Err(MeshError::Forbidden);
    }
    Ok(MeshCaller {
        org: caller.org,
        role,
        mailbox,
    })
}

/// Every check that needs no store: the mailboxes agree, the HMAC matches, the time is
/// inside the window. Gives the token use to record, or the reason for refusing.
fn check(
    req: &HttpRequest,
    mesh: &MeshDirectory,
    caller: &Caller,
    now: DateTime<Utc>,
) -> Result<(MailboxId, Role, MeshTokenUse), &'static str> {
    let mailbox = req
        .match_info()
        .get("mailbox")
        .and_then(|m| MailboxId::parse_from_client(m).ok())
        .ok_or("mesh-unknown-mailbox")?;
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or("mesh-no-token")?;
    let token = Token::parse(header).ok_or("mesh-malformed-token")?;
    // The nonce is stored: a GUID is 36 characters, so anything far longer is not one.
    if token.nonce.len() > 128 {
        return Err("mesh-malformed-token");
    }
    if !token.mailbox.eq_ignore_ascii_case(mailbox.as_str()) {
        return Err("mesh-token-mailbox-mismatch");
    }
    let account = mesh.accounts.get(&mailbox).ok_or("mesh-unknown-mailbox")?;
    if account.org != caller.org {
        return Err("mesh-other-organisations-mailbox");
    }
    // The HMAC input uses the mailbox exactly as the client wrote it in the token.
    if !token.hmac_matches(&mesh.key, account.password.expose_secret()) {
        return Err("mesh-bad-hmac");
    }
    let at = token.time().ok_or("mesh-malformed-token")?;
    if (now - at).abs() > mesh.window {
        return Err("mesh-stale-token");
    }
    let nonce_count = token.count.parse().map_err(|_| "mesh-malformed-token")?;
    let token_use = MeshTokenUse {
        mailbox: mailbox.clone(),
        nonce: token.nonce.to_owned(),
        nonce_count,
        expires_at: at + mesh.window,
        now,
    };
    Ok((mailbox, account.role, token_use))
}

#[cfg(test)]
mod tests {
    use super::*;

    const VECTOR: &str = "NHSMESH X26ABC1:3f2504e0-4f89-11d3-9a0c-0305e82c3301:0:202401011200:b8e2b8742669843130ca997e0cdb57f68859a1813bf9364cff19c37dbacd7021";

    fn key() -> hmac::Key {
        hmac::Key::new(hmac::HMAC_SHA256, b"TestKey")
    }

    #[test]
    fn the_standards_test_vector_verifies() {
        let token = Token::parse(VECTOR).unwrap();
        assert_eq!(token.mailbox, "X26ABC1");
        assert_eq!(token.count, "0");
        assert!(token.hmac_matches(&key(), "password"));
        assert_eq!(
            token.time().unwrap().to_rfc3339(),
            "2024-01-01T12:00:00+00:00"
        );
    }

    #[test]
    fn a_wrong_password_secret_or_altered_part_fails_the_hmac() {
        let token = Token::parse(VECTOR).unwrap();
        assert!(!token.hmac_matches(&key(), "Password"));
        let other = hmac::Key::new(hmac::HMAC_SHA256, b"OtherKey");
        assert!(!token.hmac_matches(&other, "password"));
        let altered = VECTOR.replace(":0:2024", ":1:2024");
        assert!(
            !Token::parse(&altered)
                .unwrap()
                .hmac_matches(&key(), "password")
        );
        let bad_hex = VECTOR.replace("b8e2", "zzzz");
        assert!(
            !Token::parse(&bad_hex)
                .unwrap()
                .hmac_matches(&key(), "password")
        );
    }

    #[test]
    fn malformed_headers_do_not_parse() {
        for bad in [
            "",
            "Basic abc",
            "NHSMESH ",
            "NHSMESH a:b:c:d",
            "NHSMESH a:b:c:d:e:f",
            "NHSMESH a::c:d:e",
            "nhsmesh a:b:c:d:e",
        ] {
            assert!(Token::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn timestamps_must_be_twelve_digits_of_utc_time() {
        let t = |ts: &'static str| Token {
            mailbox: "M",
            nonce: "n",
            count: "0",
            timestamp: ts,
            hash: "00",
        };
        assert!(t("202401011200").time().is_some());
        assert!(t("20240101120").time().is_none());
        assert!(t("202413011200").time().is_none());
        assert!(t("2024010112000").time().is_none());
    }
}
