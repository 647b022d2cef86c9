//! Referral record -> FHIR R4 message Bundle (DESIGN.md "The record in FHIR, both ways").
//!
//! Inputs: the referral record and [`MessageMeta`] (ids, received time, the parties, the
//! original document). Output: a `Bundle` of type `message` (MessageHeader first) that a
//! provider downloads and that `fhir_map` can read back, because it follows the same
//! mapping as the Bundles referrers send. Pure: no I/O, clock or randomness. The same
//! inputs give byte-identical output, since providers drop duplicates by message id.
//! It must never emit null, empty strings, arrays or objects: FHIR forbids them.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{Datelike, SecondsFormat};
use ring::digest;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::fhir_map::{
    GMC_SYSTEM, HCPC_SYSTEM, INTERPRETER_REQUIRED, LOINC, LOINC_GAD7, LOINC_PHQ9,
    NHS_NUMBER_SYSTEM, NMC_SYSTEM, ODS_SYSTEM,
};
use crate::domain::{OrgId, Referral, ReferralId, Sex};

/// Identifier system of the gateway's referral ids (also used in response messages).
pub const REFERRAL_ID_SYSTEM: &str = "https://refgate.nhs.example/Id/referral";
/// Identifier system for configured organisation ids that are not ODS codes.
pub const ORGANISATION_ID_SYSTEM: &str = "https://refgate.nhs.example/Id/organisation";
const MESSAGE_EVENT_SYSTEM: &str = "https://fhir.nhs.uk/CodeSystem/message-event";
const SNOMED: &str = "http://snomed.info/sct";

/// Risk wording in `ServiceRequest.note`, beside the Flag, for systems that read only notes.
pub const RISK_NOTE: &str = "Risk of harm reported by referrer";
/// `ServiceRequest.patientInstruction` for `preferences.telephone_ok = true`.
pub const TELEPHONE_OK: &str = "Telephone contact is acceptable.";
/// `ServiceRequest.patientInstruction` for `preferences.telephone_ok = false`.
pub const FACE_TO_FACE_ONLY: &str = "Face-to-face contact only.";

/// Facts about the message that are not in the record; the caller fills them.
pub struct MessageMeta {
    /// The message id: `Bundle.id` and (as `urn:uuid:`) `Bundle.identifier`. Every
    /// other resource id is derived from it, so it fixes the whole Bundle.
    pub message_id: uuid::Uuid,
    /// The gateway's referral id: the ServiceRequest id and identifier.
    pub referral_id: ReferralId,
    /// When the gateway received the referral (`Bundle.timestamp`, `Provenance.recorded`).
    pub timestamp: chrono::DateTime<chrono::Utc>,
    /// The gateway's public base URL (`MessageHeader.source.endpoint`).
    pub source_endpoint: String,
    /// The referring organisation: id and display name.
    pub sender: (crate::domain::OrgId, String),
    /// The provider: id and display name.
    pub destination: (crate::domain::OrgId, String),
    /// The original document as submitted: media type and bytes.
    pub original: Option<(String, Vec<u8>)>,
    /// Documents sent with the letter (an email's other attachments), in order: each
    /// becomes a further DocumentReference in `ServiceRequest.supportingInfo`.
    pub supporting: Vec<Document>,
    /// The operator who released it from the review queue (possibly correcting it).
    pub reviewed_by: Option<(crate::domain::OrgId, String)>,
}

/// A document carried in the message besides the original.
#[derive(Clone)]
pub struct Document {
    pub media_type: String,
    /// The file name it was sent with, shown as the attachment's title.
    pub title: Option<String>,
    pub bytes: Vec<u8>,
}

/// Writes the referral as a FHIR R4 message Bundle (`servicerequest-request`).
#[must_use]
pub fn write_message(record: &Referral, meta: &MessageMeta) -> Value {
    let mut w = Writer::new(meta);
    let p = parties(record, meta, &mut w);
    w.push(p.patient, patient(record, &p));
    let mut supporting = observations(record, p.patient, &mut w);
    if record.risk_flag {
        let flag = w.derive("Flag/risk");
        w.push(flag, risk_flag(p.patient));
        supporting.push(flag);
    }
    let document = original_document(meta, p.patient, &w.instant);
    let document = document.map(|doc| {
        let id = w.derive("DocumentReference/original");
        w.push(id, doc);
        id
    });
    supporting.extend(document);
    for (i, doc) in meta.supporting.iter().enumerate() {
        if let Some(resource) = supporting_document(doc, i, p.patient, &w.instant) {
            let id = w.derive(&format!("DocumentReference/supporting/{i}"));
            w.push(id, resource);
            supporting.push(id);
        }
    }
    let request = meta.referral_id.as_uuid();
    let provenance = w.derive("Provenance");
    let reviewer = meta.reviewed_by.as_ref();
    w.push(
        provenance,
        provenance_of(&p, document, reviewer, &w.instant, request),
    );
    let header = w.derive("MessageHeader");
    w.finish(
        (header, message_header(meta, &p, request)),
        (request, service_request(record, meta, &p, &supporting)),
    )
}

/// Collects entries; ids are derived from the message id so output is reproducible.
struct Writer {
    message_id: Uuid,
    instant: String,
    entries: Vec<(Uuid, Value)>,
}

impl Writer {
    fn new(meta: &MessageMeta) -> Self {
        Self {
            message_id: meta.message_id,
            // FHIR instant: seconds and a zone are required (R4 datatypes, instant).
            instant: meta.timestamp.to_rfc3339_opts(SecondsFormat::Secs, false),
            entries: Vec::new(),
        }
    }

    fn derive(&self, role: &str) -> Uuid {
        derived_id(self.message_id, role)
    }

    fn push(&mut self, id: Uuid, resource: Value) {
        self.entries.push((id, resource));
    }

    /// The Bundle: the MessageHeader must be the first entry (R4 Bundle, bdl-12).
    fn finish(self, header: (Uuid, Value), request: (Uuid, Value)) -> Value {
        let entries: Vec<Value> = [header, request]
            .into_iter()
            .chain(self.entries)
            .map(|(id, resource)| entry(id, resource))
            .collect();
        let bundle = json!({
            "resourceType": "Bundle",
            "id": self.message_id.to_string(),
            "meta": {"lastUpdated": self.instant},
            "identifier": {"system": "urn:ietf:rfc:3986", "value": urn(self.message_id)},
            "type": "message",
            // The received time, not the time of writing: a second download must give
            // the same bytes (providers de-duplicate on the message id).
            "timestamp": self.instant,
            "entry": entries,
        });
        prune(bundle).unwrap_or_default()
    }
}

/// An RFC 4122 version 5 UUID (SHA-1 of namespace bytes and name), namespaced by the
/// message id. The uuid crate's `v5` feature is off; this is the same algorithm.
fn derived_id(namespace: Uuid, name: &str) -> Uuid {
    let mut ctx = digest::Context::new(&digest::SHA1_FOR_LEGACY_USE_ONLY);
    ctx.update(namespace.as_bytes());
    ctx.update(name.as_bytes());
    let hash = ctx.finish();
    let mut bytes = [0u8; 16];
    for (b, h) in bytes.iter_mut().zip(hash.as_ref()) {
        *b = *h;
    }
    uuid::Builder::from_sha1_bytes(bytes).into_uuid()
}

fn urn(id: Uuid) -> String {
    format!("urn:uuid:{id}")
}

/// A Bundle entry; the resource id equals the fullUrl's uuid so the two never disagree.
fn entry(id: Uuid, mut resource: Value) -> Value {
    if let Value::Object(map) = &mut resource {
        map.insert("id".into(), Value::String(id.to_string()));
    }
    json!({"fullUrl": urn(id), "resource": resource})
}

fn reference(id: Uuid) -> Value {
    json!({"reference": urn(id)})
}

fn reference_shown(id: Uuid, display: Option<&str>) -> Value {
    json!({"reference": urn(id), "display": display})
}

/// Trimmed text, or `None` when absent or blank (FHIR strings may not be empty).
fn text(raw: Option<&String>) -> Option<&str> {
    raw.map(|s| s.trim()).filter(|s| !s.is_empty())
}

/// A FHIR `date`. The pipeline only stores YYYY-MM-DD; anything else is left out
/// rather than written as an invalid date.
fn fhir_date(raw: Option<&String>) -> Option<String> {
    let date = chrono::NaiveDate::parse_from_str(text(raw)?, "%Y-%m-%d").ok()?;
    (1..=9999)
        .contains(&date.year())
        .then(|| date.format("%Y-%m-%d").to_string())
}

/// Drops nulls, blank strings, empty arrays and empty objects at every depth, so the
/// builders can pass `Option`s straight into `json!`.
fn prune(value: Value) -> Option<Value> {
    match value {
        Value::Null => None,
        Value::String(s) => {
            // FHIR strings may hold no control characters but tab, CR and LF (R4
            // datatypes, string); text lifted from PDFs can carry form feeds.
            let s: String = s
                .chars()
                .map(|c| {
                    if c < ' ' && !matches!(c, '\t' | '\r' | '\n') {
                        ' '
                    } else {
                        c
                    }
                })
                .collect();
            (!s.trim().is_empty()).then_some(Value::String(s))
        }
        Value::Array(items) => {
            let items: Vec<Value> = items.into_iter().filter_map(prune).collect();
            (!items.is_empty()).then_some(Value::Array(items))
        }
        Value::Object(map) => {
            let map: Map<String, Value> = map
                .into_iter()
                .filter_map(|(k, v)| prune(v).map(|v| (k, v)))
                .collect();
            (!map.is_empty()).then_some(Value::Object(map))
        }
        other => Some(other),
    }
}

/// The ids of the people and organisations, decided before any resource is written
/// because resources point at one another.
struct Parties {
    patient: Uuid,
    sender: Uuid,
    provider: Uuid,
    /// PractitionerRole: `ServiceRequest.requester`.
    requester: Option<Uuid>,
    gp: Option<(Uuid, Option<String>)>,
    practice: Option<(Uuid, Option<String>)>,
}

fn parties(record: &Referral, meta: &MessageMeta, w: &mut Writer) -> Parties {
    let (sender_org, sender_name) = &meta.sender;
    let (provider_org, provider_name) = &meta.destination;
    let sender = w.derive("Organization/sender");
    let org = organization(Some(sender_name), Some(org_identifier(sender_org)));
    w.push(sender, org);
    let provider = w.derive("Organization/provider");
    let org = organization(Some(provider_name), Some(org_identifier(provider_org)));
    w.push(provider, org);
    let referrer = referrer_practitioner(record, w);
    let gp = gp_practitioner(record, referrer, w);
    let practice = gp_practice(record, w);
    let requester = requester_role(
        record,
        (sender, sender_name),
        referrer,
        practice.as_ref(),
        w,
    );
    Parties {
        patient: w.derive("Patient"),
        sender,
        provider,
        requester,
        gp,
        practice,
    }
}

fn referrer_practitioner(record: &Referral, w: &mut Writer) -> Option<Uuid> {
    let name = text(record.referrer.name.as_ref());
    let professional_id = text(record.referrer.professional_id.as_ref());
    if name.is_none() && professional_id.is_none() {
        return None;
    }
    let id = w.derive("Practitioner/referrer");
    w.push(id, practitioner(name, professional_id));
    Some(id)
}

/// A GP referring their own patient is one person: the referrer Practitioner is reused.
fn gp_practitioner(
    record: &Referral,
    referrer: Option<Uuid>,
    w: &mut Writer,
) -> Option<(Uuid, Option<String>)> {
    let name = text(record.gp.name.as_ref())?;
    let referrer_name = text(record.referrer.name.as_ref());
    let id = match referrer {
        Some(id) if referrer_name.is_some_and(|n| same_name(n, name)) => id,
        _ => {
            let id = w.derive("Practitioner/gp");
            w.push(id, practitioner(Some(name), None));
            id
        }
    };
    Some((id, Some(name.to_owned())))
}

fn gp_practice(record: &Referral, w: &mut Writer) -> Option<(Uuid, Option<String>)> {
    let name = text(record.gp.practice.as_ref());
    let ods = text(record.gp.ods_code.as_ref());
    if name.is_none() && ods.is_none() {
        return None;
    }
    let id = w.derive("Organization/gp-practice");
    let ods = ods.map(|code| json!({"system": ODS_SYSTEM, "value": code}));
    w.push(id, organization(name, ods));
    Some((id, name.map(str::to_owned)))
}

/// The PractitionerRole that requests the service. Its organisation is the sender
/// unless the record names another; the GP practice when a GP refers from it (that
/// Organization carries the ODS code).
fn requester_role(
    record: &Referral,
    (sender, sender_name): (Uuid, &str),
    referrer: Option<Uuid>,
    practice: Option<&(Uuid, Option<String>)>,
    w: &mut Writer,
) -> Option<Uuid> {
    let role = text(record.referrer.role.as_ref());
    let named_org = text(record.referrer.organisation.as_ref());
    if referrer.is_none() && role.is_none() && named_org.is_none() {
        return None;
    }
    let organisation = match (named_org, practice) {
        (None, _) => sender,
        (Some(o), _) if same_name(o, sender_name) => sender,
        (Some(o), Some((id, Some(p)))) if same_name(o, p) => *id,
        (Some(o), _) => {
            let id = w.derive("Organization/referrer");
            w.push(id, organization(Some(o), None));
            id
        }
    };
    let id = w.derive("PractitionerRole/referrer");
    w.push(
        id,
        json!({
            "resourceType": "PractitionerRole",
            "practitioner": referrer.map(reference),
            "organization": reference(organisation),
            "code": [{"text": role}],
        }),
    );
    Some(id)
}

/// Same text apart from surrounding and repeated spaces; exact otherwise, so that
/// reading the shared resource back gives each field as written.
fn same_name(a: &str, b: &str) -> bool {
    a.split_whitespace().eq(b.split_whitespace())
}

fn organization(name: Option<&str>, identifier: Option<Value>) -> Value {
    json!({
        "resourceType": "Organization",
        "identifier": [identifier],
        "name": name.map(str::trim),
    })
}

/// Configured organisation ids are ODS codes for NHS bodies, but may be local names
/// such as `TT-NORTH`; only code-shaped ids are claimed as ODS codes.
pub fn org_identifier(id: &OrgId) -> Value {
    let s = id.as_str();
    let ods_shaped = (3..=10).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric());
    let system = if ods_shaped {
        ODS_SYSTEM
    } else {
        ORGANISATION_ID_SYSTEM
    };
    json!({"system": system, "value": s})
}

const TITLES: &[&str] = &[
    "dr",
    "mr",
    "mrs",
    "ms",
    "miss",
    "mx",
    "prof",
    "professor",
    "sir",
    "dame",
    "rev",
];

/// A HumanName from a name as written ("Dr Amira Haddad", "Kerr, Adam"). `text` keeps
/// the original so reading back is exact; the parts are for systems that need them.
fn human_name(full: &str) -> Value {
    let words: Vec<&str> = full.split_whitespace().collect();
    let is_title = |w: &&str| TITLES.contains(&w.trim_end_matches('.').to_lowercase().as_str());
    let (prefix, rest) = match words.split_first() {
        Some((first, rest)) if is_title(first) && !rest.is_empty() => (Some(*first), rest),
        _ => (None, &words[..]),
    };
    let rest = rest.join(" ");
    let (family, given): (Option<&str>, Vec<&str>) = match rest.split_once(',') {
        // "Family, Given": surname-first lists.
        Some((family, given)) => (Some(family.trim()), given.split_whitespace().collect()),
        None => {
            let mut parts: Vec<&str> = rest.split_whitespace().collect();
            let family = parts.pop();
            (family, parts)
        }
    };
    json!({
        "text": words.join(" "),
        "family": family,
        "given": given,
        "prefix": prefix.map(|p| [p]),
    })
}

/// "GMC 6987012" -> the GMC system and "6987012". Unrecognised forms keep the whole
/// text as the value (an Identifier without a system is valid FHIR).
fn professional_identifier(raw: &str) -> Value {
    let split = raw
        .split_once(char::is_whitespace)
        .map(|(register, number)| (register.trim_end_matches(':'), number.trim()));
    let system = split.and_then(|(register, number)| {
        let system = match register.to_ascii_uppercase().as_str() {
            "GMC" => GMC_SYSTEM,
            "HCPC" => HCPC_SYSTEM,
            "NMC" => NMC_SYSTEM,
            _ => return None,
        };
        let single = !number.is_empty() && !number.contains(char::is_whitespace);
        single.then_some((system, number))
    });
    match system {
        Some((system, value)) => json!({"system": system, "value": value}),
        None => json!({"value": raw}),
    }
}

fn practitioner(name: Option<&str>, professional_id: Option<&str>) -> Value {
    json!({
        "resourceType": "Practitioner",
        "identifier": [professional_id.map(professional_identifier)],
        "name": [name.map(human_name)],
    })
}

fn patient(record: &Referral, p: &Parties) -> Value {
    let pt = &record.patient;
    let nhs =
        text(pt.nhs_number.as_ref()).map(|n| json!({"system": NHS_NUMBER_SYSTEM, "value": n}));
    let name = json!({
        "prefix": [text(pt.title.as_ref())],
        "given": pt.given_names.iter().filter_map(|g| text(Some(g))).collect::<Vec<_>>(),
        "family": text(pt.family_name.as_ref()),
    });
    let address = json!({
        "line": pt.address_lines.iter().filter_map(|l| text(Some(l))).collect::<Vec<_>>(),
        "postalCode": text(pt.postcode.as_ref()),
    });
    // The record's `unknown` means "not stated"; an absent gender reads back the same.
    let gender = (pt.sex != Sex::Unknown).then(|| pt.sex.as_str());
    let interpreter = text(record.preferences.interpreter.as_ref());
    json!({
        "resourceType": "Patient",
        "extension": [interpreter.map(|_| json!({"url": INTERPRETER_REQUIRED, "valueBoolean": true}))],
        "identifier": [nhs],
        "name": [with_use(name, "official")],
        "telecom": [
            text(pt.phone.as_ref()).map(|v| json!({"system": "phone", "value": v})),
            text(pt.email.as_ref()).map(|v| json!({"system": "email", "value": v})),
        ],
        "gender": gender,
        "birthDate": fhir_date(pt.date_of_birth.as_ref()),
        "address": [with_use(address, "home")],
        "generalPractitioner": [
            p.gp.as_ref().map(|(id, name)| reference_shown(*id, name.as_deref())),
            p.practice.as_ref().map(|(id, name)| reference_shown(*id, name.as_deref())),
        ],
        "communication": [interpreter.map(|language| json!({"language": {"text": language}, "preferred": true}))],
    })
}

/// Adds `use` to a datatype that has content; `None` when it has none, so a bare
/// `{"use": ...}` is never written.
fn with_use(value: Value, use_code: &str) -> Option<Value> {
    match prune(value)? {
        Value::Object(mut map) => {
            map.insert("use".into(), Value::String(use_code.into()));
            Some(Value::Object(map))
        }
        _ => None,
    }
}

const PHQ9_DISPLAY: &str = "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]";
const GAD7_DISPLAY: &str = "Generalized anxiety disorder 7 item (GAD-7) total score [Reported.PHQ]";

/// One Observation per quoted score, referenced from `ServiceRequest.supportingInfo`.
/// No `effective[x]`: the letter gives the score, not when it was taken.
fn observations(record: &Referral, patient: Uuid, w: &mut Writer) -> Vec<Uuid> {
    let m = &record.measures;
    let loinc = |code: &str, display: &str, label: &str| json!({"coding": [{"system": LOINC, "code": code, "display": display}], "text": label});
    // HADS subscales have no LOINC code we can vouch for; text alone is a valid concept.
    let measures = [
        (
            "Observation/phq9",
            m.phq9,
            loinc(LOINC_PHQ9, PHQ9_DISPLAY, "PHQ-9 total score"),
        ),
        (
            "Observation/gad7",
            m.gad7,
            loinc(LOINC_GAD7, GAD7_DISPLAY, "GAD-7 total score"),
        ),
        (
            "Observation/hads-anxiety",
            m.hads_anxiety,
            json!({"text": "HADS anxiety subscale score"}),
        ),
        (
            "Observation/hads-depression",
            m.hads_depression,
            json!({"text": "HADS depression subscale score"}),
        ),
    ];
    let mut ids = Vec::new();
    for (role, value, code) in measures {
        // FHIR `integer` is 32-bit; scores are small, so this only guards against nonsense.
        let Some(value) = value.and_then(|v| i32::try_from(v).ok()) else {
            continue;
        };
        let id = w.derive(role);
        w.push(
            id,
            json!({
                "resourceType": "Observation",
                "status": "final",
                "category": [{"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                    "code": "survey",
                    "display": "Survey",
                }]}],
                "code": code,
                "subject": reference(patient),
                "valueInteger": value,
            }),
        );
        ids.push(id);
    }
    ids
}

fn risk_flag(patient: Uuid) -> Value {
    json!({
        "resourceType": "Flag",
        "status": "active",
        "category": [{"text": "Risk"}],
        "code": {"text": "Risk of harm to self or others reported"},
        "subject": reference(patient),
    })
}

/// A supporting document, carried like the original (same attachment rules).
fn supporting_document(
    doc: &Document,
    index: usize,
    patient: Uuid,
    instant: &str,
) -> Option<Value> {
    // A file name is free text from the sender: no control characters, one line.
    let title = doc
        .title
        .as_deref()
        .map(|t| t.chars().filter(|c| !c.is_control()).collect::<String>())
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| format!("Supporting document {}", index + 1));
    let mut resource = document_reference(&doc.media_type, &doc.bytes, patient, instant, &title)?;
    resource["type"] = json!({"text": "Supporting document"});
    Some(resource)
}

/// The document as submitted. `hash` is base64 SHA-1 because R4 `Attachment.hash`
/// is defined as SHA-1; an empty document carries nothing and is left out.
fn original_document(meta: &MessageMeta, patient: Uuid, instant: &str) -> Option<Value> {
    let (media_type, bytes) = meta.original.as_ref()?;
    document_reference(media_type, bytes, patient, instant, "Referral as submitted")
}

fn document_reference(
    media_type: &str,
    bytes: &[u8],
    patient: Uuid,
    instant: &str,
    title: &str,
) -> Option<Value> {
    if bytes.is_empty() {
        return None;
    }
    // `contentType` is required when `data` is present (att-1), and a FHIR code allows
    // only single spaces between words.
    let content_type = media_type.split_whitespace().collect::<Vec<_>>().join(" ");
    let content_type = Some(content_type)
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    let hash = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, bytes);
    Some(json!({
        "resourceType": "DocumentReference",
        "status": "current",
        "type": {"text": "Referral letter"},
        "subject": reference(patient),
        "date": instant,
        "content": [{"attachment": {
            "contentType": content_type,
            "data": BASE64.encode(bytes),
            // unsignedInt is 32-bit signed-positive; documents over 2 GiB are not accepted.
            "size": i32::try_from(bytes.len()).ok(),
            "hash": BASE64.encode(hash.as_ref()),
            "title": title,
        }}],
    }))
}

/// Who made this record: the referring organisation wrote it, the gateway assembled
/// it, from the original document when there is one.
fn provenance_of(
    p: &Parties,
    document: Option<Uuid>,
    reviewer: Option<&(OrgId, String)>,
    instant: &str,
    request: Uuid,
) -> Value {
    let participant = |code: &str, display: &str| {
        json!({"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
            "code": code,
            "display": display,
        }]})
    };
    json!({
        "resourceType": "Provenance",
        "target": [reference(request)],
        "recorded": instant,
        "agent": [
            {"type": participant("author", "Author"), "who": reference(p.sender)},
            {"type": participant("assembler", "Assembler"), "who": {"display": "refgate"}},
            // The operator who checked (and perhaps corrected) it in the review queue.
            reviewer.map(|(org, name)| json!({
                "type": participant("verifier", "Verifier"),
                "who": {"identifier": org_identifier(org), "display": name},
            })),
        ],
        "entity": [document.map(|d| json!({"role": "source", "what": reference(d)}))],
    })
}

fn service_request(
    record: &Referral,
    meta: &MessageMeta,
    p: &Parties,
    supporting: &[Uuid],
) -> Value {
    let instruction = record
        .preferences
        .telephone_ok
        .map(|ok| if ok { TELEPHONE_OK } else { FACE_TO_FACE_ONLY });
    let reasons: Vec<Value> = record
        .diagnoses
        .iter()
        .filter_map(|d| text(Some(d)))
        .map(|d| json!({"text": d}))
        .collect();
    json!({
        "resourceType": "ServiceRequest",
        "identifier": [{"system": REFERRAL_ID_SYSTEM, "value": meta.referral_id.to_string()}],
        "status": "active",
        "intent": "order",
        "category": [{"coding": [{"system": SNOMED, "code": "3457005", "display": "Patient referral"}]}],
        "priority": record.urgency.as_str(),
        "code": {"text": text(record.requested_service.as_ref())},
        "subject": reference(p.patient),
        "authoredOn": fhir_date(record.letter_date.as_ref()),
        "requester": p.requester.map(reference),
        "performer": [reference(p.provider)],
        "reasonCode": reasons,
        "supportingInfo": supporting.iter().copied().map(reference).collect::<Vec<_>>(),
        "note": [record.risk_flag.then(|| json!({"text": RISK_NOTE}))],
        "patientInstruction": instruction,
    })
}

fn message_header(meta: &MessageMeta, p: &Parties, request: Uuid) -> Value {
    // `endpoint` is 1..1; a blank setting still yields a valid uri.
    let source = Some(meta.source_endpoint.trim())
        .filter(|s| !s.is_empty())
        .unwrap_or("urn:refgate");
    let base = source.trim_end_matches('/');
    json!({
        "resourceType": "MessageHeader",
        "eventCoding": {
            "system": MESSAGE_EVENT_SYSTEM,
            "code": "servicerequest-request",
            "display": "ServiceRequest - Request",
        },
        "destination": [{
            "name": meta.destination.1.trim(),
            // The provider takes delivery from the gateway's inbox.
            "endpoint": format!("{base}/inbox"),
            "receiver": reference(p.provider),
        }],
        "sender": reference(p.sender),
        "source": {
            "name": "refgate",
            "software": "refgate",
            "version": env!("CARGO_PKG_VERSION"),
            "endpoint": source,
        },
        "focus": [reference(request)],
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use chrono::TimeZone;

    use super::*;
    use crate::domain::{Gp, Measures, Patient, Preferences, Referrer, Urgency};

    fn org(s: &str) -> OrgId {
        OrgId::parse(s).expect("test org id is valid")
    }

    fn meta(original: Option<(String, Vec<u8>)>) -> MessageMeta {
        let id = Uuid::parse_str("2f1d6c1e-5a77-4d0c-9a39-0b1f3f7c9e42").expect("uuid");
        MessageMeta {
            message_id: id,
            referral_id: ReferralId::parse(&id.to_string()).expect("referral id"),
            timestamp: chrono::Utc
                .with_ymd_and_hms(2024, 5, 9, 9, 30, 0)
                .single()
                .expect("valid time"),
            source_endpoint: "https://refgate.example.nhs.uk:8443/".into(),
            sender: (org("RXR01"), "West Lancashire Rheumatology".into()),
            destination: (org("TT-NORTH"), "NHS Talking Therapies North".into()),
            original,
            supporting: Vec::new(),
            reviewed_by: Some((org("OPS"), "Gateway operations".into())),
        }
    }

    fn full() -> Referral {
        Referral {
            is_referral: true,
            patient: Patient {
                nhs_number: Some("9990104735".into()),
                nhs_number_valid: Some(true),
                title: Some("Mrs".into()),
                given_names: vec!["Lorraine".into(), "Ann".into()],
                family_name: Some("Hesketh".into()),
                date_of_birth: Some("1970-11-02".into()),
                sex: Sex::Female,
                address_lines: vec!["19 Church Street".into(), "Ormskirk".into()],
                postcode: Some("L39 3AN".into()),
                phone: Some("07700900201".into()),
                email: Some("l.hesketh@example.com".into()),
            },
            gp: Gp {
                name: Some("Dr Peter Yates".into()),
                practice: Some("Church Street Surgery".into()),
                ods_code: Some("N81099".into()),
            },
            referrer: Referrer {
                name: Some("Dr Amira Haddad".into()),
                role: Some("Consultant Rheumatologist".into()),
                organisation: Some("Ormskirk Pain Service".into()),
                professional_id: Some("GMC 6987012".into()),
            },
            letter_date: Some("2024-05-09".into()),
            diagnoses: vec!["Fibromyalgia".into(), "Depression".into()],
            measures: Measures {
                hads_anxiety: Some(12),
                hads_depression: Some(9),
                phq9: Some(17),
                gad7: Some(14),
            },
            risk_flag: true,
            urgency: Urgency::Urgent,
            preferences: Preferences {
                telephone_ok: Some(false),
                interpreter: Some("Turkish".into()),
            },
            requested_service: Some("Telephone CBT for chronic pain".into()),
            confidence: Default::default(),
            provenance: Default::default(),
        }
    }

    fn minimal() -> Referral {
        Referral {
            patient: Patient {
                nhs_number: Some("9990702314".into()),
                nhs_number_valid: Some(true),
                family_name: Some("Pearson".into()),
                ..Patient::default()
            },
            referrer: Referrer {
                name: Some("Dr Martin Oduya".into()),
                ..Referrer::default()
            },
            ..Referral::default()
        }
    }

    const LETTER: &[u8] = b"Dear colleague,\nThank you for seeing Mrs Hesketh.\n";

    fn full_bundle() -> Value {
        write_message(
            &full(),
            &meta(Some(("text/plain; charset=utf-8".into(), LETTER.to_vec()))),
        )
    }

    fn minimal_bundle() -> Value {
        write_message(&minimal(), &meta(None))
    }

    fn resources<'a>(bundle: &'a Value, kind: &str) -> Vec<&'a Value> {
        bundle["entry"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| &e["resource"])
            .filter(|r| r["resourceType"] == kind)
            .collect()
    }

    fn one<'a>(bundle: &'a Value, kind: &str) -> &'a Value {
        let found = resources(bundle, kind);
        assert_eq!(found.len(), 1, "{kind}");
        found[0]
    }

    /// Every path holding null or an empty string, array or object.
    fn empties(v: &Value, path: &str, out: &mut Vec<String>) {
        match v {
            Value::Null => out.push(path.to_owned()),
            Value::String(s) if s.trim().is_empty() => out.push(path.to_owned()),
            Value::Array(a) if a.is_empty() => out.push(path.to_owned()),
            Value::Object(o) if o.is_empty() => out.push(path.to_owned()),
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    empties(x, &format!("{path}[{i}]"), out);
                }
            }
            Value::Object(o) => {
                for (k, x) in o {
                    empties(x, &format!("{path}.{k}"), out);
                }
            }
            _ => {}
        }
    }

    fn references(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                for (k, x) in o {
                    match (k.as_str(), x) {
                        ("reference", Value::String(s)) => out.push(s.clone()),
                        _ => references(x, out),
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|x| references(x, out)),
            _ => {}
        }
    }

    fn assert_well_formed(bundle: &Value) {
        assert_eq!(bundle["resourceType"], "Bundle");
        assert_eq!(bundle["type"], "message");
        assert_eq!(bundle["id"], "2f1d6c1e-5a77-4d0c-9a39-0b1f3f7c9e42");
        assert_eq!(
            bundle["identifier"]["value"],
            "urn:uuid:2f1d6c1e-5a77-4d0c-9a39-0b1f3f7c9e42"
        );
        assert_eq!(bundle["timestamp"], "2024-05-09T09:30:00+00:00");
        assert_eq!(bundle["meta"]["lastUpdated"], "2024-05-09T09:30:00+00:00");
        assert_eq!(
            bundle["entry"][0]["resource"]["resourceType"],
            "MessageHeader"
        );

        let mut bad = Vec::new();
        empties(bundle, "Bundle", &mut bad);
        assert!(bad.is_empty(), "null or empty values at {bad:?}");

        let entries = bundle["entry"].as_array().expect("entries");
        let mut urls = BTreeSet::new();
        for e in entries {
            let url = e["fullUrl"].as_str().expect("fullUrl");
            let id = e["resource"]["id"].as_str().expect("resource id");
            assert_eq!(url, format!("urn:uuid:{id}"));
            assert!(Uuid::parse_str(id).is_ok(), "{id}");
            assert!(urls.insert(url.to_owned()), "duplicate fullUrl {url}");
        }
        let mut refs = Vec::new();
        references(bundle, &mut refs);
        assert!(!refs.is_empty());
        for r in &refs {
            assert!(urls.contains(r), "dangling reference {r}");
        }

        let header = &entries[0]["resource"];
        let request = one(bundle, "ServiceRequest");
        assert_eq!(
            header["focus"][0]["reference"],
            format!("urn:uuid:{}", request["id"].as_str().expect("id"))
        );
        assert_eq!(header["eventCoding"]["code"], "servicerequest-request");
        assert_eq!(header["eventCoding"]["system"], MESSAGE_EVENT_SYSTEM);
        assert_eq!(
            header["source"]["endpoint"],
            "https://refgate.example.nhs.uk:8443/"
        );
        assert_eq!(
            header["destination"][0]["endpoint"],
            "https://refgate.example.nhs.uk:8443/inbox"
        );
        assert_eq!(request["status"], "active");
        assert_eq!(request["intent"], "order");
        assert_eq!(request["identifier"][0]["system"], REFERRAL_ID_SYSTEM);
        assert_eq!(request["identifier"][0]["value"], bundle["id"]);
    }

    fn compact(v: &Value) -> String {
        serde_json::to_string(v).expect("json serialises")
    }

    #[test]
    fn a_full_record_becomes_a_well_formed_message() {
        let b = full_bundle();
        assert_well_formed(&b);

        let patient = one(&b, "Patient");
        assert_eq!(patient["identifier"][0]["system"], NHS_NUMBER_SYSTEM);
        assert_eq!(patient["identifier"][0]["value"], "9990104735");
        assert_eq!(patient["name"][0]["prefix"][0], "Mrs");
        assert_eq!(patient["name"][0]["given"], json!(["Lorraine", "Ann"]));
        assert_eq!(patient["name"][0]["family"], "Hesketh");
        assert_eq!(patient["gender"], "female");
        assert_eq!(patient["birthDate"], "1970-11-02");
        assert_eq!(patient["address"][0]["postalCode"], "L39 3AN");
        assert_eq!(patient["telecom"].as_array().map(Vec::len), Some(2));
        assert_eq!(patient["communication"][0]["language"]["text"], "Turkish");
        assert_eq!(patient["extension"][0]["url"], INTERPRETER_REQUIRED);
        assert_eq!(
            patient["generalPractitioner"].as_array().map(Vec::len),
            Some(2)
        );

        let request = one(&b, "ServiceRequest");
        assert_eq!(request["priority"], "urgent");
        assert_eq!(request["authoredOn"], "2024-05-09");
        assert_eq!(request["code"]["text"], "Telephone CBT for chronic pain");
        assert_eq!(request["reasonCode"][1]["text"], "Depression");
        assert_eq!(request["note"][0]["text"], RISK_NOTE);
        assert_eq!(request["patientInstruction"], FACE_TO_FACE_ONLY);
        // 4 observations, the risk flag and the original document.
        assert_eq!(request["supportingInfo"].as_array().map(Vec::len), Some(6));

        let observations = resources(&b, "Observation");
        let loinc: Vec<(&Value, &Value)> = observations
            .iter()
            .filter(|o| o["code"]["coding"][0]["system"] == LOINC)
            .map(|o| (&o["code"]["coding"][0]["code"], &o["valueInteger"]))
            .collect();
        assert_eq!(
            loinc,
            vec![
                (&json!("44261-6"), &json!(17)),
                (&json!("70274-6"), &json!(14))
            ]
        );
        assert!(
            observations
                .iter()
                .any(|o| o["code"]["text"] == "HADS anxiety subscale score"
                    && o["valueInteger"] == 12)
        );
        assert!(
            observations
                .iter()
                .all(|o| o["category"][0]["coding"][0]["code"] == "survey")
        );

        assert_eq!(one(&b, "Flag")["status"], "active");

        // Referrer, GP; three named organisations plus the provider.
        let practitioners = resources(&b, "Practitioner");
        assert_eq!(practitioners.len(), 2);
        let referrer = practitioners
            .iter()
            .find(|p| p["identifier"].is_array())
            .expect("referrer");
        assert_eq!(
            referrer["identifier"][0],
            json!({"system": GMC_SYSTEM, "value": "6987012"})
        );
        assert_eq!(referrer["name"][0]["text"], "Dr Amira Haddad");
        assert_eq!(
            one(&b, "PractitionerRole")["code"][0]["text"],
            "Consultant Rheumatologist"
        );
        let orgs = resources(&b, "Organization");
        assert_eq!(orgs.len(), 4);
        assert!(
            orgs.iter()
                .any(|o| o["identifier"][0] == json!({"system": ODS_SYSTEM, "value": "N81099"}))
        );
        assert!(
            orgs.iter()
                .any(|o| o["identifier"][0] == json!({"system": ODS_SYSTEM, "value": "RXR01"}))
        );
        assert!(orgs.iter().any(|o| o["identifier"][0]
            == json!({"system": ORGANISATION_ID_SYSTEM, "value": "TT-NORTH"})));
        assert_eq!(one(&b, "Provenance")["entity"][0]["role"], "source");
    }

    #[test]
    fn the_original_document_is_carried_with_its_sha1_hash() {
        let b = full_bundle();
        let attachment = &one(&b, "DocumentReference")["content"][0]["attachment"];
        assert_eq!(attachment["contentType"], "text/plain; charset=utf-8");
        assert_eq!(attachment["size"], LETTER.len());
        assert_eq!(attachment["data"], BASE64.encode(LETTER));
        let sha1 = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, LETTER);
        assert_eq!(attachment["hash"], BASE64.encode(sha1.as_ref()));

        // FIPS 180 test vector: SHA-1("abc") = a9993e36...d89d.
        let b = write_message(
            &minimal(),
            &meta(Some(("application/pdf".into(), b"abc".to_vec()))),
        );
        let attachment = &one(&b, "DocumentReference")["content"][0]["attachment"];
        assert_eq!(attachment["hash"], "qZk+NkcGgWq6PiVxeFDCbJzQ2J0=");
    }

    #[test]
    fn a_minimal_record_becomes_a_well_formed_message() {
        let b = minimal_bundle();
        assert_well_formed(&b);
        let patient = one(&b, "Patient");
        assert_eq!(
            patient,
            &json!({
                "resourceType": "Patient",
                "id": patient["id"],
                "identifier": [{"system": NHS_NUMBER_SYSTEM, "value": "9990702314"}],
                "name": [{"use": "official", "family": "Pearson"}],
            })
        );
        let request = one(&b, "ServiceRequest");
        assert_eq!(request["priority"], "routine");
        for absent in [
            "code",
            "authoredOn",
            "reasonCode",
            "supportingInfo",
            "note",
            "patientInstruction",
        ] {
            assert!(request.get(absent).is_none(), "{absent}");
        }
        assert!(request["requester"]["reference"].is_string());
        assert_eq!(one(&b, "Practitioner")["name"][0]["family"], "Oduya");
        for absent in ["Observation", "Flag", "DocumentReference"] {
            assert!(resources(&b, absent).is_empty(), "{absent}");
        }
    }

    #[test]
    fn the_same_referral_gives_byte_identical_bundles() {
        assert_eq!(compact(&full_bundle()), compact(&full_bundle()));
        assert_eq!(compact(&minimal_bundle()), compact(&minimal_bundle()));
        let mut other = meta(None);
        other.message_id = Uuid::nil();
        let a = write_message(&minimal(), &other);
        assert_ne!(
            a["entry"][0]["fullUrl"],
            minimal_bundle()["entry"][0]["fullUrl"]
        );
    }

    #[test]
    fn derived_ids_are_rfc4122_version5() {
        // RFC 4122 v5 of the DNS namespace and "python.org" (Python's uuid docs).
        let id = derived_id(Uuid::NAMESPACE_DNS, "python.org");
        assert_eq!(id.to_string(), "886313e1-3b8a-5372-9b90-0c9aee199e5d");
    }

    #[test]
    fn a_gp_referring_is_one_practitioner_and_one_practice() {
        let mut r = full();
        r.referrer = Referrer {
            name: Some("Dr Peter Yates".into()),
            role: Some("General Practitioner".into()),
            organisation: Some("Church Street Surgery".into()),
            professional_id: None,
        };
        let b = write_message(&r, &meta(None));
        assert_well_formed(&b);
        let gp = one(&b, "Practitioner");
        let gp_url = format!("urn:uuid:{}", gp["id"].as_str().expect("id"));
        assert_eq!(
            one(&b, "PractitionerRole")["practitioner"]["reference"],
            gp_url.as_str()
        );
        assert_eq!(
            one(&b, "Patient")["generalPractitioner"][0]["reference"],
            gp_url.as_str()
        );
        // Sender, provider and the practice (which the PractitionerRole points at).
        let orgs = resources(&b, "Organization");
        assert_eq!(orgs.len(), 3);
        let practice = orgs
            .iter()
            .find(|o| o["name"] == "Church Street Surgery")
            .expect("practice");
        assert_eq!(
            one(&b, "PractitionerRole")["organization"]["reference"],
            format!("urn:uuid:{}", practice["id"].as_str().expect("id")).as_str()
        );
    }

    #[test]
    fn names_and_professional_ids_are_split_into_parts() {
        assert_eq!(
            human_name("Dr  Amira Haddad"),
            json!({"text": "Dr Amira Haddad", "prefix": ["Dr"], "given": ["Amira"], "family": "Haddad"})
        );
        let n = human_name("Kerr, Adam J");
        assert_eq!(
            (&n["family"], &n["given"]),
            (&json!("Kerr"), &json!(["Adam", "J"]))
        );
        assert_eq!(
            prune(human_name("Lucy Barnes")).expect("name")["prefix"],
            Value::Null
        );
        assert_eq!(
            professional_identifier("HCPC PH165502"),
            json!({"system": HCPC_SYSTEM, "value": "PH165502"})
        );
        assert_eq!(
            professional_identifier("GMC: 6987012"),
            json!({"system": GMC_SYSTEM, "value": "6987012"})
        );
        assert_eq!(
            professional_identifier("SDS 5550 1234"),
            json!({"value": "SDS 5550 1234"})
        );
    }

    #[test]
    fn control_characters_and_blank_items_are_not_written() {
        let mut r = minimal();
        r.diagnoses = vec!["Chronic\u{c}pain".into(), "  ".into()];
        let b = write_message(
            &r,
            &meta(Some(("text/plain;  charset=utf-8".into(), b"x".to_vec()))),
        );
        assert_well_formed(&b);
        assert_eq!(
            one(&b, "ServiceRequest")["reasonCode"],
            json!([{"text": "Chronic pain"}])
        );
        let attachment = &one(&b, "DocumentReference")["content"][0]["attachment"];
        assert_eq!(attachment["contentType"], "text/plain; charset=utf-8");
    }

    #[test]
    fn telephone_preference_becomes_patient_instruction() {
        let mut r = minimal();
        r.preferences.telephone_ok = Some(true);
        let b = write_message(&r, &meta(None));
        assert_eq!(
            one(&b, "ServiceRequest")["patientInstruction"],
            TELEPHONE_OK
        );
    }

    #[test]
    fn dates_that_are_not_fhir_dates_are_left_out() {
        assert_eq!(
            fhir_date(Some(&"2024-5-9".to_owned())),
            Some("2024-05-09".to_owned())
        );
        assert_eq!(fhir_date(Some(&"09/05/2024".to_owned())), None);
        assert_eq!(fhir_date(Some(&" ".to_owned())), None);
    }

    /// Writes both example Bundles for the third-party validators when
    /// `REFGATE_FHIR_EXAMPLES_DIR` is set (`scripts`/CI run validate_fhir.py on them).
    #[test]
    fn example_bundles_can_be_written_for_external_validation() {
        let Some(dir) = std::env::var_os("REFGATE_FHIR_EXAMPLES_DIR") else {
            return;
        };
        let dir = std::path::PathBuf::from(dir);
        for (name, bundle) in [("full", full_bundle()), ("minimal", minimal_bundle())] {
            let text = serde_json::to_string_pretty(&bundle).expect("json serialises");
            std::fs::write(dir.join(format!("refgate-bundle-{name}.json")), text)
                .expect("write example");
        }
    }
}
