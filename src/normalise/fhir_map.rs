//! FHIR R4 Bundle -> referral record, by the mapping table of DESIGN.md ("The record in
//! FHIR, both ways"). `fhir_write` is the other direction and follows the same table.
//!
//! The Bundle has passed `schemas/fhir-bundle.schema.json`, so element types are right;
//! this module finds the resources (by reference, as FHIR intends, not by position) and
//! reports what is missing or contradictory, each problem with its Bundle path.

use serde_json::Value;

use super::cues::{self, RiskFinding};
use super::{IssueCode, Problem, SourcePaths};
use crate::domain::{Referral, Sex, Urgency};

pub const NHS_NUMBER_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhs-number";
pub const ODS_SYSTEM: &str = "https://fhir.nhs.uk/Id/ods-organization-code";
pub const GMC_SYSTEM: &str = "https://fhir.hl7.org.uk/Id/gmc-number";
/// Letters print the bare 7-digit GMC reference number; accept its own system too.
pub const GMC_REFERENCE_SYSTEM: &str = "https://fhir.nhs.uk/Id/gmc-reference-number";
pub const HCPC_SYSTEM: &str = "https://fhir.hl7.org.uk/Id/hcpc-number";
pub const NMC_SYSTEM: &str = "https://fhir.hl7.org.uk/Id/nmc-number";
pub const LOINC: &str = "http://loinc.org";
pub const LOINC_PHQ9: &str = "44261-6";
pub const LOINC_GAD7: &str = "70274-6";
pub const INTERPRETER_REQUIRED: &str =
    "http://hl7.org/fhir/StructureDefinition/patient-interpreterRequired";

/// One entry of the Bundle with its position, for paths.
#[derive(Clone, Copy)]
struct Entry<'a> {
    index: usize,
    full_url: Option<&'a str>,
    resource: &'a Value,
}

impl<'a> Entry<'a> {
    fn kind(&self) -> &'a str {
        self.resource["resourceType"].as_str().unwrap_or_default()
    }
    fn path(&self, rest: &str) -> String {
        format!("Bundle.entry[{}].resource{rest}", self.index)
    }
    fn get(&self, key: &str) -> &'a Value {
        &self.resource[key]
    }
}

struct Bundle<'a> {
    entries: Vec<Entry<'a>>,
}

impl<'a> Bundle<'a> {
    fn new(doc: &'a Value) -> Self {
        let entries = doc["entry"]
            .as_array()
            .map(|a| a.as_slice())
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(index, e)| Entry {
                index,
                full_url: e["fullUrl"].as_str(),
                resource: &e["resource"],
            })
            .collect();
        Self { entries }
    }

    fn first(&self, kind: &str) -> Option<Entry<'a>> {
        self.entries.iter().copied().find(|e| e.kind() == kind)
    }

    fn all(&self, kind: &'a str) -> impl Iterator<Item = Entry<'a>> + '_ {
        self.entries
            .iter()
            .copied()
            .filter(move |e| e.kind() == kind)
    }

    /// Resolves a Reference inside the Bundle: by `fullUrl` (urn:uuid or absolute), or by
    /// `Type/id` against each resource's type and id (FHIR's resolution rules).
    fn resolve(&self, reference: &Value) -> Option<Entry<'a>> {
        let target = reference["reference"].as_str()?;
        self.entries.iter().copied().find(|e| {
            e.full_url == Some(target)
                || e.resource["id"]
                    .as_str()
                    .is_some_and(|id| target == format!("{}/{id}", e.kind()))
                || e.full_url
                    .is_some_and(|u| u.ends_with(&format!("/{target}")) && target.contains('/'))
        })
    }
}

/// Reads a referral from a FHIR Bundle (message, transaction or collection).
///
/// # Errors
/// Every structural problem found: no ServiceRequest, no Patient, a message Bundle that
/// does not start with its MessageHeader, references that do not resolve.
pub fn read_bundle(doc: &Value) -> Result<(Referral, SourcePaths), Vec<Problem>> {
    let bundle = Bundle::new(doc);
    let mut problems = Vec::new();
    let mut paths = SourcePaths::new();
    let mut r = Referral {
        is_referral: true,
        ..Referral::default()
    };

    let request = find_request(doc, &bundle, &mut problems);
    let Some(request) = request else {
        return Err(problems);
    };
    let patient = match bundle.resolve(request.get("subject")) {
        Some(e) if e.kind() == "Patient" => Some(e),
        Some(_) => {
            problems.push(Problem::new(
                IssueCode::Invalid,
                request.path(".subject"),
                "subject must be the Patient being referred",
            ));
            None
        }
        None if request.get("subject")["reference"].is_string() => {
            problems.push(Problem::new(
                IssueCode::Required,
                request.path(".subject.reference"),
                "reference does not resolve to a Patient in the Bundle",
            ));
            None
        }
        None => bundle.first("Patient"),
    };
    match patient {
        Some(p) => read_patient(&bundle, p, &mut r, &mut paths),
        None if problems.is_empty() => problems.push(Problem::new(
            IssueCode::Required,
            "Bundle.entry",
            "bundle has no Patient",
        )),
        None => {}
    }
    read_request(&bundle, request, &mut r, &mut paths);
    let flag_risk = read_flags(&bundle, patient, &mut paths);
    let note_risk = request
        .get("note")
        .as_array()
        .map_or(RiskFinding::default(), |notes| {
            notes
                .iter()
                .filter_map(|n| n["text"].as_str())
                .map(cues::risk)
                .fold(RiskFinding::default(), RiskFinding::or)
        });
    let risk = flag_risk.or(note_risk);
    r.risk_flag = risk.mentioned;
    if risk.current {
        r.urgency = Urgency::Urgent;
    }
    read_measures(&bundle, request, patient, &mut r, &mut paths, &mut problems);

    if problems.is_empty() {
        Ok((r, paths))
    } else {
        Err(problems)
    }
}

/// The ServiceRequest: a message's focus, else the Bundle's one ServiceRequest.
fn find_request<'a>(
    doc: &Value,
    bundle: &Bundle<'a>,
    problems: &mut Vec<Problem>,
) -> Option<Entry<'a>> {
    if doc["type"] == "message" {
        let Some(header) = bundle
            .entries
            .first()
            .filter(|e| e.kind() == "MessageHeader")
        else {
            problems.push(Problem::new(
                IssueCode::Structure,
                "Bundle.entry[0]",
                "a message Bundle must start with its MessageHeader",
            ));
            return None;
        };
        if let Some(focus) = header.get("focus").as_array().and_then(|f| f.first()) {
            return match bundle.resolve(focus) {
                Some(e) if e.kind() == "ServiceRequest" => Some(e),
                _ => {
                    problems.push(Problem::new(
                        IssueCode::Required,
                        header.path(".focus[0]"),
                        "message focus must reference the ServiceRequest in the Bundle",
                    ));
                    None
                }
            };
        }
    }
    let mut requests = bundle.all("ServiceRequest");
    match (requests.next(), requests.next()) {
        (Some(one), None) => Some(one),
        (Some(_), Some(second)) => {
            problems.push(Problem::new(
                IssueCode::BusinessRule,
                second.path(""),
                "one referral per Bundle: more than one ServiceRequest",
            ));
            None
        }
        (None, _) => {
            problems.push(Problem::new(
                IssueCode::Required,
                "Bundle.entry",
                "bundle has no ServiceRequest",
            ));
            None
        }
    }
}

fn read_patient(bundle: &Bundle<'_>, p: Entry<'_>, r: &mut Referral, paths: &mut SourcePaths) {
    let out = &mut r.patient;
    if let Some((i, id)) = identifier(p.get("identifier"), &[NHS_NUMBER_SYSTEM]) {
        out.nhs_number = id["value"].as_str().map(str::to_owned);
        paths.insert(
            "patient.nhs_number",
            p.path(&format!(".identifier[{i}].value")),
        );
    }
    if let Some((i, name)) = preferred(p.get("name"), "official") {
        out.title = name["prefix"][0].as_str().map(str::to_owned);
        out.given_names = strings(&name["given"]);
        out.family_name = name["family"].as_str().map(str::to_owned);
        paths.insert("patient.family_name", p.path(&format!(".name[{i}].family")));
    }
    out.sex = match p.get("gender").as_str() {
        Some("female") => Sex::Female,
        Some("male") => Sex::Male,
        _ => Sex::Unknown,
    };
    // A partial birthDate (year or year-month) is valid FHIR but not a date of birth:
    // leave it unknown rather than guess the rest.
    if let Some(dob) = p.get("birthDate").as_str().filter(|d| d.len() == 10) {
        out.date_of_birth = Some(dob.to_owned());
        paths.insert("patient.date_of_birth", p.path(".birthDate"));
    }
    if let Some((i, address)) = preferred(p.get("address"), "home") {
        let mut lines = strings(&address["line"]);
        for part in ["city", "district"] {
            if let Some(s) = address[part].as_str() {
                lines.push(s.to_owned());
            }
        }
        out.address_lines = lines;
        out.postcode = address["postalCode"].as_str().map(str::to_owned);
        paths.insert(
            "patient.postcode",
            p.path(&format!(".address[{i}].postalCode")),
        );
    }
    for (i, t) in p
        .get("telecom")
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let value = t["value"].as_str().map(str::to_owned);
        match t["system"].as_str() {
            Some("phone" | "sms") if out.phone.is_none() => {
                out.phone = value;
                paths.insert("patient.phone", p.path(&format!(".telecom[{i}].value")));
            }
            Some("email") if out.email.is_none() => {
                out.email = value;
                paths.insert("patient.email", p.path(&format!(".telecom[{i}].value")));
            }
            _ => {}
        }
    }
    r.preferences.interpreter = interpreter(p.resource);
    for gp in p
        .get("generalPractitioner")
        .as_array()
        .into_iter()
        .flatten()
    {
        read_gp(bundle, gp, r, paths);
    }
}

/// The language an interpreter is needed for: the interpreter-required extension, or a
/// preferred communication language other than English.
fn interpreter(patient: &Value) -> Option<String> {
    let required = patient["extension"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|x| x["url"] == INTERPRETER_REQUIRED && x["valueBoolean"] == true);
    let languages: Vec<(String, bool)> = patient["communication"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| {
            let name = concept_text(&c["language"])?;
            Some((name, c["preferred"] == true))
        })
        .filter(|(name, _)| !name.to_lowercase().starts_with("english"))
        .collect();
    let preferred = languages.iter().find(|(_, p)| *p).or(languages.first());
    match preferred {
        Some((name, is_preferred)) if required || *is_preferred => Some(name.clone()),
        _ => None,
    }
}

/// `generalPractitioner` may point at a Practitioner, an Organization (the practice) or
/// a PractitionerRole; a logical reference with an ODS identifier names the practice.
fn read_gp(bundle: &Bundle<'_>, reference: &Value, r: &mut Referral, paths: &mut SourcePaths) {
    match bundle.resolve(reference) {
        Some(e) if e.kind() == "Practitioner" => {
            r.gp.name = r.gp.name.take().or_else(|| person_name(e.resource));
        }
        Some(e) if e.kind() == "Organization" => read_practice(e, r, paths),
        Some(e) if e.kind() == "PractitionerRole" => {
            if let Some(p) = bundle.resolve(e.get("practitioner")) {
                r.gp.name = r.gp.name.take().or_else(|| person_name(p.resource));
            }
            if let Some(o) = bundle.resolve(e.get("organization")) {
                read_practice(o, r, paths);
            }
        }
        _ => {
            let kind = reference["reference"].as_str().unwrap_or_default();
            if let Some(ods) = reference["identifier"]
                .as_object()
                .filter(|id| id.get("system").and_then(Value::as_str) == Some(ODS_SYSTEM))
                .and_then(|id| id.get("value")?.as_str())
            {
                r.gp.ods_code.get_or_insert_with(|| ods.to_owned());
            }
            let display = reference["display"].as_str().map(str::to_owned);
            if kind.starts_with("Practitioner/") {
                r.gp.name = r.gp.name.take().or(display);
            } else if kind.starts_with("Organization/") || reference["identifier"].is_object() {
                r.gp.practice = r.gp.practice.take().or(display);
            }
        }
    }
}

fn read_practice(org: Entry<'_>, r: &mut Referral, paths: &mut SourcePaths) {
    if r.gp.practice.is_none() {
        r.gp.practice = org.get("name").as_str().map(str::to_owned);
    }
    if r.gp.ods_code.is_none()
        && let Some((i, id)) = identifier(org.get("identifier"), &[ODS_SYSTEM])
    {
        r.gp.ods_code = id["value"].as_str().map(str::to_owned);
        paths.insert("gp.ods_code", org.path(&format!(".identifier[{i}].value")));
    }
}

fn read_request(bundle: &Bundle<'_>, sr: Entry<'_>, r: &mut Referral, paths: &mut SourcePaths) {
    // authoredOn is a dateTime; the letter date is its date part, as written (the
    // sender's own calendar day, not converted to UTC).
    if let Some(authored) = sr.get("authoredOn").as_str().filter(|d| d.len() >= 10) {
        r.letter_date = Some(authored[..10].to_owned());
        paths.insert("letter_date", sr.path(".authoredOn"));
    }
    r.requested_service = concept_text(sr.get("code"));
    r.diagnoses = sr
        .get("reasonCode")
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(concept_text)
        .collect();
    if matches!(
        sr.get("priority").as_str(),
        Some("urgent" | "asap" | "stat")
    ) {
        r.urgency = Urgency::Urgent;
    }
    let mut instructions: Vec<&str> = sr.get("patientInstruction").as_str().into_iter().collect();
    instructions.extend(
        sr.get("note")
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|n| n["text"].as_str()),
    );
    r.preferences.telephone_ok = instructions.iter().find_map(|t| cues::telephone_ok(t));

    let Some(requester) = bundle.resolve(sr.get("requester")) else {
        r.referrer.name = sr.get("requester")["display"].as_str().map(str::to_owned);
        return;
    };
    let (practitioner, organisation) = match requester.kind() {
        "PractitionerRole" => {
            r.referrer.role = requester
                .get("code")
                .as_array()
                .and_then(|c| c.iter().find_map(concept_text));
            (
                bundle.resolve(requester.get("practitioner")),
                bundle.resolve(requester.get("organization")),
            )
        }
        "Practitioner" => (Some(requester), None),
        "Organization" => (None, Some(requester)),
        _ => (None, None),
    };
    if let Some(p) = practitioner {
        r.referrer.name = person_name(p.resource);
        r.referrer.professional_id = professional_id(p.get("identifier"));
        paths.insert("referrer.name", p.path(".name"));
    }
    if let Some(o) = organisation {
        r.referrer.organisation = o.get("name").as_str().map(str::to_owned);
    }
}

/// Risk from Flag resources about the patient (not entered in error). A Flag counts when
/// its category or code says risk, or its code text reads as risk of harm.
fn read_flags(
    bundle: &Bundle<'_>,
    patient: Option<Entry<'_>>,
    paths: &mut SourcePaths,
) -> RiskFinding {
    let mut finding = RiskFinding::default();
    for flag in bundle.all("Flag") {
        if flag.get("status") == "entered-in-error" {
            continue;
        }
        let about_patient = match (bundle.resolve(flag.get("subject")), patient) {
            (Some(s), Some(p)) => s.index == p.index,
            _ => true,
        };
        if !about_patient {
            continue;
        }
        let category = flag
            .get("category")
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(concept_text)
            .any(|c| c.to_lowercase().contains("risk"));
        let code = concept_text(flag.get("code")).unwrap_or_default();
        let wording = cues::risk(&code);
        if category || wording.mentioned {
            finding.mentioned = true;
            // Urgency follows the wording ("thoughts of self-harm disclosed" is current);
            // a bare "Risk" Flag leaves it to the request's priority.
            finding.current |= flag.get("status") == "active" && wording.current;
            paths.insert("risk_flag", flag.path(""));
        }
    }
    finding
}

/// Measures from Observations in `supportingInfo` (the mapping table), falling back to
/// every Observation about the patient when the request references none.
fn read_measures(
    bundle: &Bundle<'_>,
    sr: Entry<'_>,
    patient: Option<Entry<'_>>,
    r: &mut Referral,
    paths: &mut SourcePaths,
    problems: &mut Vec<Problem>,
) {
    let supporting: Vec<Entry<'_>> = sr
        .get("supportingInfo")
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| bundle.resolve(s))
        .filter(|e| e.kind() == "Observation")
        .collect();
    let observations: Vec<Entry<'_>> = if supporting.is_empty() {
        bundle
            .all("Observation")
            .filter(|o| match (bundle.resolve(o.get("subject")), patient) {
                (Some(s), Some(p)) => s.index == p.index,
                _ => true,
            })
            .collect()
    } else {
        supporting
    };
    for obs in observations {
        if matches!(
            obs.get("status").as_str(),
            Some("cancelled" | "entered-in-error")
        ) {
            continue;
        }
        let Some(field) = measure_of(obs.get("code")) else {
            continue;
        };
        let (value, path) = if let Some(v) = obs.get("valueInteger").as_i64() {
            (Some(v), obs.path(".valueInteger"))
        } else {
            let q = &obs.get("valueQuantity")["value"];
            let v = q.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 1e6);
            if q.is_number() && v.is_none() {
                problems.push(Problem::new(
                    IssueCode::Value,
                    obs.path(".valueQuantity.value"),
                    "a questionnaire total score must be a whole number",
                ));
            }
            #[allow(clippy::cast_possible_truncation)] // whole and small, checked above
            (v.map(|f| f as i64), obs.path(".valueQuantity.value"))
        };
        let Some(value) = value else { continue };
        let slot = match field {
            "measures.phq9" => &mut r.measures.phq9,
            "measures.gad7" => &mut r.measures.gad7,
            "measures.hads_anxiety" => &mut r.measures.hads_anxiety,
            _ => &mut r.measures.hads_depression,
        };
        *slot = Some(value);
        paths.insert(field, path);
    }
}

/// Which measure an Observation code means: LOINC for PHQ-9 and GAD-7, text for HADS
/// (it has no LOINC code in common use).
fn measure_of(code: &Value) -> Option<&'static str> {
    for c in code["coding"].as_array().into_iter().flatten() {
        if c["system"] == LOINC {
            match c["code"].as_str() {
                Some(LOINC_PHQ9) => return Some("measures.phq9"),
                Some(LOINC_GAD7) => return Some("measures.gad7"),
                _ => {}
            }
        }
    }
    let text = concept_text(code)?.to_lowercase().replace([' ', '-'], "");
    if text.contains("hads") {
        if text.contains("anx") || text.contains("hadsa") {
            return Some("measures.hads_anxiety");
        }
        if text.contains("depress") || text.contains("hadsd") {
            return Some("measures.hads_depression");
        }
    }
    if text.contains("phq9") && !text.contains("item") {
        return Some("measures.phq9");
    }
    if text.contains("gad7") && !text.contains("item") {
        return Some("measures.gad7");
    }
    None
}

/// "GMC 6987012", "HCPC PH165502", "NMC 12A3456B" from a Practitioner's identifiers.
fn professional_id(identifiers: &Value) -> Option<String> {
    identifiers.as_array()?.iter().find_map(|id| {
        let value = id["value"].as_str()?;
        let register = match id["system"].as_str()? {
            GMC_SYSTEM | GMC_REFERENCE_SYSTEM => "GMC",
            HCPC_SYSTEM => "HCPC",
            NMC_SYSTEM => "NMC",
            _ => return None,
        };
        Some(format!("{register} {value}"))
    })
}

/// A person's name as written: `text` when given, else prefix, given and family joined.
pub fn person_name(resource: &Value) -> Option<String> {
    let (_, name) = preferred(&resource["name"], "official")?;
    if let Some(text) = name["text"].as_str() {
        return Some(text.to_owned());
    }
    let parts: Vec<String> = strings(&name["prefix"])
        .into_iter()
        .chain(strings(&name["given"]))
        .chain(name["family"].as_str().map(str::to_owned))
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// The element with `use` = `wanted`, else the first, with its index.
fn preferred<'a>(list: &'a Value, wanted: &str) -> Option<(usize, &'a Value)> {
    let items = list.as_array()?;
    items
        .iter()
        .enumerate()
        .find(|(_, v)| v["use"] == wanted)
        .or_else(|| items.iter().enumerate().find(|(_, v)| v["use"] != "old"))
}

fn identifier<'a>(list: &'a Value, systems: &[&str]) -> Option<(usize, &'a Value)> {
    list.as_array()?
        .iter()
        .enumerate()
        .find(|(_, id)| id["system"].as_str().is_some_and(|s| systems.contains(&s)))
}

/// A CodeableConcept as text: its `text`, else the first coding's display.
fn concept_text(concept: &Value) -> Option<String> {
    concept["text"]
        .as_str()
        .or_else(|| {
            concept["coding"]
                .as_array()?
                .iter()
                .find_map(|c| c["display"].as_str())
        })
        .map(str::to_owned)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fixture(name: &str) -> Value {
        let path = format!("{}/fixtures/json/{name}.json", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn a_message_bundle_maps_by_the_design_table() {
        let (r, paths) = read_bundle(&fixture("FJ01")).unwrap();
        assert_eq!(r.patient.nhs_number.as_deref(), Some("9990104735"));
        assert_eq!(r.patient.address_lines, ["19 Church Street", "Ormskirk"]);
        assert_eq!(r.gp.name.as_deref(), Some("Dr Peter Yates"));
        assert_eq!(r.gp.ods_code.as_deref(), Some("N81099"));
        assert_eq!(r.referrer.name.as_deref(), Some("Dr Amira Haddad"));
        assert_eq!(r.referrer.professional_id.as_deref(), Some("GMC 6987012"));
        assert_eq!(
            r.referrer.role.as_deref(),
            Some("Consultant Rheumatologist")
        );
        assert_eq!(r.measures.hads_anxiety, Some(12));
        assert_eq!(r.preferences.telephone_ok, Some(true));
        assert!(!r.risk_flag);
        assert_eq!(
            paths["patient.nhs_number"],
            "Bundle.entry[2].resource.identifier[0].value"
        );
    }

    #[test]
    fn a_risk_flag_makes_the_referral_urgent() {
        let (r, _) = read_bundle(&fixture("FJ02")).unwrap();
        assert!(r.risk_flag);
        assert_eq!(r.urgency, Urgency::Urgent);
        assert_eq!(r.measures.phq9, Some(21));
        assert_eq!(
            r.referrer.organisation.as_deref(),
            Some("Mill Lane Medical Centre")
        );
    }

    #[test]
    fn risk_wording_in_a_note_counts_and_negated_wording_does_not() {
        let mut doc = fixture("FJ01");
        doc["entry"][1]["resource"]["note"][0]["text"] =
            json!("Currently having suicidal thoughts.");
        let (r, _) = read_bundle(&doc).unwrap();
        assert!(r.risk_flag);
        assert_eq!(r.urgency, Urgency::Urgent);
        doc["entry"][1]["resource"]["note"][0]["text"] = json!("Denies suicidal thoughts.");
        let (r, _) = read_bundle(&doc).unwrap();
        assert!(!r.risk_flag);
        assert_eq!(r.urgency, Urgency::Routine);
    }

    #[test]
    fn structural_problems_are_reported_with_bundle_paths() {
        let mut doc = fixture("FJ01");
        doc["entry"].as_array_mut().unwrap().swap(0, 1);
        let e = read_bundle(&doc).unwrap_err();
        assert_eq!(e[0].path, "Bundle.entry[0]");

        let doc = json!({"resourceType": "Bundle", "type": "collection", "entry": [
            {"resource": {"resourceType": "Patient"}}]});
        let e = read_bundle(&doc).unwrap_err();
        assert_eq!(e[0].message, "bundle has no ServiceRequest");

        let doc = json!({"resourceType": "Bundle", "type": "collection", "entry": [
            {"resource": {"resourceType": "ServiceRequest", "status": "active", "intent": "order",
                          "subject": {"reference": "urn:uuid:missing"}}}]});
        let e = read_bundle(&doc).unwrap_err();
        assert_eq!(e[0].path, "Bundle.entry[0].resource.subject.reference");
    }

    #[test]
    fn relative_references_and_interpreter_needs_are_read() {
        let doc = json!({"resourceType": "Bundle", "type": "collection", "entry": [
            {"resource": {"resourceType": "ServiceRequest", "status": "active", "intent": "order",
                          "priority": "asap", "subject": {"reference": "Patient/p1"},
                          "requester": {"reference": "Practitioner/d1"}}},
            {"fullUrl": "https://example.org/fhir/Patient/p1",
             "resource": {"resourceType": "Patient", "id": "p1",
                          "extension": [{"url": INTERPRETER_REQUIRED, "valueBoolean": true}],
                          "communication": [{"language": {"text": "Turkish"}}]}},
            {"resource": {"resourceType": "Practitioner", "id": "d1",
                          "name": [{"text": "Dr Jo Bloggs"}],
                          "identifier": [{"system": HCPC_SYSTEM, "value": "PH165502"}]}}]});
        let (r, _) = read_bundle(&doc).unwrap();
        assert_eq!(r.urgency, Urgency::Urgent);
        assert_eq!(r.preferences.interpreter.as_deref(), Some("Turkish"));
        assert_eq!(r.referrer.name.as_deref(), Some("Dr Jo Bloggs"));
        assert_eq!(r.referrer.professional_id.as_deref(), Some("HCPC PH165502"));
    }
}
