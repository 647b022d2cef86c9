//! rustls configuration and client-certificate identity. (Stand-in until the TLS work lands.)
use std::path::Path;

/// SHA-256 of a certificate's DER.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct CertFingerprint(pub [u8; 32]);

/// The client certificate presented on this connection, if any.
#[derive(Clone, Copy, Debug)]
pub struct PeerCert(pub Option<CertFingerprint>);

/// Stand-in.
pub fn fingerprint_of_pem_file(_p: &Path) -> Result<CertFingerprint, std::io::Error> {
    Ok(CertFingerprint([0; 32]))
}
/// Stand-in.
pub fn install_crypto_provider() {}
/// Stand-in.
pub fn server_config(
    _t: &crate::config::TlsSettings,
) -> Result<rustls::ServerConfig, std::io::Error> {
    Err(std::io::Error::other("stand-in"))
}
/// Stand-in.
pub fn on_connect(_conn: &dyn std::any::Any, _ext: &mut actix_web::dev::Extensions) {}
