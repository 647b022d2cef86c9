//! The flat JSON form: the record itself, with DESIGN.md field names, as a simple system
//! posts it. The schema has already been checked; this reads it into the record type and
//! records where each field came from.

use serde_json::Value;

use super::tidy::all_fields;
use super::{IssueCode, Problem, SourcePaths};
use crate::domain::Referral;

/// Reads the flat form.
///
/// # Errors
/// A structure problem at the first element that does not fit the record (only possible
/// if the schema and the record type disagree, which a unit test guards).
pub fn read(doc: &Value) -> Result<(Referral, SourcePaths), Vec<Problem>> {
    let record: Referral = serde_path_to_error::deserialize(doc).map_err(|e| {
        vec![Problem::new(
            IssueCode::Structure,
            format!("$.{}", e.path()),
            "element does not fit the referral record",
        )]
    })?;
    // Every field sits at its own name; tidy() may fill fields later, so list them all.
    let paths = all_fields()
        .into_iter()
        .map(|f| (f, format!("$.{f}")))
        .collect();
    Ok((record, paths))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_flat_fixture_reads_into_the_record() {
        let doc: Value =
            serde_json::from_str(include_str!("../../fixtures/json/FJ03.json")).unwrap();
        super::super::schema::check_flat(&doc).unwrap();
        let (r, paths) = read(&doc).unwrap();
        assert_eq!(r.referrer.professional_id.as_deref(), Some("HCPC PH133920"));
        assert_eq!(r.measures.gad7, Some(12));
        assert_eq!(paths["patient.nhs_number"], "$.patient.nhs_number");
        assert_eq!(paths.len(), all_fields().len());
    }

    #[test]
    fn omitted_optional_sections_take_their_defaults() {
        let doc = serde_json::json!({"patient": {}, "referrer": {}, "risk_flag": true});
        let (r, _) = read(&doc).unwrap();
        assert!(r.is_referral);
        assert_eq!(r.urgency, crate::domain::Urgency::Routine);
        assert_eq!(r.gp.ods_code, None);
    }
}
