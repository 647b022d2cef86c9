//! rustls configuration and client-certificate identity.
//!
//! Inputs: PEM files named in `[tls]` (server chain and key, the CA that issues
//! organisations' client certificates). Outputs: a rustls `ServerConfig` for the HTTPS
//! listener, a [`PeerCert`] per connection for the API's authentication, and a
//! `ClientConfig` for tests and the benchmark.
//!
//! The server asks every client for a certificate but also lets connections without one
//! through, so that the HTTP layer can answer 401 with a FHIR OperationOutcome (a TLS
//! alert cannot carry one). A certificate that *is* presented must chain to the client
//! CA or the handshake fails. Identity is the SHA-256 fingerprint of the leaf
//! certificate, looked up in the configured organisations; nothing here decides what a
//! caller may do.

use std::any::Any;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use actix_tls::accept::rustls_0_23::TlsStream;
use actix_web::dev::Extensions;
use actix_web::rt::net::TcpStream;
use rustls::crypto::{CryptoProvider, ring};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig, SupportedProtocolVersion};
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use sha2::{Digest, Sha256};

/// TLS 1.3 and 1.2 only. rustls implements nothing older, and listing the versions
/// keeps a future default change from widening what the gateway accepts.
pub const PROTOCOL_VERSIONS: &[&SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// SHA-256 of a certificate's DER: how a client certificate maps to an organisation.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CertFingerprint(pub [u8; 32]);

impl CertFingerprint {
    /// The fingerprint of one DER-encoded certificate.
    #[must_use]
    pub fn of_der(der: &[u8]) -> Self {
        Self(Sha256::digest(der).into())
    }
}

impl fmt::Display for CertFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

// A fingerprint is public (it is derived from a certificate sent in the clear), so the
// hex form is safe in logs and easier to compare with `openssl x509 -fingerprint`.
impl fmt::Debug for CertFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The client certificate presented on this connection, if any.
#[derive(Clone, Copy, Debug)]
pub struct PeerCert(pub Option<CertFingerprint>);

/// A TLS file or setting that cannot be used. Each message names the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not valid PEM")]
    Pem {
        path: PathBuf,
        #[source]
        source: pem::Error,
    },
    #[error("{path}: no certificate found (expected a PEM \"CERTIFICATE\" block)")]
    NoCertificate { path: PathBuf },
    #[error("{path}: no private key found (expected a PEM PKCS#8, PKCS#1 or SEC1 key)")]
    NoKey { path: PathBuf },
    #[error("{path}: certificate cannot be used as a trust anchor")]
    BadCa {
        path: PathBuf,
        #[source]
        source: rustls::Error,
    },
    #[error("{path}: cannot build the client certificate verifier")]
    Verifier {
        path: PathBuf,
        #[source]
        source: rustls::server::VerifierBuilderError,
    },
    #[error("{key} is not a usable private key for the certificate in {cert}")]
    KeyMismatch {
        cert: PathBuf,
        key: PathBuf,
        #[source]
        source: rustls::Error,
    },
    #[error("a client certificate needs both a certificate file and a key file")]
    IncompleteIdentity,
    #[error("certificate does not chain to the client CA {ca}")]
    Untrusted {
        ca: PathBuf,
        #[source]
        source: rustls::Error,
    },
    #[error("the crypto provider does not support TLS 1.2 and 1.3")]
    Versions(#[source] rustls::Error),
}

/// Makes ring the process-wide rustls provider. Configs built here name their provider
/// explicitly; this is for libraries that call `builder()` and would panic if a stray
/// dependency ever enabled a second provider.
pub fn install_crypto_provider() {
    // Err only means a provider is already installed (an earlier call, another test).
    let _ = ring::default_provider().install_default();
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

/// The HTTPS listener's configuration: TLS 1.2/1.3, the server chain from `t.cert` and
/// `t.key`, optional client certificates that must chain to `t.client_ca`, ALPN `h2`
/// and `http/1.1`.
///
/// # Errors
/// [`TlsError`] naming the file that is missing, holds no certificate or key, or whose
/// key does not fit the certificate.
pub fn server_config(t: &crate::config::TlsSettings) -> Result<ServerConfig, TlsError> {
    let provider = provider();
    let verifier = client_verifier(&t.client_ca, provider.clone())?;
    let chain = load_certs(&t.cert)?;
    let key = load_key(&t.key)?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(PROTOCOL_VERSIONS)
        .map_err(TlsError::Versions)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|source| TlsError::KeyMismatch {
            cert: t.cert.clone(),
            key: t.key.clone(),
            source,
        })?;
    // actix-web prepends the protocols it was built with; listing both keeps the config
    // complete when used outside actix (tests, other listeners).
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// The inbound SMTP listener's STARTTLS configuration: the same server chain and
/// TLS 1.2/1.3 as HTTPS, but no client certificates (mail senders are identified by
/// their allow-listed address) and no ALPN.
///
/// # Errors
/// [`TlsError`] naming the file that is missing or holds no certificate or key, or
/// whose key does not fit the certificate.
pub fn smtp_server_config(t: &crate::config::TlsSettings) -> Result<ServerConfig, TlsError> {
    ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(PROTOCOL_VERSIONS)
        .map_err(TlsError::Versions)?
        .with_no_client_auth()
        .with_single_cert(load_certs(&t.cert)?, load_key(&t.key)?)
        .map_err(|source| TlsError::KeyMismatch {
            cert: t.cert.clone(),
            key: t.key.clone(),
            source,
        })
}

/// Verifies presented client certificates against `ca`; connections without one pass,
/// so that the HTTP layer can refuse them with a readable 401.
fn client_verifier(
    ca: &Path,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<dyn ClientCertVerifier>, TlsError> {
    WebPkiClientVerifier::builder_with_provider(Arc::new(root_store(ca)?), provider)
        .allow_unauthenticated()
        .build()
        .map_err(|source| TlsError::Verifier {
            path: ca.to_owned(),
            source,
        })
}

/// `actix_web::HttpServer::on_connect` hook: records the fingerprint of the client's
/// leaf certificate (or its absence) for [`crate::api::auth`].
pub fn on_connect(conn: &dyn Any, ext: &mut Extensions) {
    let fingerprint = conn
        .downcast_ref::<TlsStream<TcpStream>>()
        .and_then(|tls| tls.get_ref().1.peer_certificates())
        .and_then(|chain| chain.first())
        .map(|leaf| CertFingerprint::of_der(leaf));
    // Inserted even when absent, so a handler can tell "no certificate" from a listener
    // that never ran this hook.
    ext.insert(PeerCert(fingerprint));
}

/// The fingerprint of the first certificate in a PEM file (an organisation's
/// `client_cert`).
///
/// # Errors
/// [`TlsError`] when the file cannot be read or holds no certificate.
pub fn fingerprint_of_pem_file(p: &Path) -> Result<CertFingerprint, TlsError> {
    let certs = load_certs(p)?;
    // load_certs never returns an empty list.
    let leaf = certs
        .first()
        .ok_or_else(|| TlsError::NoCertificate { path: p.into() })?;
    Ok(CertFingerprint::of_der(leaf))
}

/// Checks that `chain` (leaf first, then any intermediates) would be accepted now as a
/// client certificate by a server trusting `ca`; returns the leaf's fingerprint.
///
/// # Errors
/// [`TlsError::Untrusted`] with the webpki reason, or a [`TlsError`] for the CA file.
pub fn verify_client_chain(
    ca: &Path,
    chain: &[CertificateDer<'_>],
) -> Result<CertFingerprint, TlsError> {
    let verifier = client_verifier(ca, provider())?;
    let untrusted = |source| TlsError::Untrusted {
        ca: ca.to_owned(),
        source,
    };
    let (leaf, intermediates) = chain
        .split_first()
        .ok_or_else(|| untrusted(rustls::Error::NoCertificatesPresented))?;
    verifier
        .verify_client_cert(leaf, intermediates, UnixTime::now())
        .map_err(untrusted)?;
    Ok(CertFingerprint::of_der(leaf))
}

/// [`verify_client_chain`] for a PEM file.
///
/// # Errors
/// As [`verify_client_chain`], or a [`TlsError`] for the certificate file.
pub fn verify_client_cert_file(ca: &Path, cert: &Path) -> Result<CertFingerprint, TlsError> {
    verify_client_chain(ca, &load_certs(cert)?)
}

/// A client configuration trusting only `ca`, presenting `cert` + `key` when given.
/// TLS 1.2/1.3, ALPN `http/1.1` (the tests' client speaks HTTP/1.1).
///
/// # Errors
/// [`TlsError`] for an unreadable file, a key that does not fit the certificate, or
/// only one of `cert` and `key`.
pub fn client_config(
    ca: &Path,
    cert: Option<&Path>,
    key: Option<&Path>,
) -> Result<ClientConfig, TlsError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(PROTOCOL_VERSIONS)
        .map_err(TlsError::Versions)?
        .with_root_certificates(root_store(ca)?);
    let mut config = match (cert, key) {
        (Some(cert), Some(key)) => builder
            .with_client_auth_cert(load_certs(cert)?, load_key(key)?)
            .map_err(|source| TlsError::KeyMismatch {
                cert: cert.to_owned(),
                key: key.to_owned(),
                source,
            })?,
        (None, None) => builder.with_no_client_auth(),
        _ => return Err(TlsError::IncompleteIdentity),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Every certificate in a PEM file, in order; at least one.
fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<CertificateDer<'static>>, _>>()
        .map_err(|source| TlsError::Pem {
            path: path.to_owned(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

/// The first private key in a PEM file.
fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read(path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        pem::Error::NoItemsFound => TlsError::NoKey {
            path: path.to_owned(),
        },
        source => TlsError::Pem {
            path: path.to_owned(),
            source,
        },
    })
}

fn root_store(ca: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs(ca)? {
        roots.add(cert).map_err(|source| TlsError::BadCa {
            path: ca.to_owned(),
            source,
        })?;
    }
    Ok(roots)
}

/// An in-memory handshake between rustls endpoints, for tests of this and other modules.
#[cfg(test)]
pub(crate) mod testing {
    use std::sync::Arc;

    use rustls::{ClientConfig, ClientConnection, Connection, ServerConfig, ServerConnection};
    use rustls_pki_types::ServerName;

    /// Runs a full handshake against the name `localhost`; returns the server side, or
    /// the first error either side reports.
    pub(crate) fn handshake(
        client: ClientConfig,
        server: ServerConfig,
    ) -> Result<ServerConnection, rustls::Error> {
        let name =
            ServerName::try_from("localhost").map_err(|_| rustls::Error::General("name".into()))?;
        let mut c = Connection::from(ClientConnection::new(Arc::new(client), name)?);
        let mut s = Connection::from(ServerConnection::new(Arc::new(server))?);
        for _ in 0..16 {
            pump(&mut c, &mut s)?;
            pump(&mut s, &mut c)?;
            if !c.is_handshaking() && !s.is_handshaking() && !c.wants_write() {
                return match s {
                    Connection::Server(s) => Ok(s),
                    Connection::Client(_) => Err(rustls::Error::General("role".into())),
                };
            }
        }
        Err(rustls::Error::General("handshake did not finish".into()))
    }

    /// Moves every pending TLS record from `from` to `to` and lets `to` process them.
    fn pump(from: &mut Connection, to: &mut Connection) -> Result<(), rustls::Error> {
        let mut wire = Vec::new();
        while from.wants_write() {
            from.write_tls(&mut wire)
                .map_err(|e| rustls::Error::General(e.to_string()))?;
        }
        let mut rd = &wire[..];
        while !rd.is_empty() {
            to.read_tls(&mut rd)
                .map_err(|e| rustls::Error::General(e.to_string()))?;
            to.process_new_packets()?;
        }
        to.process_new_packets()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rustls::{PeerIncompatible, ProtocolVersion, ServerConnection};
    use tempfile::TempDir;

    use super::testing::handshake;
    use super::*;
    use crate::config::TlsSettings;
    use crate::domain::OrgId;
    use crate::init::{PkiPaths, write_dev_pki};

    fn pki() -> (TempDir, PkiPaths) {
        let dir = tempfile::tempdir().unwrap();
        let orgs = [
            OrgId::parse("RCB55").unwrap(),
            OrgId::parse("TTNORTH").unwrap(),
        ];
        let pki = write_dev_pki(dir.path(), &orgs).unwrap();
        (dir, pki)
    }

    fn settings(pki: &PkiPaths) -> TlsSettings {
        TlsSettings {
            cert: pki.server_cert.clone(),
            key: pki.server_key.clone(),
            client_ca: pki.ca.clone(),
        }
    }

    fn org(pki: &PkiPaths, id: &str) -> (PathBuf, PathBuf) {
        pki.orgs[&OrgId::parse(id).unwrap()].clone()
    }

    fn client_as(pki: &PkiPaths, id: &str) -> ClientConfig {
        let (cert, key) = org(pki, id);
        client_config(&pki.ca, Some(&cert), Some(&key)).unwrap()
    }

    fn client_with_versions(
        pki: &PkiPaths,
        id: &str,
        versions: &[&'static SupportedProtocolVersion],
    ) -> ClientConfig {
        let (cert, key) = org(pki, id);
        ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(root_store(&pki.ca).unwrap())
            .with_client_auth_cert(load_certs(&cert).unwrap(), load_key(&key).unwrap())
            .unwrap()
    }

    fn peer_fingerprint(conn: &ServerConnection) -> Option<CertFingerprint> {
        conn.peer_certificates()
            .and_then(|c| c.first())
            .map(|c| CertFingerprint::of_der(c))
    }

    #[test]
    fn fingerprint_is_stable_and_differs_between_certificates() {
        let (_dir, pki) = pki();
        let (msk, _) = org(&pki, "RCB55");
        let (north, _) = org(&pki, "TTNORTH");
        let a = fingerprint_of_pem_file(&msk).unwrap();
        assert_eq!(a, fingerprint_of_pem_file(&msk).unwrap());
        assert_ne!(a, fingerprint_of_pem_file(&north).unwrap());
        let der = CertificateDer::from_pem_file(&msk).unwrap();
        assert_eq!(a.0, <[u8; 32]>::from(Sha256::digest(der.as_ref())));
    }

    #[test]
    fn fingerprint_prints_as_lowercase_hex() {
        let fp = CertFingerprint([0xAB; 32]);
        assert_eq!(fp.to_string(), "ab".repeat(32));
        assert_eq!(format!("{fp:?}"), fp.to_string());
    }

    #[test]
    fn a_client_with_a_certificate_is_identified_by_its_fingerprint() {
        let (_dir, pki) = pki();
        let server = server_config(&settings(&pki)).unwrap();
        let conn = handshake(client_as(&pki, "RCB55"), server).unwrap();
        let expected = fingerprint_of_pem_file(&org(&pki, "RCB55").0).unwrap();
        assert_eq!(peer_fingerprint(&conn), Some(expected));
    }

    #[test]
    fn a_client_without_a_certificate_is_let_through_anonymously() {
        let (_dir, pki) = pki();
        let server = server_config(&settings(&pki)).unwrap();
        let client = client_config(&pki.ca, None, None).unwrap();
        let conn = handshake(client, server).unwrap();
        assert_eq!(peer_fingerprint(&conn), None);
    }

    #[test]
    fn a_certificate_from_another_ca_fails_the_handshake() {
        let (_dir, pki) = pki();
        let (_other_dir, other) = self::pki();
        let server = server_config(&settings(&pki)).unwrap();
        let (cert, key) = org(&other, "RCB55");
        // Trust our server, present the foreign CA's client certificate.
        let client = client_config(&pki.ca, Some(&cert), Some(&key)).unwrap();
        assert!(handshake(client, server).is_err());
        assert!(verify_client_cert_file(&pki.ca, &cert).is_err());
        assert!(verify_client_cert_file(&other.ca, &cert).is_ok());
    }

    #[test]
    fn server_negotiates_tls_1_3_and_1_2_with_client_certificates() {
        let (_dir, pki) = pki();
        for (versions, expected) in [
            (&[&rustls::version::TLS13][..], ProtocolVersion::TLSv1_3),
            (&[&rustls::version::TLS12][..], ProtocolVersion::TLSv1_2),
        ] {
            let server = server_config(&settings(&pki)).unwrap();
            let conn = handshake(client_with_versions(&pki, "RCB55", versions), server).unwrap();
            assert_eq!(conn.protocol_version(), Some(expected));
            assert!(peer_fingerprint(&conn).is_some());
        }
    }

    /// A minimal ClientHello offering only `version` (no supported_versions extension),
    /// as an old TLS 1.0/1.1 client sends it.
    fn legacy_client_hello(version: [u8; 2]) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&version);
        body.extend_from_slice(&[0x11; 32]); // random
        body.push(0); // session id
        body.extend_from_slice(&[0x00, 0x04, 0xc0, 0x09, 0xc0, 0x13]); // ECDHE CBC suites
        body.extend_from_slice(&[0x01, 0x00]); // null compression
        let ext = [
            0x00, 0x0a, 0x00, 0x04, 0x00, 0x02, 0x00, 0x17, // supported_groups: P-256
            0x00, 0x0b, 0x00, 0x02, 0x01, 0x00, // ec_point_formats: uncompressed
            0x00, 0x0d, 0x00, 0x04, 0x00, 0x02, 0x04, 0x03, // signature_algorithms
        ];
        body.extend_from_slice(&u16::try_from(ext.len()).unwrap().to_be_bytes());
        body.extend_from_slice(&ext);
        let mut hs = vec![0x01, 0x00];
        hs.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
        hs.extend_from_slice(&body);
        let mut record = vec![0x16, version[0], version[1]];
        record.extend_from_slice(&u16::try_from(hs.len()).unwrap().to_be_bytes());
        record.extend_from_slice(&hs);
        record
    }

    #[test]
    fn server_refuses_tls_1_0_and_1_1_clients() {
        let (_dir, pki) = pki();
        for version in [[3, 1], [3, 2]] {
            let server = Arc::new(server_config(&settings(&pki)).unwrap());
            let mut conn = ServerConnection::new(server).unwrap();
            let hello = legacy_client_hello(version);
            conn.read_tls(&mut &hello[..]).unwrap();
            let err = conn.process_new_packets().unwrap_err();
            assert_eq!(
                err,
                rustls::Error::PeerIncompatible(PeerIncompatible::Tls12NotOffered),
                "{version:?}"
            );
        }
    }

    #[test]
    fn server_config_offers_h2_and_http_1_1() {
        let (_dir, pki) = pki();
        let server = server_config(&settings(&pki)).unwrap();
        assert_eq!(
            server.alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );
        let client = client_config(&pki.ca, None, None).unwrap();
        assert_eq!(client.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }

    #[test]
    fn server_config_errors_name_the_file_at_fault() {
        let (dir, pki) = pki();
        let missing = dir.path().join("nowhere.pem");
        let mut t = settings(&pki);
        t.cert = missing.clone();
        let err = server_config(&t).unwrap_err();
        assert!(matches!(err, TlsError::Read { .. }), "{err:?}");
        assert!(err.to_string().contains("nowhere.pem"), "{err}");

        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let mut t = settings(&pki);
        t.client_ca = empty.clone();
        let err = server_config(&t).unwrap_err();
        assert!(matches!(err, TlsError::NoCertificate { .. }), "{err:?}");
        assert!(err.to_string().contains("empty.pem"), "{err}");

        let mut t = settings(&pki);
        t.key = pki.server_cert.clone();
        let err = server_config(&t).unwrap_err();
        assert!(matches!(err, TlsError::NoKey { .. }), "{err:?}");

        let mut t = settings(&pki);
        t.key = org(&pki, "RCB55").1;
        let err = server_config(&t).unwrap_err();
        assert!(matches!(err, TlsError::KeyMismatch { .. }), "{err:?}");
        assert!(err.to_string().contains("RCB55-key.pem"), "{err}");
    }

    #[test]
    fn client_config_needs_both_cert_and_key() {
        let (_dir, pki) = pki();
        let (cert, _) = org(&pki, "RCB55");
        let err = client_config(&pki.ca, Some(&cert), None).unwrap_err();
        assert!(matches!(err, TlsError::IncompleteIdentity));
    }

    #[test]
    fn install_crypto_provider_is_idempotent() {
        install_crypto_provider();
        install_crypto_provider();
        assert!(CryptoProvider::get_default().is_some());
    }
}
