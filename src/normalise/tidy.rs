//! Puts mapped values into the record's normal forms (DESIGN.md field notes), the same
//! way for every input format: NHS number digits and its check result, postcode in
//! upper case with one space, phone digits, trimmed text, and a confidence per field.
//!
//! A value that cannot be put in normal form is left as it was so that `validate` can
//! report it at the submitter's path.

use crate::domain::{NhsNumber, Postcode, Referral};

/// Normalises `r` in place. `confidence`, when given, is the reader's certainty for
/// every field it filled (1.0 for structured input, where nothing was inferred);
/// without it the reader's own per-field values are kept. Either way only filled
/// fields keep a confidence.
pub fn tidy(r: &mut Referral, confidence: Option<f64>) {
    let p = &mut r.patient;
    trim_opt(&mut p.nhs_number);
    match p.nhs_number.as_deref().map(NhsNumber::parse) {
        Some(Ok(n)) => {
            p.nhs_number_valid = Some(n.is_valid());
            p.nhs_number = Some(n.as_str().to_owned());
        }
        // Not ten digits: validation rejects it; the check result stays unknown.
        Some(Err(_)) => p.nhs_number_valid = None,
        None => p.nhs_number_valid = None,
    }
    if let Some(pc) = p.postcode.as_deref().and_then(|s| Postcode::parse(s).ok()) {
        p.postcode = Some(pc.as_str().to_owned());
    }
    if let Some(phone) = p.phone.as_deref().and_then(phone_digits) {
        p.phone = Some(phone);
    }
    for field in [
        &mut p.title,
        &mut p.family_name,
        &mut p.date_of_birth,
        &mut p.postcode,
        &mut p.phone,
        &mut p.email,
        &mut r.gp.name,
        &mut r.gp.practice,
        &mut r.gp.ods_code,
        &mut r.referrer.name,
        &mut r.referrer.role,
        &mut r.referrer.organisation,
        &mut r.referrer.professional_id,
        &mut r.letter_date,
        &mut r.requested_service,
        &mut r.preferences.interpreter,
    ] {
        trim_opt(field);
    }
    if let Some(ods) = r.gp.ods_code.as_mut() {
        ods.make_ascii_uppercase();
    }
    for list in [&mut p.given_names, &mut p.address_lines, &mut r.diagnoses] {
        list.iter_mut().for_each(|s| *s = s.trim().to_owned());
        list.retain(|s| !s.is_empty());
    }
    let filled = filled_fields(r);
    r.confidence = match confidence {
        Some(c) => filled.iter().map(|f| ((*f).to_owned(), c)).collect(),
        None => std::mem::take(&mut r.confidence)
            .into_iter()
            .filter(|(f, _)| filled.contains(&f.as_str()))
            .collect(),
    };
    r.provenance.retain(|f, _| filled.contains(&f.as_str()));
}

/// Digits of a phone number written with the usual separators ("07700 900201",
/// "+44 (0)7700-900201" keeps "+44" as "44"). `None` when anything else is in it, so that
/// validation can report it.
fn phone_digits(raw: &str) -> Option<String> {
    if !raw
        .chars()
        .all(|c| c.is_ascii_digit() || " +-().\u{a0}".contains(c))
    {
        return None;
    }
    let without_trunk = raw.replace("(0)", "");
    Some(without_trunk.chars().filter(char::is_ascii_digit).collect())
}

fn trim_opt(v: &mut Option<String>) {
    if let Some(s) = v.as_mut() {
        let t = s.trim();
        if t.is_empty() {
            *v = None;
        } else if t.len() != s.len() {
            *s = t.to_owned();
        }
    }
}

/// The record paths that hold a value.
pub fn filled_fields(r: &Referral) -> Vec<&'static str> {
    presence(r)
        .into_iter()
        .filter_map(|(name, filled)| filled.then_some(name))
        .collect()
}

/// Every record field path, in record order.
pub fn all_fields() -> Vec<&'static str> {
    presence(&Referral::default())
        .into_iter()
        .map(|(name, _)| name)
        .collect()
}

fn presence(r: &Referral) -> [(&'static str, bool); 28] {
    let p = &r.patient;
    let m = &r.measures;
    [
        ("patient.nhs_number", p.nhs_number.is_some()),
        ("patient.title", p.title.is_some()),
        ("patient.given_names", !p.given_names.is_empty()),
        ("patient.family_name", p.family_name.is_some()),
        ("patient.date_of_birth", p.date_of_birth.is_some()),
        ("patient.sex", p.sex != crate::domain::Sex::Unknown),
        ("patient.address_lines", !p.address_lines.is_empty()),
        ("patient.postcode", p.postcode.is_some()),
        ("patient.phone", p.phone.is_some()),
        ("patient.email", p.email.is_some()),
        ("gp.name", r.gp.name.is_some()),
        ("gp.practice", r.gp.practice.is_some()),
        ("gp.ods_code", r.gp.ods_code.is_some()),
        ("referrer.name", r.referrer.name.is_some()),
        ("referrer.role", r.referrer.role.is_some()),
        ("referrer.organisation", r.referrer.organisation.is_some()),
        (
            "referrer.professional_id",
            r.referrer.professional_id.is_some(),
        ),
        ("letter_date", r.letter_date.is_some()),
        ("diagnoses", !r.diagnoses.is_empty()),
        ("measures.hads_anxiety", m.hads_anxiety.is_some()),
        ("measures.hads_depression", m.hads_depression.is_some()),
        ("measures.phq9", m.phq9.is_some()),
        ("measures.gad7", m.gad7.is_some()),
        ("risk_flag", true),
        ("urgency", true),
        (
            "preferences.telephone_ok",
            r.preferences.telephone_ok.is_some(),
        ),
        (
            "preferences.interpreter",
            r.preferences.interpreter.is_some(),
        ),
        ("requested_service", r.requested_service.is_some()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_put_in_their_normal_forms() {
        let mut r = Referral::default();
        r.patient.nhs_number = Some(" 999 010 4735 ".into());
        r.patient.postcode = Some("l393an".into());
        r.patient.phone = Some("+44 (0)7700 900201".into());
        r.patient.family_name = Some("  ".into());
        r.patient.given_names = vec![" Ann ".into(), String::new()];
        r.gp.ods_code = Some("n81099".into());
        tidy(&mut r, Some(1.0));
        assert_eq!(r.patient.nhs_number.as_deref(), Some("9990104735"));
        assert_eq!(r.patient.nhs_number_valid, Some(true));
        assert_eq!(r.patient.postcode.as_deref(), Some("L39 3AN"));
        assert_eq!(r.patient.phone.as_deref(), Some("447700900201"));
        assert_eq!(r.patient.family_name, None);
        assert_eq!(r.patient.given_names, vec!["Ann".to_owned()]);
        assert_eq!(r.gp.ods_code.as_deref(), Some("N81099"));
        assert_eq!(r.confidence.get("patient.nhs_number"), Some(&1.0));
        assert!(!r.confidence.contains_key("patient.family_name"));
    }

    #[test]
    fn values_that_cannot_be_normalised_are_left_for_validation() {
        let mut r = Referral::default();
        r.patient.nhs_number = Some("12345".into());
        r.patient.nhs_number_valid = Some(true);
        r.patient.postcode = Some("NOT A POSTCODE".into());
        r.patient.phone = Some("call me".into());
        tidy(&mut r, Some(1.0));
        assert_eq!(r.patient.nhs_number.as_deref(), Some("12345"));
        assert_eq!(r.patient.nhs_number_valid, None);
        assert_eq!(r.patient.postcode.as_deref(), Some("NOT A POSTCODE"));
        assert_eq!(r.patient.phone.as_deref(), Some("call me"));
    }
}
