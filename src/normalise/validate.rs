//! Semantic checks on a mapped, tidied record: the rules a schema cannot express.
//!
//! NHS number modulus 11, real calendar dates that are not in the future, UK postcode
//! format, measure scores within their scale ranges, and the shape of phone and e-mail.
//! Each problem points at the submitter's own element through [`SourcePaths`].

use chrono::NaiveDate;

use super::{IssueCode, Problem, SourcePaths};
use crate::domain::{NhsNumber, Postcode, Referral};

const EARLIEST_DATE: NaiveDate = NaiveDate::from_ymd_opt(1900, 1, 1).expect("valid date");

/// Scale ranges (standards.md "Measures"): PHQ-9 0-27, GAD-7 0-21, HADS subscales 0-21.
const RANGES: [(&str, i64); 4] = [
    ("measures.phq9", 27),
    ("measures.gad7", 21),
    ("measures.hads_anxiety", 21),
    ("measures.hads_depression", 21),
];

/// # Errors
/// Every semantic problem found.
pub fn check(r: &Referral, paths: &SourcePaths, today: NaiveDate) -> Result<(), Vec<Problem>> {
    let mut problems = Vec::new();
    let mut report = |field: &'static str, code: IssueCode, message: &str| {
        let path = paths
            .get(field)
            .cloned()
            .unwrap_or_else(|| field.to_owned());
        problems.push(Problem::new(code, path, message));
    };
    let p = &r.patient;

    if let Some(raw) = p.nhs_number.as_deref() {
        match NhsNumber::parse(raw) {
            Err(e) => report("patient.nhs_number", IssueCode::Value, &e.to_string()),
            Ok(n) if !n.is_valid() => report(
                "patient.nhs_number",
                IssueCode::Value,
                "nhs number failed modulus-11 check",
            ),
            Ok(_) => {}
        }
    }
    for (field, label, value) in [
        ("patient.date_of_birth", "date of birth", &p.date_of_birth),
        ("letter_date", "letter date", &r.letter_date),
    ] {
        if let Some(message) = value.as_deref().and_then(|raw| date_problem(raw, today)) {
            report(field, IssueCode::Value, &format!("{label} {message}"));
        }
    }
    if let Some(raw) = p.postcode.as_deref()
        && Postcode::parse(raw).is_err()
    {
        report(
            "patient.postcode",
            IssueCode::Value,
            "not a valid UK postcode",
        );
    }
    if let Some(phone) = p.phone.as_deref()
        && !(phone.bytes().all(|b| b.is_ascii_digit()) && (10..=13).contains(&phone.len()))
    {
        report(
            "patient.phone",
            IssueCode::Value,
            "phone number must be 10 to 13 digits (spaces, +, - and brackets allowed)",
        );
    }
    if let Some(email) = p.email.as_deref()
        && !looks_like_email(email)
    {
        report(
            "patient.email",
            IssueCode::Value,
            "not a valid e-mail address",
        );
    }
    let m = &r.measures;
    for ((field, max), value) in
        RANGES
            .iter()
            .zip([m.phq9, m.gad7, m.hads_anxiety, m.hads_depression])
    {
        if let Some(v) = value
            && !(0..=*max).contains(&v)
        {
            report(
                field,
                IssueCode::Value,
                &format!("score outside the scale range 0-{max}"),
            );
        }
    }

    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// A date must be real, not after `today` and not before 1900 (earlier is a typing error).
fn date_problem(raw: &str, today: NaiveDate) -> Option<&'static str> {
    match NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        Err(_) => Some("is not a real calendar date (YYYY-MM-DD)"),
        Ok(d) if d > today => Some("is in the future"),
        Ok(d) if d < EARLIEST_DATE => Some("is before 1900"),
        Ok(_) => None,
    }
}

// Deliberately loose: one '@', a dot in the domain, no spaces. Deliverability is not
// ours to judge; catching a phone number or a name typed into the field is.
fn looks_like_email(s: &str) -> bool {
    let mut parts = s.split('@');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(local), Some(domain), None) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !s.chars().any(char::is_whitespace)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
    }

    fn good() -> Referral {
        let mut r = Referral::default();
        r.patient.nhs_number = Some("9990000018".into());
        r.patient.date_of_birth = Some("1970-11-02".into());
        r.patient.postcode = Some("HG2 0DJ".into());
        r.patient.phone = Some("07700900201".into());
        r.patient.email = Some("someone@example.org".into());
        r.letter_date = Some("2026-11-25".into());
        r.measures.phq9 = Some(27);
        r.measures.gad7 = Some(0);
        r
    }

    fn problems(r: &Referral) -> Vec<Problem> {
        let mut paths = SourcePaths::new();
        paths.insert("patient.nhs_number", "$.patient.nhs_number".into());
        check(r, &paths, today()).err().unwrap_or_default()
    }

    #[test]
    fn a_good_record_passes() {
        assert_eq!(problems(&good()), vec![]);
    }

    #[test]
    fn a_failing_check_digit_is_reported_at_the_submitters_path() {
        let mut r = good();
        r.patient.nhs_number = Some("9997592258".into());
        let p = problems(&r);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].path, "$.patient.nhs_number");
        assert!(p[0].message.contains("modulus-11"));
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let mut r = good();
        r.patient.nhs_number = Some("123".into());
        r.patient.date_of_birth = Some("1970-02-30".into());
        r.letter_date = Some("2026-11-26".into());
        r.patient.postcode = Some("ZZ9 9ZZ9".into());
        r.patient.phone = Some("12".into());
        r.patient.email = Some("not an email".into());
        r.measures.phq9 = Some(28);
        r.measures.gad7 = Some(-1);
        r.measures.hads_anxiety = Some(22);
        let fields: Vec<String> = problems(&r).into_iter().map(|p| p.path).collect();
        assert_eq!(
            fields,
            [
                "$.patient.nhs_number",
                "patient.date_of_birth",
                "letter_date",
                "patient.postcode",
                "patient.phone",
                "patient.email",
                "measures.phq9",
                "measures.gad7",
                "measures.hads_anxiety"
            ]
        );
    }

    #[test]
    fn dates_of_birth_before_1900_or_after_today_are_refused() {
        let mut r = good();
        r.patient.date_of_birth = Some("1899-12-31".into());
        assert_eq!(problems(&r).len(), 1);
        r.patient.date_of_birth = Some("2026-11-26".into());
        assert_eq!(problems(&r).len(), 1);
        r.patient.date_of_birth = Some("2026-11-25".into());
        assert_eq!(problems(&r).len(), 0);
    }
}
