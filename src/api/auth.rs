//! Who is calling: the client certificate of the TLS connection, mapped to one
//! configured organisation. No certificate → 401; a certificate not in the
//! configuration → 403. Every handler that touches referrals takes a [`Caller`].

use std::collections::HashMap;
use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};

use super::AppState;
use super::error::ApiError;
use crate::config::Role;
use crate::domain::OrgId;
use crate::telemetry::events::AuthDenied;
use crate::tls::{CertFingerprint, PeerCert};

/// Organisations by the fingerprint of their client certificate.
pub type Directory = HashMap<CertFingerprint, (OrgId, Role)>;

/// The authenticated organisation behind a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub org: OrgId,
    pub role: Role,
}

impl Caller {
    /// Refuses the request unless the caller has `role`.
    ///
    /// # Errors
    /// [`ApiError::Forbidden`].
    pub fn require(&self, role: Role, state: &AppState) -> Result<&OrgId, ApiError> {
        if self.role == role {
            Ok(&self.org)
        } else {
            AuthDenied {
                reason: "wrong-role",
                org: Some(self.org.clone()),
            }
            .emit(&state.metrics);
            Err(ApiError::Forbidden(
                "this organisation's role does not permit this request",
            ))
        }
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(identify(req))
    }
}

fn identify(req: &HttpRequest) -> Result<Caller, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or(ApiError::BadRequest("gateway state missing"))?;
    let Some(PeerCert(Some(fp))) = req.conn_data::<PeerCert>().copied() else {
        AuthDenied {
            reason: "no-certificate",
            org: None,
        }
        .emit(&state.metrics);
        return Err(ApiError::Unauthenticated);
    };
    match state.directory.get(&fp) {
        Some((org, role)) => Ok(Caller {
            org: org.clone(),
            role: *role,
        }),
        None => {
            AuthDenied {
                reason: "unknown-certificate",
                org: None,
            }
            .emit(&state.metrics);
            Err(ApiError::Forbidden(
                "client certificate is not registered to an organisation",
            ))
        }
    }
}
