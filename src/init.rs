//! `refgate init DIR`: a demo configuration and a development PKI, generated on this
//! machine at run time.
//!
//! Output under DIR: `refgate.toml`, `certs/` (a CA, a server certificate for
//! localhost, one client certificate per organisation), `keys/data.key`, the MESH
//! shared secret and mailbox passwords under `keys/mesh/`, `data/` and
//! `example-referral.json`. Private keys are created mode 0600 and no existing file is
//! ever overwritten. Nothing here is fit for production: the CA key sits beside the
//! certificates it signs, so whoever can read DIR can mint identities.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};

use crate::crypto::DataKeys;
use crate::domain::OrgId;

const DEV_ORGANISATION: &str = "refgate development";
/// Fixed, because [`issue_client_cert`] rebuilds the issuer from it: an issued
/// certificate's issuer name must equal the CA's subject byte for byte.
const CA_COMMON_NAME: &str = "refgate development CA";
const GATEWAY_COMMON_NAME: &str = "refgate gateway";
const DAY_SECS: u64 = 86_400;
const CA_DAYS: u64 = 3650;
/// The most browsers and curl's TLS libraries accept for a leaf certificate.
const LEAF_DAYS: u64 = 825;

/// Where [`write_dev_pki`] put each file.
#[derive(Debug, Clone)]
pub struct PkiPaths {
    pub ca: PathBuf,
    pub ca_key: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    /// Client certificate and key per organisation.
    pub orgs: HashMap<OrgId, (PathBuf, PathBuf)>,
    /// The gateway's own client certificate and key, presented when it pushes
    /// referrals to providers (`[push] client_cert`, `client_key`).
    pub gateway: (PathBuf, PathBuf),
}

/// What [`init`] wrote.
#[derive(Debug, Clone)]
pub struct InitReport {
    pub dir: PathBuf,
    pub config: PathBuf,
    pub pki: PkiPaths,
    pub example: PathBuf,
    pub data_key: PathBuf,
    pub store: PathBuf,
    /// The MESH shared secret (`[mesh] shared_key_file`).
    pub mesh_shared_key: PathBuf,
}

/// Demo MESH mailboxes: (organisation, mailbox). The clinic sends by MESH, the
/// providers poll by MESH; each gets a password file in `keys/mesh/`.
pub const DEMO_MAILBOXES: [(&str, &str); 3] = [
    ("RCB55", "RCB55MB1"),
    ("TTNORTH", "TTNORTHMB1"),
    ("TTWEST", "TTWESTMB1"),
];

struct DemoOrg {
    id: &'static str,
    name: &'static str,
    role: &'static str,
    note: &'static str,
    /// Further settings lines for this organisation.
    extra: &'static str,
}

const DEMO_ORGS: [DemoOrg; 5] = [
    DemoOrg {
        id: "RCB55",
        name: "Harrogate District Rheumatology (MSK)",
        role: "referrer",
        note: "An MSK clinic that refers patients with chronic pain. Its secretaries may\n# also email letters to the referral address (see [smtp]).",
        extra: "email_senders = [\"@example.nhs.uk\"]\n",
    },
    DemoOrg {
        id: "B82005",
        name: "Otley Road Surgery",
        role: "referrer",
        note: "A GP practice.",
        extra: "",
    },
    DemoOrg {
        id: "TTNORTH",
        name: "Talking Therapies North",
        role: "provider",
        note: "The default provider (see [routing]).",
        extra: "",
    },
    DemoOrg {
        id: "TTWEST",
        name: "Talking Therapies West",
        role: "provider",
        note: "Receives what the routes below send it.",
        extra: "",
    },
    DemoOrg {
        id: "OPS",
        name: "Gateway operations",
        role: "operator",
        note: "The team running this gateway.",
        extra: "",
    },
];

/// Writes a development CA, a server certificate for `localhost`, `127.0.0.1` and `::1`,
/// and a client certificate per organisation into `dir` (ECDSA P-256 throughout).
///
/// # Errors
/// Key generation or signing failures, and I/O errors, including any target file that
/// already exists.
pub fn write_dev_pki(dir: &Path, orgs: &[OrgId]) -> anyhow::Result<PkiPaths> {
    create_dir(&dir.join("orgs"), false)?;
    let mut ca_params = ca_params();
    set_validity(&mut ca_params, CA_DAYS)?;
    let ca = CertifiedIssuer::self_signed(ca_params, new_key()?)
        .context("signing the development CA")?;
    let mut pki = PkiPaths {
        ca: dir.join("ca.pem"),
        ca_key: dir.join("ca-key.pem"),
        server_cert: dir.join("server.pem"),
        server_key: dir.join("server-key.pem"),
        orgs: HashMap::new(),
        gateway: (dir.join("gateway.pem"), dir.join("gateway-key.pem")),
    };
    write_new(&pki.ca, &ca.pem(), Access::Public)?;
    write_new(&pki.ca_key, &ca.key().serialize_pem(), Access::Private)?;

    let mut server = CertificateParams::new(vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ])
    .context("server certificate names")?;
    server.distinguished_name = subject("localhost");
    set_leaf(&mut server, ExtendedKeyUsagePurpose::ServerAuth)?;
    let (cert, key) = sign(&server, &ca)?;
    write_pair(&pki.server_cert, &cert, &pki.server_key, &key)?;
    // Providers that take pushes recognise the gateway by this certificate; it is not
    // an organisation's, so the gateway's own API refuses it (403).
    let (cert, key) = sign(&client_params(GATEWAY_COMMON_NAME)?, &ca)?;
    write_pair(&pki.gateway.0, &cert, &pki.gateway.1, &key)?;

    for org in orgs {
        let files = (
            dir.join("orgs").join(format!("{org}.pem")),
            dir.join("orgs").join(format!("{org}-key.pem")),
        );
        let (cert, key) = sign(&client_params(org.as_str())?, &ca)?;
        write_pair(&files.0, &cert, &files.1, &key)?;
        pki.orgs.insert(org.clone(), files);
    }
    Ok(pki)
}

/// Issues one more client certificate from the CA in `pki` (reloaded from `ca.pem` and
/// `ca-key.pem`), written as `out_dir/<name>.pem` and `out_dir/<name>-key.pem`. The
/// certificate is checked against the CA before anything is written.
///
/// # Errors
/// A name unfit for a file name, unreadable CA files, a CA key that does not belong to
/// the CA certificate, or an existing target file.
pub fn issue_client_cert(
    pki: &PkiPaths,
    name: &str,
    out_dir: &Path,
) -> anyhow::Result<(PathBuf, PathBuf)> {
    check_file_stem(name)?;
    let pem = std::fs::read_to_string(&pki.ca_key)
        .with_context(|| format!("cannot read {}", pki.ca_key.display()))?;
    let ca_key = KeyPair::from_pem(&pem)
        .with_context(|| format!("{}: not a usable private key", pki.ca_key.display()))?;
    // Rebuilding the issuer from our own fixed CA parameters avoids an X.509 parser;
    // the chain check below catches a CA that was not made by write_dev_pki.
    let issuer = Issuer::new(ca_params(), ca_key);
    let (cert, key) = sign(&client_params(name)?, &issuer)?;
    crate::tls::verify_client_chain(&pki.ca, &[cert.der().clone()]).with_context(|| {
        format!(
            "{} and {} do not form a CA made by refgate init",
            pki.ca.display(),
            pki.ca_key.display()
        )
    })?;
    create_dir(out_dir, false)?;
    let files = (
        out_dir.join(format!("{name}.pem")),
        out_dir.join(format!("{name}-key.pem")),
    );
    write_pair(&files.0, &cert, &files.1, &key)?;
    Ok(files)
}

/// A self-signed client certificate from no CA refgate knows, written as
/// `dir/<name>.pem` and `dir/<name>-key.pem` (for "foreign certificate" tests).
///
/// # Errors
/// A name unfit for a file name, key generation failures, I/O errors.
pub fn write_self_signed_client(dir: &Path, name: &str) -> anyhow::Result<(PathBuf, PathBuf)> {
    check_file_stem(name)?;
    let key = new_key()?;
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, name);
    params
        .distinguished_name
        .push(DnType::OrganizationName, "not refgate");
    set_leaf(&mut params, ExtendedKeyUsagePurpose::ClientAuth)?;
    let cert = params
        .self_signed(&key)
        .context("signing a self-signed client certificate")?;
    create_dir(dir, false)?;
    let files = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}-key.pem")),
    );
    write_pair(&files.0, &cert, &files.1, &key)?;
    Ok(files)
}

/// Creates the demo setup in `dir` (see the module docs).
///
/// # Errors
/// If `dir/refgate.toml` exists (nothing is changed then), or any file cannot be
/// created; files are only ever created new, never replaced.
pub fn init(dir: &Path) -> anyhow::Result<InitReport> {
    let config = dir.join("refgate.toml");
    if config.exists() {
        bail!(
            "{} already exists; refgate init never overwrites a configuration or its keys",
            config.display()
        );
    }
    create_dir(dir, false)?;
    let ids = DEMO_ORGS
        .iter()
        .map(|o| OrgId::parse(o.id))
        .collect::<Result<Vec<_>, _>>()?;
    let pki = write_dev_pki(&dir.join("certs"), &ids)?;

    create_dir(&dir.join("keys"), true)?;
    let data_key = dir.join("keys").join("data.key");
    let master = DataKeys::generate_master().context("generating the data key")?;
    write_new(
        &data_key,
        &format!("{}\n", hex::encode(master)),
        Access::Private,
    )?;
    let mesh_shared_key = write_mesh_secrets(&dir.join("keys").join("mesh"))?;
    create_dir(&dir.join("data"), false)?;

    let example = dir.join("example-referral.json");
    write_new(&example, &example_referral()?, Access::Public)?;
    write_new(
        &dir.join("example-email.eml"),
        &example_email(),
        Access::Public,
    )?;
    // Last, so that a run that failed part-way is not mistaken for a finished one.
    write_new(&config, &demo_config(), Access::Public)?;
    Ok(InitReport {
        dir: dir.to_owned(),
        config,
        pki,
        example,
        data_key,
        store: dir.join("data").join("refgate.db"),
        mesh_shared_key,
    })
}

/// Writes the MESH shared secret and one password per demo mailbox (random, hex,
/// owner-only), returning the shared secret's path.
fn write_mesh_secrets(dir: &Path) -> anyhow::Result<PathBuf> {
    create_dir(dir, true)?;
    let secret = || -> anyhow::Result<String> {
        Ok(hex::encode(
            DataKeys::generate_master().context("generating a MESH secret")?,
        ))
    };
    let shared = dir.join("shared.key");
    write_new(&shared, &format!("{}\n", secret()?), Access::Private)?;
    for (org, _) in DEMO_MAILBOXES {
        let path = dir.join(format!("{org}.password"));
        write_new(&path, &format!("{}\n", secret()?), Access::Private)?;
    }
    Ok(shared)
}

/// Shell commands that send the example referral through the gateway listening on
/// `listen` and follow it to the provider and back.
#[must_use]
pub fn first_referral_hint(r: &InitReport, listen: &str) -> String {
    let port = listen
        .parse::<SocketAddr>()
        .map(|a| a.port())
        .ok()
        .or_else(|| listen.rsplit_once(':').and_then(|(_, p)| p.parse().ok()))
        .unwrap_or(8443);
    let base = format!("https://localhost:{port}");
    let as_org = |id: &str| {
        let (cert, key) = org_files(r, id);
        format!(
            "--cacert {} --cert {} --key {}",
            sh(&r.pki.ca),
            sh(&cert),
            sh(&key)
        )
    };
    let (msk, north) = (as_org("RCB55"), as_org("TTNORTH"));
    let config = sh(&r.config);
    format!(
        "Demo configuration: {config}
Start the gateway with `refgate serve --config {config}` (if it is not running), then:

# 1. The MSK clinic (RCB55) sends the example referral; the reply carries its \"id\".
curl -s {msk} -H 'Content-Type: application/json' --data-binary @{example} {base}/referrals

# 2. Talking Therapies North (TTNORTH) lists its inbox, downloads the referral
#    (a FHIR message Bundle) and acknowledges it. Replace <id> with the referral id.
curl -s {north} {base}/inbox
curl -s {north} {base}/inbox/<id>
curl -s {north} -X POST {base}/inbox/<id>/acknowledge

# 3. The clinic reads the referral's status and history.
curl -s {msk} {base}/referrals/<id>

# 4. Check that the audit log's hash chain is intact.
refgate audit verify --config {config}

# 5. The clinic's secretary emails the dictated letter instead (SMTP with STARTTLS,
#    Debian's swaks); it becomes a referral in TTNORTH's inbox like the others.
swaks --tls --tls-verify --tls-ca-path {ca} --server localhost:2525 \\
  --from secretary@example.nhs.uk --to referrals@refgate.localhost --data {email}
",
        example = sh(&r.example),
        ca = sh(&r.pki.ca),
        email = sh(&r.dir.join("example-email.eml")),
    )
}

fn org_files(r: &InitReport, id: &str) -> (PathBuf, PathBuf) {
    let known = OrgId::parse(id)
        .ok()
        .and_then(|o| r.pki.orgs.get(&o).cloned());
    known.unwrap_or_else(|| {
        let dir = r.dir.join("certs").join("orgs");
        (
            dir.join(format!("{id}.pem")),
            dir.join(format!("{id}-key.pem")),
        )
    })
}

/// A path as one shell word.
fn sh(p: &Path) -> String {
    let s = p.display().to_string();
    let plain = s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-+:@%,=".contains(&b));
    if plain && !s.is_empty() {
        s
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

fn ca_params() -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = DistinguishedName::new();
    p.distinguished_name
        .push(DnType::OrganizationName, DEV_ORGANISATION);
    p.distinguished_name
        .push(DnType::CommonName, CA_COMMON_NAME);
    // No intermediates: every certificate this CA signs is a leaf.
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p
}

fn client_params(common_name: &str) -> anyhow::Result<CertificateParams> {
    let mut p = CertificateParams::default();
    p.distinguished_name = subject(common_name);
    set_leaf(&mut p, ExtendedKeyUsagePurpose::ClientAuth)?;
    Ok(p)
}

fn subject(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, DEV_ORGANISATION);
    dn.push(DnType::CommonName, common_name);
    dn
}

/// End-entity settings shared by server and client certificates.
fn set_leaf(p: &mut CertificateParams, usage: ExtendedKeyUsagePurpose) -> anyhow::Result<()> {
    p.is_ca = IsCa::ExplicitNoCa;
    // ECDSA keys only sign; keyEncipherment would be wrong for them.
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![usage];
    p.use_authority_key_identifier_extension = true;
    set_validity(p, LEAF_DAYS)
}

/// From a day ago (tolerates clock skew between machines) to `days` from now.
fn set_validity(p: &mut CertificateParams, days: u64) -> anyhow::Result<()> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("the system clock is set before 1970")?;
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    p.not_before = epoch + now.saturating_sub(Duration::from_secs(DAY_SECS));
    p.not_after = epoch + now + Duration::from_secs(days * DAY_SECS);
    Ok(())
}

fn new_key() -> anyhow::Result<KeyPair> {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).context("generating an ECDSA P-256 key")
}

fn sign(
    params: &CertificateParams,
    issuer: &Issuer<'_, KeyPair>,
) -> anyhow::Result<(rcgen::Certificate, KeyPair)> {
    let key = new_key()?;
    let cert = params
        .signed_by(&key, issuer)
        .context("signing a certificate with the development CA")?;
    Ok((cert, key))
}

fn write_pair(
    cert_path: &Path,
    cert: &rcgen::Certificate,
    key_path: &Path,
    key: &KeyPair,
) -> anyhow::Result<()> {
    write_new(cert_path, &cert.pem(), Access::Public)?;
    write_new(key_path, &key.serialize_pem(), Access::Private)
}

/// Client names become file names and subject names.
fn check_file_stem(name: &str) -> anyhow::Result<()> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !ok {
        bail!("client name must be 1-64 letters, digits, '-' or '_'");
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    Public,
    /// Owner read/write only.
    Private,
}

/// Creates `path` (never replacing an existing file) and writes `contents` durably.
fn write_new(path: &Path, contents: &str, access: Access) -> anyhow::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    // The mode is applied by open(2) itself, so a key is never readable by others,
    // not even between creating the file and a later chmod.
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        if access == Access::Private {
            options.mode(0o600);
        }
    }
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            anyhow::anyhow!(
                "{} already exists; refusing to overwrite it (remove a half-finished folder and run again)",
                path.display()
            )
        } else {
            anyhow::Error::new(e).context(format!("cannot create {}", path.display()))
        }
    })?;
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

fn create_dir(path: &Path, owner_only: bool) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        if owner_only {
            builder.mode(0o700);
        }
    }
    #[cfg(not(unix))]
    let _ = owner_only;
    builder
        .create(path)
        .with_context(|| format!("cannot create folder {}", path.display()))
}

/// A complete flat-form referral for a made-up patient (NHS number from the 999 test
/// range, a made-up Harrogate address, phone number from Ofcom's drama range).
/// The same synthetic patient as the example referral, as a clinic secretary would
/// email the dictated letter: a covering line and the letter in the body.
fn example_email() -> String {
    let today = chrono::Utc::now();
    let letter = format!(
        "Harrogate District Rheumatology (MSK)\n\n{date}\n\nDear Colleague\n\n\
         Re: Ms Alex Jordan EXAMPLE   DOB 21/05/1978   NHS No 999 000 0018\n\
         1 Sample Street, Harrogate HG2 9ZZ   Tel 07700 900461\n\n\
         Diagnosis: fibromyalgia; chronic widespread pain\n\n\
         Thank you for seeing Ms Example, whom I reviewed in the rheumatology clinic today.\n\
         Her pain has spread over two years and she has stopped work. HADS anxiety 11,\n\
         depression 9; PHQ-9 of 12, GAD-7 10. She denies any thoughts of self-harm.\n\
         I would be grateful if you could offer her CBT for chronic pain; she is happy\n\
         to be seen by telephone.\n\n\
         Her GP is Dr Sam Placeholder, Otley Road Surgery (B82005).\n\n\
         Yours sincerely\n\nDr Rowan Illustration\nConsultant Rheumatologist\nGMC 7000001\n",
        date = today.format("%-d %B %Y"),
    );
    format!(
        "From: Rheumatology Secretaries <secretary@example.nhs.uk>\r\n\
         To: <referrals@refgate.localhost>\r\n\
         Subject: Clinic letter\r\n\
         Date: {}\r\n\
         Message-ID: <example.{}@example.nhs.uk>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{}",
        today.to_rfc2822(),
        today.timestamp(),
        letter.replace('\n', "\r\n")
    )
}

fn example_referral() -> anyhow::Result<String> {
    let today = chrono::Utc::now()
        .date_naive()
        .format("%Y-%m-%d")
        .to_string();
    let referral = serde_json::json!({
        "is_referral": true,
        "patient": {
            "nhs_number": "9990000018",
            "nhs_number_valid": true,
            "title": "Ms",
            "given_names": ["Alex", "Jordan"],
            "family_name": "Example",
            "date_of_birth": "1978-05-21",
            "sex": "female",
            "address_lines": ["1 Sample Street", "Harrogate"],
            "postcode": "HG2 9ZZ",
            "phone": "07700900461",
            "email": "alex.example@example.org"
        },
        "gp": {
            "name": "Dr Sam Placeholder",
            "practice": "Otley Road Surgery",
            "ods_code": "B82005"
        },
        "referrer": {
            "name": "Dr Rowan Illustration",
            "role": "Consultant Rheumatologist",
            "organisation": "Harrogate District Rheumatology (MSK)",
            "professional_id": "GMC 7000001"
        },
        "letter_date": today,
        "diagnoses": ["Fibromyalgia", "Chronic widespread pain"],
        "measures": {"hads_anxiety": 11, "hads_depression": 9, "phq9": 12, "gad7": 10},
        "risk_flag": false,
        "urgency": "routine",
        "preferences": {"telephone_ok": true, "interpreter": null},
        "requested_service": "Telephone CBT for chronic pain"
    });
    Ok(serde_json::to_string_pretty(&referral)? + "\n")
}

fn demo_config() -> String {
    let mut orgs = String::new();
    for o in &DEMO_ORGS {
        orgs.push_str(&format!(
            "\n# {note}\n[[organisations]]\nid = \"{id}\"\nname = \"{name}\"\nrole = \"{role}\"\nclient_cert = \"certs/orgs/{id}.pem\"\n{extra}",
            note = o.note,
            extra = o.extra,
            id = o.id,
            name = o.name,
            role = o.role,
        ));
        if let Some((_, mailbox)) = DEMO_MAILBOXES.iter().find(|(org, _)| *org == o.id) {
            orgs.push_str(&format!(
                "mesh_mailbox = \"{mailbox}\"\nmesh_password_file = \"keys/mesh/{id}.password\"\n",
                id = o.id
            ));
        }
    }
    CONFIG_TEMPLATE.replace("{organisations}", &orgs)
}

const CONFIG_TEMPLATE: &str = r#"# refgate demo configuration, written by `refgate init`.
#
# It lets you try the gateway on one machine. The certificates in certs/ come from a
# development CA whose private key sits beside them: for real use, take certificates
# from your organisation's PKI instead.
#
# Relative paths are relative to this file's folder. Any key can be overridden with an
# environment variable REFGATE__SECTION__KEY, e.g. REFGATE__SERVER__LISTEN=0.0.0.0:8443.
# Unknown keys stop start-up. Check a change with: refgate config check --config <this file>

# The HTTPS listener. There is no plain-HTTP port.
[server]
listen = "127.0.0.1:8443"
# Larger requests are refused with 413 before they are read.
max_body_bytes = 10485760
# HTTP worker threads; 0 means one per CPU core.
workers = 0
# How the gateway names itself in the FHIR messages it delivers.
public_url = "https://localhost:8443"

# TLS 1.2 and 1.3 only. The server certificate is valid for localhost, 127.0.0.1 and ::1.
[tls]
cert = "certs/server.pem"
key = "certs/server-key.pem"
# The CA that issues organisations' client certificates. A certificate from any other
# CA fails the TLS handshake; one from this CA that is not listed under
# [[organisations]] gets 403; no certificate at all gets 401.
client_ca = "certs/ca.pem"

# Where referrals are kept: an embedded SQLite database, created on first start.
[store]
path = "data/refgate.db"

# 32 random bytes (hex) that seal patient data at rest (AES-256-GCM) and key the
# lookup hashes. Without this file stored referrals cannot be read: back it up, but
# not together with the database.
[keys]
data_key = "keys/data.key"

# "text" for people, "json" for log collectors. RUST_LOG overrides the filter.
# Logs never contain patient identifiers.
[log]
format = "text"
filter = "info"

# Organisations allowed to use the gateway. Each one is recognised by the client
# certificate it presents (its SHA-256 fingerprint), and its role decides what it may do:
#   referrer  sends referrals (POST /referrals) and follows them (GET /referrals/{id})
#   provider  works through its own inbox (GET /inbox, GET /inbox/{id},
#             POST /inbox/{id}/acknowledge)
#   operator  runs the gateway (review queue, statistics)
# The id is usually the organisation's ODS code.
{organisations}
# Which provider receives a referral. Routes are tried in order and the first one
# whose every given criterion matches wins, so criteria within one route must all
# match; write separate routes for "either ... or". A referral that no route matches
# goes to default_provider. Criteria:
#   gp_ods             the patient's GP practice ODS code is one of these
#   postcode_prefixes  the patient's postcode starts with one of these: an area ("LS")
#                      or a district ("LS6"); "LS" matches LS1 but not L39
#   pathways           the requested service or a diagnosis mentions one of these words
[routing]
default_provider = "TTNORTH"

# Patients registered with practice B86001 go to Talking Therapies West...
[[routing.routes]]
provider = "TTWEST"
gp_ods = ["B86001"]

# ...and so do patients living in the LS postcode area.
[[routing.routes]]
provider = "TTWEST"
postcode_prefixes = ["LS"]

# A drop folder takes in documents a clinic system writes to disk (print-to-file or
# hybrid-mail export): each settled file is submitted for the organisation, then moved
# to processed/ (with a note giving the gateway reference) or rejected/ (with the
# reason). Files named .part, .tmp or starting with a dot are still being written.
# [[drop_folders]]
# organisation = "RCB55"
# path = "drop/RCB55"
# poll_interval_ms = 1000
# settle_ms = 2000

# Inbound email. Referrers email the letter as they do today, to a referral address;
# STARTTLS (with the [tls] server certificate) is required before MAIL, only the
# addresses below are accepted as recipients (no relaying), and only senders listed
# in an organisation's email_senders (an address, or "@domain" for a whole domain).
# A message is answered 250 only once it is stored; it is then read like any letter.
[smtp]
listen = "127.0.0.1:2525"
hostname = "localhost"
referral_addresses = ["referrals@refgate.localhost"]
# Larger messages are refused (advertised with SIZE, enforced while reading).
max_message_bytes = 26214400
max_connections = 256
max_connections_per_ip = 16
command_timeout_secs = 60
data_timeout_secs = 300

# The MESH-compatible mailbox API under /messageexchange, for systems that already
# speak NHS England's MESH API (mesh-client and others). An organisation with a
# mesh_mailbox uses it with its client certificate and the NHSMESH authorisation
# header: an HMAC, keyed by the shared secret, over its mailbox, password (the file
# mesh_password_file) and a timestamp; tokens more than max_clock_skew_minutes from
# the gateway's clock, and tokens used before, are refused. Providers poll their
# mailbox's inbox (the FHIR message Bundle of each referral); referrers send
# referrals to intake_mailbox, and the gateway's routing picks the provider.
[mesh]
enabled = true
shared_key_file = "keys/mesh/shared.key"
max_clock_skew_minutes = 120
intake_mailbox = "REFGATE"
workflow_id = "TALKING_THERAPIES_REFERRAL"

# Outbound email through your relay (STARTTLS required): acknowledgements to people
# who emailed a referral, status notifications, and delivery to providers configured
# with delivery = "email". Without this section nothing is emailed.
# [mail]
# relay_host = "smtp.example.nhs.uk"
# relay_port = 587
# from = "refgate@example.nhs.uk"
# ca = "certs/ca.pem"        # an extra CA to trust for the relay (optional)
# notify_status = true
# max_attempts = 10

# Push delivery, for providers configured with delivery = "push" and a push_url (the
# https URL of their FHIR $process-message). Each referral is POSTed as a FHIR message
# Bundle over mutual TLS with the gateway's client certificate; the Bundle id is the
# referral id on every attempt, so a provider can drop duplicates. Failures that may
# pass (5xx, 408, 429, timeouts, connection errors) are retried with exponential
# backoff and jitter; a 4xx refusal, or max_attempts failures, sends the referral to
# the dead letters (GET /dead-letter), from where an operator can re-drive it
# (POST /dead-letter/{id}/redrive).
# [push]
# client_cert = "certs/gateway.pem"
# client_key = "certs/gateway-key.pem"
# ca = "certs/ca.pem"        # the CA providers' server certificates chain to
# max_attempts = 10
# timeout_secs = 30
"#;

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;

    use super::*;
    use crate::config::{Role, Settings};
    use crate::domain::{NhsNumber, Postcode, Referral};
    use crate::tls::{self, CertFingerprint};

    fn org(id: &str) -> OrgId {
        OrgId::parse(id).unwrap()
    }

    /// Every file under `dir` with its contents.
    fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
        let mut out = BTreeMap::new();
        let mut stack = vec![dir.to_owned()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    out.insert(path.clone(), std::fs::read(&path).unwrap());
                }
            }
        }
        out
    }

    #[test]
    fn the_example_email_reads_as_the_example_patient_and_goes_to_a_provider() {
        let email = example_email();
        let format = crate::normalise::Format::detect(email.as_bytes()).unwrap();
        let today = chrono::Utc::now().date_naive();
        let read = crate::normalise::normalise(format, email.as_bytes(), today).unwrap();
        assert!(read.review_reasons.is_empty(), "{:?}", read.review_reasons);
        let example: Referral = serde_json::from_str(&example_referral().unwrap()).unwrap();
        assert_eq!(read.record.patient.nhs_number, example.patient.nhs_number);
        assert_eq!(read.record.patient.family_name, example.patient.family_name);
        assert_eq!(read.record.referrer.name, example.referrer.name);
        assert_eq!(read.record.measures, example.measures);
        assert!(!read.record.risk_flag);
    }

    #[test]
    fn init_writes_a_configuration_that_loads_and_validates() {
        let tmp = tempfile::tempdir().unwrap();
        let report = init(tmp.path()).unwrap();
        let settings = Settings::load(&report.config).unwrap();
        settings.validate().unwrap();
        assert_eq!(settings.organisations.len(), 5);
        let role = |id| settings.organisation(&org(id)).unwrap().role;
        assert_eq!(role("RCB55"), Role::Referrer);
        assert_eq!(role("B82005"), Role::Referrer);
        assert_eq!(role("TTNORTH"), Role::Provider);
        assert_eq!(role("TTWEST"), Role::Provider);
        // Email: the listener is on, the demo clinic's secretaries may send to it (an
        // exact address or any address of the domain), nobody else may.
        let smtp = settings.smtp.as_ref().unwrap();
        assert_eq!(smtp.referral_addresses, ["referrals@refgate.localhost"]);
        let sender = |a: &str| settings.sender_organisation(a).map(|o| o.id.as_str());
        assert_eq!(sender("Jane.Morley@EXAMPLE.nhs.uk"), Some("RCB55"));
        assert_eq!(sender("someone@elsewhere.nhs.uk"), None);
        assert_eq!(sender("example.nhs.uk"), None);
        assert!(settings.mail.is_none());
        // MESH: on, with mailboxes (and their password files) for the clinic and
        // both providers, and a shared secret that is not the sandbox's test key.
        let mesh = settings.mesh.as_ref().unwrap();
        assert!(mesh.enabled && mesh.shared_key_file == report.mesh_shared_key);
        assert_eq!(mesh.max_clock_skew_minutes, 120);
        for (id, mailbox) in DEMO_MAILBOXES {
            let o = settings.organisation(&org(id)).unwrap();
            assert_eq!(o.mesh_mailbox.as_ref().unwrap().as_str(), mailbox);
            assert!(o.mesh_password_file.as_ref().unwrap().is_file());
        }
        let shared = std::fs::read_to_string(&report.mesh_shared_key).unwrap();
        assert_eq!(shared.trim().len(), 64);
        assert_eq!(role("OPS"), Role::Operator);
        assert_eq!(
            settings.organisation(&org("RCB55")).unwrap().name,
            "Harrogate District Rheumatology (MSK)"
        );
        assert_eq!(settings.routing.default_provider, org("TTNORTH"));
        assert_eq!(settings.routing.routes.len(), 2);
        assert_eq!(settings.server.listen.to_string(), "127.0.0.1:8443");
        assert_eq!(settings.tls.client_ca, report.pki.ca);
        assert_eq!(settings.store.path, report.store);
        assert!(tmp.path().join("data").is_dir());
        crate::crypto::DataKeys::load(&settings.keys.data_key).unwrap();
        let toml = std::fs::read_to_string(&report.config).unwrap();
        assert!(
            !toml.contains(&tmp.path().display().to_string()),
            "paths are relative"
        );
    }

    #[test]
    fn init_writes_every_certificate_and_key() {
        let tmp = tempfile::tempdir().unwrap();
        let r = init(tmp.path()).unwrap();
        let certs = tmp.path().join("certs");
        for name in [
            "ca.pem",
            "ca-key.pem",
            "server.pem",
            "server-key.pem",
            "gateway.pem",
            "gateway-key.pem",
        ] {
            assert!(certs.join(name).is_file(), "{name}");
        }
        for o in &DEMO_ORGS {
            let (cert, key) = &r.pki.orgs[&org(o.id)];
            assert_eq!(cert, &certs.join("orgs").join(format!("{}.pem", o.id)));
            assert_eq!(key, &certs.join("orgs").join(format!("{}-key.pem", o.id)));
            assert!(cert.is_file() && key.is_file(), "{}", o.id);
        }
        assert!(r.example.is_file() && r.data_key.is_file());
    }

    #[cfg(unix)]
    #[test]
    fn private_keys_are_readable_by_the_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let r = init(tmp.path()).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let mut keys = vec![
            r.pki.ca_key.clone(),
            r.pki.server_key.clone(),
            r.data_key.clone(),
            r.mesh_shared_key.clone(),
            tmp.path().join("keys/mesh/RCB55.password"),
        ];
        keys.extend(r.pki.orgs.values().map(|(_, k)| k.clone()));
        for key in &keys {
            assert_eq!(mode(key), 0o600, "{}", key.display());
        }
        assert_eq!(mode(&tmp.path().join("keys")), 0o700);
    }

    #[test]
    fn a_second_init_fails_and_changes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        init(tmp.path()).unwrap();
        let before = snapshot(tmp.path());
        let err = init(tmp.path()).unwrap_err();
        assert!(err.to_string().contains("already exists"), "{err}");
        assert_eq!(before, snapshot(tmp.path()));
    }

    #[test]
    fn init_does_not_replace_leftover_keys() {
        let tmp = tempfile::tempdir().unwrap();
        let certs = tmp.path().join("certs");
        std::fs::create_dir_all(&certs).unwrap();
        std::fs::write(certs.join("ca-key.pem"), "kept").unwrap();
        let err = init(tmp.path()).unwrap_err();
        assert!(format!("{err:#}").contains("ca-key.pem"), "{err:#}");
        assert_eq!(std::fs::read(certs.join("ca-key.pem")).unwrap(), b"kept");
        assert!(!tmp.path().join("refgate.toml").exists());
    }

    #[test]
    fn every_organisation_completes_a_handshake_and_is_identified() {
        let tmp = tempfile::tempdir().unwrap();
        let r = init(tmp.path()).unwrap();
        let settings = Settings::load(&r.config).unwrap();
        let mut seen = std::collections::HashSet::new();
        for o in &settings.organisations {
            let (cert, key) = &r.pki.orgs[&o.id];
            let server = tls::server_config(&settings.tls).unwrap();
            let client = tls::client_config(&r.pki.ca, Some(cert), Some(key)).unwrap();
            let conn = tls::testing::handshake(client, server).unwrap();
            let leaf = &conn.peer_certificates().unwrap()[0];
            let fp = tls::fingerprint_of_pem_file(&o.client_cert).unwrap();
            assert_eq!(CertFingerprint::of_der(leaf), fp, "{}", o.id);
            assert!(seen.insert(fp), "fingerprints are distinct");
        }
    }

    #[test]
    fn the_server_certificate_is_for_localhost_and_only_for_servers() {
        let tmp = tempfile::tempdir().unwrap();
        let pki = write_dev_pki(tmp.path(), &[]).unwrap();
        // A server certificate presented as a client certificate lacks clientAuth.
        assert!(tls::verify_client_cert_file(&pki.ca, &pki.server_cert).is_err());
        let der = CertificateDer::from_pem_file(&pki.server_cert).unwrap();
        assert!(der.windows(9).any(|w| w == b"localhost"));
    }

    #[test]
    fn an_issued_client_certificate_chains_to_the_ca_with_a_new_fingerprint() {
        let tmp = tempfile::tempdir().unwrap();
        let pki = write_dev_pki(&tmp.path().join("certs"), &[org("RCB55")]).unwrap();
        let (cert, key) = issue_client_cert(&pki, "STRANGER", &tmp.path().join("x")).unwrap();
        let fp = tls::verify_client_cert_file(&pki.ca, &cert).unwrap();
        let known = tls::fingerprint_of_pem_file(&pki.orgs[&org("RCB55")].0).unwrap();
        assert_ne!(fp, known);
        assert!(key.is_file());
        let client = tls::client_config(&pki.ca, Some(&cert), Some(&key)).unwrap();
        let server = tls::server_config(&crate::config::TlsSettings {
            cert: pki.server_cert.clone(),
            key: pki.server_key.clone(),
            client_ca: pki.ca.clone(),
        })
        .unwrap();
        tls::testing::handshake(client, server).unwrap();
    }

    #[test]
    fn issuing_refuses_a_ca_key_from_another_ca_and_bad_names() {
        let tmp = tempfile::tempdir().unwrap();
        let ours = write_dev_pki(&tmp.path().join("a"), &[]).unwrap();
        let theirs = write_dev_pki(&tmp.path().join("b"), &[]).unwrap();
        let mixed = PkiPaths {
            ca_key: theirs.ca_key.clone(),
            ..ours.clone()
        };
        let out = tmp.path().join("out");
        assert!(issue_client_cert(&mixed, "STRANGER", &out).is_err());
        assert!(!out.exists(), "nothing written");
        assert!(issue_client_cert(&ours, "../escape", &out).is_err());
        assert!(issue_client_cert(&ours, "", &out).is_err());
    }

    #[test]
    fn a_self_signed_client_certificate_is_rejected_by_the_ca_verifier() {
        let tmp = tempfile::tempdir().unwrap();
        let pki = write_dev_pki(&tmp.path().join("certs"), &[]).unwrap();
        let (cert, key) = write_self_signed_client(&tmp.path().join("foreign"), "RCB55").unwrap();
        let err = tls::verify_client_cert_file(&pki.ca, &cert).unwrap_err();
        assert!(matches!(err, tls::TlsError::Untrusted { .. }), "{err:?}");
        assert!(key.is_file());
    }

    #[test]
    fn the_example_referral_is_complete_valid_and_routed_to_the_default_provider() {
        let tmp = tempfile::tempdir().unwrap();
        let r = init(tmp.path()).unwrap();
        let text = std::fs::read_to_string(&r.example).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        for path in [
            "/patient/email",
            "/gp/ods_code",
            "/referrer/professional_id",
            "/measures/gad7",
            "/preferences/interpreter",
        ] {
            assert!(value.pointer(path).is_some(), "{path}");
        }
        let referral: Referral = serde_json::from_value(value).unwrap();
        assert!(referral.review_reasons().is_empty());
        let nhs = referral.patient.nhs_number.as_deref().unwrap();
        assert!(NhsNumber::parse(nhs).unwrap().is_valid());
        Postcode::parse(referral.patient.postcode.as_deref().unwrap()).unwrap();
        let settings = Settings::load(&r.config).unwrap();
        let decision = crate::route::Router::new(&settings.routing).route(&referral);
        assert_eq!(decision.provider, org("TTNORTH"));
    }

    #[test]
    fn the_hint_shows_curl_commands_for_the_listen_port() {
        let tmp = tempfile::tempdir().unwrap();
        let r = init(tmp.path()).unwrap();
        let hint = first_referral_hint(&r, "127.0.0.1:9443");
        let (msk_cert, msk_key) = &r.pki.orgs[&org("RCB55")];
        let (north_cert, _) = &r.pki.orgs[&org("TTNORTH")];
        for needle in [
            "https://localhost:9443/referrals\n".to_owned(),
            "https://localhost:9443/inbox\n".to_owned(),
            "https://localhost:9443/inbox/<id>\n".to_owned(),
            "-X POST https://localhost:9443/inbox/<id>/acknowledge".to_owned(),
            "https://localhost:9443/referrals/<id>".to_owned(),
            "Content-Type: application/json".to_owned(),
            format!("--cacert {}", r.pki.ca.display()),
            format!("--cert {} --key {}", msk_cert.display(), msk_key.display()),
            format!("--cert {}", north_cert.display()),
            format!("@{}", r.example.display()),
            format!("refgate audit verify --config {}", r.config.display()),
        ] {
            assert!(hint.contains(&needle), "missing {needle:?} in\n{hint}");
        }
        assert!(!hint.contains("8443"));
    }

    #[test]
    fn paths_with_spaces_are_quoted_for_the_shell() {
        assert_eq!(sh(Path::new("/tmp/a b/it's")), r"'/tmp/a b/it'\''s'");
        assert_eq!(
            sh(Path::new("refgate-data/certs/ca.pem")),
            "refgate-data/certs/ca.pem"
        );
    }
}
