//! Letter-level rules, each shown on a small letter, and a fuzz test: no input panics.

use super::*;
use crate::domain::{Sex, Urgency};

fn read(text: &str) -> Referral {
    extract(text).record
}

#[test]
fn names_in_the_cc_list_are_never_the_patient() {
    let r = read(
        "Pain Service\n\n1 March 2024\n\nDear Colleague\n\nThank you for seeing this lady, who has chronic pain. She would like CBT.\n\nYours sincerely\n\nDr Ann Lee\nConsultant\n\ncc: Mrs Joan Carter, 4 Mill Lane, Leeds LS6 2AB\n    Dr Bob Hart, Hill Surgery\n",
    );
    assert_eq!(r.patient.family_name, None);
    assert_eq!(r.patient.postcode, None);
    assert_eq!(r.gp.name.as_deref(), Some("Dr Bob Hart"));
    assert_eq!(r.gp.practice.as_deref(), Some("Hill Surgery"));
    assert_eq!(r.referrer.name.as_deref(), Some("Dr Ann Lee"));
}

#[test]
fn relatives_and_clinicians_in_prose_are_not_the_patient() {
    let r = read(
        "Dear Colleague\n\nRe: Mrs Jane SMITH, DOB 01/02/1970\n\nShe attended with her husband, Mr Peter Smith, and her daughter Mrs Ruth Ellis. Dr Khan has seen her before.\n\nYours sincerely\n\nDr Ann Lee\n",
    );
    assert_eq!(r.patient.given_names, vec!["Jane".to_owned()]);
    assert_eq!(r.patient.family_name.as_deref(), Some("Smith"));
}

#[test]
fn a_patient_named_only_in_prose_is_found_by_their_identifiers() {
    let r = read(
        "Dear team\n\nI saw her father, Mr Tom Reid, last year. I would be grateful if you could see Miss Alice Reid, date of birth 3 April 2001, NHS number 999 070 2314, for CBT.\n\nKind regards\n\nDr Ann Lee\n",
    );
    assert_eq!(r.patient.given_names, vec!["Alice".to_owned()]);
    assert_eq!(r.patient.title.as_deref(), Some("Miss"));
    assert_eq!(r.patient.date_of_birth.as_deref(), Some("2001-04-03"));
    assert_eq!(r.patient.sex, Sex::Female);
}

#[test]
fn date_of_birth_letter_date_and_clinic_date_are_told_apart() {
    let r = read(
        "Leeds Pain Service\n\nClinic date: 05/02/2024\nDate typed: 12/02/2024\n\nDear Colleague\n\nRe: Mr John Hall\nDOB: 23/06/1967\n\nI saw Mr Hall on 05/02/2024. His MRI on 01/01/2024 was normal.\n\nYours sincerely\n\nDr Ann Lee\n",
    );
    assert_eq!(r.letter_date.as_deref(), Some("2024-02-12"));
    assert_eq!(r.patient.date_of_birth.as_deref(), Some("1967-06-23"));
}

#[test]
fn a_date_alone_at_the_head_is_the_letter_date() {
    let r = read(
        "Leeds Pain Service\n\n18th March 2024\n\nDear Colleague\n\nRe: Mr John Hall, born 12.03.75\n\nYours sincerely\n\nDr Ann Lee\n",
    );
    assert_eq!(r.letter_date.as_deref(), Some("2024-03-18"));
    assert_eq!(r.patient.date_of_birth.as_deref(), Some("1975-03-12"));
}

#[test]
fn two_digit_years_give_a_past_birth_date_and_a_recent_letter_date() {
    let r = read(
        "Date: 9/7/24\n\nDear Colleague\n\nMrs Ann Shaw   d.o.b. 03.02.71   NHS 999 038 5696\n",
    );
    assert_eq!(r.letter_date.as_deref(), Some("2024-07-09"));
    assert_eq!(r.patient.date_of_birth.as_deref(), Some("1971-02-03"));
    let r = read("Date: 9/7/24\n\nDear Colleague\n\nMr Ian Shaw   DOB 03/02/05\n");
    assert_eq!(r.patient.date_of_birth.as_deref(), Some("2005-02-03"));
}

#[test]
fn an_nhs_number_split_over_a_line_or_dashed_is_read() {
    let r = read("Dear Colleague\n\nPlease see Mrs Ann Shaw, NHS number 999\n311 2976, for CBT.\n");
    assert_eq!(r.patient.nhs_number.as_deref(), Some("9993112976"));
    assert_eq!(r.patient.nhs_number_valid, Some(true));
    let r = read("Dear Colleague\n\nPatient: Ms Ann Shaw\nNHS no: 999-293-7734\n");
    assert_eq!(r.patient.nhs_number.as_deref(), Some("9992937734"));
}

#[test]
fn a_labelled_number_failing_the_check_is_kept_and_marked_invalid() {
    let r = read("Dear Colleague\n\nPatient: Ms Ann Shaw\nNHS number: 999 937 8651\n");
    assert_eq!(r.patient.nhs_number.as_deref(), Some("9999378651"));
    assert_eq!(r.patient.nhs_number_valid, Some(false));
}

#[test]
fn hospital_numbers_and_phone_numbers_are_not_nhs_numbers() {
    let r = read(
        "Dear Colleague\n\nRe: Mr Ian Shaw   Hospital number: 9990702314\nTel: 01632 960011\nNHS number: to follow\n",
    );
    assert_eq!(r.patient.nhs_number, None);
    assert_eq!(r.patient.nhs_number_valid, None);
}

#[test]
fn negated_risk_is_not_risk_and_current_risk_is_urgent() {
    let r = read(
        "Dear Colleague\n\nRe: Mr Ian Shaw\n\nHe denies suicidal ideation. There are no thoughts of self-harm.\n",
    );
    assert!(!r.risk_flag);
    assert_eq!(r.urgency, Urgency::Routine);
    let r = read(
        "Dear Colleague\n\nRe: Mrs Ann Shaw\n\nShe has had thoughts of ending her life over the last few weeks.\n",
    );
    assert!(r.risk_flag);
    assert_eq!(r.urgency, Urgency::Urgent);
    let r = read(
        "Dear Colleague\n\nRe: Mrs Ann Shaw\n\nShe took an overdose in 2009 and has had no such thoughts since.\n",
    );
    assert!(r.risk_flag);
    assert_eq!(r.urgency, Urgency::Routine);
}

#[test]
fn an_urgent_request_makes_the_referral_urgent_unless_negated() {
    assert_eq!(
        read("Dear Colleague\n\nPlease see her as soon as possible.\n").urgency,
        Urgency::Urgent
    );
    assert_eq!(
        read("Dear Colleague\n\nThis is not urgent. She attended urgent care last week.\n").urgency,
        Urgency::Routine
    );
}

#[test]
fn surname_first_names_are_read() {
    let r = read("Dear Colleague\n\nPatient: SMITH, Jane (Mrs)\nDOB: 01/02/1970\n");
    assert_eq!(r.patient.family_name.as_deref(), Some("Smith"));
    assert_eq!(r.patient.given_names, vec!["Jane".to_owned()]);
    assert_eq!(r.patient.title.as_deref(), Some("Mrs"));
    assert_eq!(r.patient.sex, Sex::Female);
    let r = read("Dear Colleague\n\nRe: Smith, Jane Ann\nDOB: 01/02/1970\n");
    assert_eq!(r.patient.family_name.as_deref(), Some("Smith"));
    assert_eq!(
        r.patient.given_names,
        vec!["Jane".to_owned(), "Ann".to_owned()]
    );
    assert_eq!(r.patient.sex, Sex::Unknown);
}

#[test]
fn letters_that_refer_no_one_are_not_referrals() {
    for text in [
        "Dear Dr Walsh\n\nRe: Miss Laura BENNETT\n\nHer mood is good and I have not made a referral to Talking Therapies. I have discharged her.\n\nYours sincerely\n\nDr Ann Lee\n\ncc: Dr Kieran Walsh, Old Town Surgery\n",
        "Dear Colleague\n\nRe: Mr Ian Shaw\n\nI discussed a referral to NHS Talking Therapies. He declined, and knows he can self-refer.\n",
        "Dr Kieran Walsh\nOld Town Surgery\n\nDear Dr Walsh\n\nRe: Mr Ian Shaw\n\nClinic update: his knee is better. Please continue his analgesia. Review in three months.\n\nYours sincerely\n\nDr Ann Lee\n",
    ] {
        let r = read(text);
        assert!(!r.is_referral, "{text}");
        assert_eq!(r.requested_service, None, "{text}");
    }
    let r = read(
        "Dear Colleague\n\nRe: Mr Ian Shaw\n\nHe declined CBT last year but now would like to try it. I would be grateful if you could offer him CBT for pain.\n",
    );
    assert!(r.is_referral);
    assert_eq!(r.requested_service.as_deref(), Some("CBT for pain"));
}

#[test]
fn interpreter_language_and_its_negation() {
    let r = read(
        "Dear Colleague\n\nRe: Mrs Ann Shaw\n\nShe will need a Polish interpreter for all appointments.\n",
    );
    assert_eq!(r.preferences.interpreter.as_deref(), Some("Polish"));
    let r = read(
        "Dear Colleague\n\nRe: Mrs Ann Shaw\n\nHer first language is Urdu. She would need an interpreter.\n",
    );
    assert_eq!(r.preferences.interpreter.as_deref(), Some("Urdu"));
    let r = read(
        "Dear Colleague\n\nRe: Mrs Ann Shaw\n\nShe speaks English and does not need an interpreter.\n",
    );
    assert_eq!(r.preferences.interpreter, None);
}

#[test]
fn telephone_preference_comes_from_the_patient_not_the_clinician() {
    let r = read(
        "Dear Colleague\n\nRe: Mrs Ann Shaw\n\nI discussed her with her GP by telephone today.\n",
    );
    assert_eq!(r.preferences.telephone_ok, None);
    let r = read(
        "Dear Colleague\n\nRe: Mrs Ann Shaw\n\nShe is happy to have telephone appointments.\n",
    );
    assert_eq!(r.preferences.telephone_ok, Some(true));
    let r = read(
        "Dear Colleague\n\nRe: Mrs Ann Shaw\n\nShe wants face to face only. Happy with a phone call to arrange it.\n",
    );
    assert_eq!(r.preferences.telephone_ok, Some(false));
}

#[test]
fn measures_in_the_usual_wordings() {
    let r = read(
        "Dear Colleague\n\nRe: Mrs Ann Shaw\n\nOn the HADS she scored 11 for anxiety and 12 for depression. PHQ-9 of 18, GAD-7 15/21.\n",
    );
    let m = &r.measures;
    assert_eq!(
        (m.hads_anxiety, m.hads_depression, m.phq9, m.gad7),
        (Some(11), Some(12), Some(18), Some(15))
    );
    let r = read("Dear Colleague\n\nRe: Mrs Ann Shaw\n\nHADS A 14 D 11. PHQ9 = 12; GAD7=12.\n");
    let m = &r.measures;
    assert_eq!(
        (m.hads_anxiety, m.hads_depression, m.phq9, m.gad7),
        (Some(14), Some(11), Some(12), Some(12))
    );
}

#[test]
fn the_secretary_and_the_consultant_signed_for_are_told_apart() {
    let r = read(
        "Dear Colleague\n\nPlease see her for CBT.\n\nYours sincerely\n\nJane Brown\nMedical Secretary\npp Dr Martin Oduya, Consultant Rheumatologist\n",
    );
    assert_eq!(r.referrer.name.as_deref(), Some("Dr Martin Oduya"));
    let r = read(
        "Dear Colleague\n\nPlease see her for CBT.\n\nYours sincerely\n\nDr Priya Nair\nSpecialty Registrar\nGMC 7361205\non behalf of Mr Jonathan Hale, Consultant Surgeon\n",
    );
    assert_eq!(r.referrer.name.as_deref(), Some("Dr Priya Nair"));
    assert_eq!(r.referrer.role.as_deref(), Some("Specialty Registrar"));
    assert_eq!(r.referrer.professional_id.as_deref(), Some("GMC 7361205"));
}

#[test]
fn a_gp_who_refers_is_also_the_gp() {
    let r = read(
        "Castle Medical Practice, Leeds     Practice code: B86001\n\nDate: 01/03/2024\n\nDear Colleague\n\nRe: Mr Ian Shaw\n\nPlease see him for CBT.\n\nDr Bethany Lowther, GP\n",
    );
    assert_eq!(r.referrer.name.as_deref(), Some("Dr Bethany Lowther"));
    assert_eq!(r.referrer.role.as_deref(), Some("GP"));
    assert_eq!(r.gp.name.as_deref(), Some("Dr Bethany Lowther"));
    assert_eq!(r.gp.practice.as_deref(), Some("Castle Medical Practice"));
    assert_eq!(r.gp.ods_code.as_deref(), Some("B86001"));
}

#[test]
fn the_patients_phone_and_address_are_not_the_clinics() {
    let r = read(
        "Pain Service\n1 Clinic Road, Leeds LS1 1AA\nSecretary: 01632 960011\n\nDear Colleague\n\nRe: Mrs Ann Shaw\nAddress: 5 Otley Road, Harrogate HG2 0DJ\nTel: 07700 900011\n\nPlease call me on 01632 960999 with any questions.\n\nYours sincerely\n\nDr Ann Lee\nTel 01632 960123\n",
    );
    assert_eq!(r.patient.phone.as_deref(), Some("07700900011"));
    assert_eq!(r.patient.postcode.as_deref(), Some("HG2 0DJ"));
    assert_eq!(
        r.patient.address_lines,
        vec!["5 Otley Road".to_owned(), "Harrogate".to_owned()]
    );
}

#[test]
fn unknown_values_stay_unknown() {
    let r = read("Dear Colleague\n\nPlease see this gentleman for CBT.\n");
    let p = &r.patient;
    assert!(p.nhs_number.is_none() && p.family_name.is_none() && p.date_of_birth.is_none());
    assert_eq!(p.sex, Sex::Unknown);
    assert!(r.letter_date.is_none() && r.referrer.name.is_none() && r.gp.name.is_none());
    assert_eq!(r.preferences.telephone_ok, None);
}

#[test]
fn every_filled_field_has_a_confidence_and_a_span_inside_the_text() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/fixtures/letters/F01.txt"
    ))
    .unwrap_or_else(|_| "Dear Colleague\n\nRe: Mrs Ann Shaw\nDOB: 01/02/1970\n".to_owned());
    let found = extract(&text);
    for field in crate::normalise::tidy::filled_fields(&found.record) {
        let c = found.record.confidence.get(field).copied();
        assert!(c.is_some_and(|c| (0.0..=1.0).contains(&c)), "{field}");
    }
    for (field, span) in &found.provenance {
        assert!(span.start <= span.end && span.end <= text.len(), "{field}");
    }
    assert!(found.record.confidence["patient.nhs_number"] >= 0.9);
}

/// A small deterministic generator: the test must be repeatable without a dependency.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next()).unwrap_or(0) % n.max(1)
    }
}

#[test]
fn no_input_makes_the_reader_panic() {
    let seeds: Vec<String> = ["F01", "F02", "F04", "F10"]
        .iter()
        .filter_map(|n| std::fs::read_to_string(format!("{}/../shared/fixtures/letters/{n}.txt", env!("CARGO_MANIFEST_DIR"))).ok())
        .chain(std::iter::once("Dear Colleague\n\nRe: Mrs Ann Shaw, DOB 01/02/1970, NHS 999 070 2314\n\nYours sincerely\n\nDr Ann Lee\n".to_owned()))
        .collect();
    let pieces = [
        "\n",
        " ",
        "é",
        "’",
        "(",
        ")",
        ":",
        "Dr ",
        "Mrs ",
        "NHS ",
        "DOB ",
        "cc: ",
        "Dear ",
        "999",
        "07700 ",
        "HG2 0DJ",
        "/",
        "-",
        "\r\n",
        "\u{a0}",
        "漢",
        "🙂",
        "Yours sincerely\n",
        "\t",
        "PHQ-9 ",
        "HADS A ",
    ];
    let mut rng = Lcg(0x5eed);
    for round in 0..400 {
        let mut s: Vec<char> = seeds[round % seeds.len()].chars().collect();
        for _ in 0..rng.below(30) + 1 {
            let at = rng.below(s.len() + 1);
            match rng.below(3) {
                0 if !s.is_empty() => {
                    let end = (at + rng.below(20)).min(s.len());
                    s.drain(at.min(end)..end);
                }
                1 => s
                    .splice(at..at, pieces[rng.below(pieces.len())].chars())
                    .for_each(drop),
                _ => {
                    let c = char::from_u32(u32::try_from(rng.next() % 0x3000).unwrap_or(32))
                        .unwrap_or(' ');
                    s.insert(at.min(s.len()), c);
                }
            }
        }
        let text: String = s.into_iter().collect();
        let found = extract(&text);
        for span in found.provenance.values() {
            assert!(span.start <= span.end && span.end <= text.len());
        }
    }
    // Pure noise, including bytes that are not text.
    for _ in 0..200 {
        let bytes: Vec<u8> = (0..rng.below(3000))
            .map(|_| u8::try_from(rng.next() % 256).unwrap_or(0))
            .collect();
        let _ = extract(&String::from_utf8_lossy(&bytes));
    }
    let _ = extract("");
    let _ = extract(&"Dear ".repeat(20_000));
    let _ = extract(&"9".repeat(100_000));
}

#[test]
fn a_letter_asking_the_gp_to_refer_is_not_itself_a_referral() {
    let r = read(
        "Wrexham Rheumatology\n\nDr S Morgan\nBeechley Medical Centre\n\nDear Dr Morgan\n\nRe: Mrs Gwen Ellis\n\nShe has fibromyalgia. I would be grateful if you could refer her to NHS Talking Therapies for CBT.\n\nYours sincerely\n\nDr Ifan Hughes\n",
    );
    assert!(!r.is_referral);
    assert_eq!(r.gp.name.as_deref(), Some("Dr S Morgan"));
}

#[test]
fn a_relatives_phone_and_care_of_name_are_not_the_patients() {
    let r = read(
        "Dear Colleague\n\nRe: Mr Tomasz KOWALSKI  (d.o.b. 12/12/1988)\n    c/o his partner Ms Anna Nowak, 3 Felixstowe Road, Ipswich IP3 8AA\n    Tel: 07700 900888 (Anna's mobile)\n",
    );
    assert_eq!(r.patient.family_name.as_deref(), Some("Kowalski"));
    assert_eq!(
        r.patient.address_lines,
        vec!["3 Felixstowe Road".to_owned(), "Ipswich".to_owned()]
    );
    assert_eq!(r.patient.phone, None);
}

#[test]
fn tabulated_labels_without_colons_are_read() {
    let r = read(
        "Dear Dr Morgan\n\nNHS Number    999 000 0018     Hospital No   W123456\nName          MRS GWEN ELLIS\nDOB           02.02.1966\nAddress       5 Chester Road, Wrexham LL11 2SJ\n",
    );
    assert_eq!(r.patient.nhs_number.as_deref(), Some("9990000018"));
    assert_eq!(
        (r.patient.title.as_deref(), r.patient.family_name.as_deref()),
        (Some("Mrs"), Some("Ellis"))
    );
    assert_eq!(r.patient.date_of_birth.as_deref(), Some("1966-02-02"));
    assert_eq!(r.patient.postcode.as_deref(), Some("LL11 2SJ"));
    assert!(r.confidence["patient.family_name"] >= 0.9);
}

#[test]
fn a_re_line_about_the_condition_still_names_the_patient() {
    let r =
        read("Dear Colleague\n\nRe: Chronic pain referral - Mrs Jane Smith\n\nPlease see her.\n");
    assert_eq!(r.patient.family_name.as_deref(), Some("Smith"));
}

#[test]
fn urgency_for_other_services_does_not_make_the_referral_urgent() {
    let r = read(
        "Dear Colleague\n\nRe: Mrs Jane Smith\n\nI have requested an urgent MRI of her spine. Please offer her CBT.\n",
    );
    assert_eq!(r.urgency, Urgency::Routine);
}

#[test]
fn a_hypothetical_urgent_need_is_not_an_urgent_request() {
    let r = read(
        "Dear Colleague\n\nRe: Mrs Jane Smith\n\nPlease offer her CBT. I told her that new leg weakness would need urgent attention.\n",
    );
    assert_eq!(r.urgency, Urgency::Routine);
    let r = read("Dear Colleague\n\nRe: Mrs Jane Smith\n\nPlease see her urgently for CBT.\n");
    assert_eq!(r.urgency, Urgency::Urgent);
}

#[test]
fn an_addressee_above_the_patient_details_is_not_the_patient() {
    let r = read(
        "Dear Dr Walsh\n\nDr Kieran Walsh\nOld Town Surgery\nMiss Laura Bennett   DOB 17/04/1994\n",
    );
    assert_eq!(r.patient.family_name.as_deref(), Some("Bennett"));
    let r = read(
        "Dear Colleague\n\nShe has been seeing Ms Laura Bingham, our physiotherapist, for a year.\n",
    );
    assert_eq!(r.patient.family_name, None);
}

#[test]
fn windows_line_endings_read_the_same() {
    for n in ["F01", "F05", "F10"] {
        let Ok(text) = std::fs::read_to_string(format!(
            "{}/../shared/fixtures/letters/{n}.txt",
            env!("CARGO_MANIFEST_DIR")
        )) else {
            continue;
        };
        let crlf = text.replace('\n', "\r\n");
        let (mut a, mut b) = (read(&text), read(&crlf));
        a.confidence.clear();
        b.confidence.clear();
        assert_eq!(
            serde_json::to_value(&a).ok(),
            serde_json::to_value(&b).ok(),
            "{n}"
        );
    }
}

#[test]
fn a_gp_block_over_several_lines_gives_name_and_practice() {
    let r = read(
        "Dear Colleague\n\nRe: Mr Ian Shaw, DOB 01/02/1970\nGP: Dr P Singh\n    Moss Lane Surgery\n    Manchester M1 1AA\n",
    );
    assert_eq!(r.gp.name.as_deref(), Some("Dr P Singh"));
    assert_eq!(r.gp.practice.as_deref(), Some("Moss Lane Surgery"));
    assert_eq!(r.patient.postcode, None);
}

#[test]
fn sign_off_variants_name_the_author() {
    let r = read(
        "Dear Colleague\n\nPlease see him for CBT.\n\nDr Jane Smith - Consultant Physiotherapist\n",
    );
    assert_eq!(r.referrer.name.as_deref(), Some("Dr Jane Smith"));
    assert_eq!(
        r.referrer.role.as_deref(),
        Some("Consultant Physiotherapist")
    );
    let r = read(
        "Dear Colleague\n\nPlease see him for CBT. He is keen to start.\n\nDictated by: Dr Ann Lee, Consultant Rheumatologist\n",
    );
    assert_eq!(r.referrer.name.as_deref(), Some("Dr Ann Lee"));
}

#[test]
fn diagnosis_headings_in_their_variants() {
    for heading in [
        "Diagnosis/Problems:",
        "Working diagnosis:",
        "Diagnoses and problems:",
        "Impression:",
    ] {
        let r = read(&format!(
            "Dear Colleague\n\n{heading} fibromyalgia; low back pain\n\nPlease see her.\n"
        ));
        assert_eq!(
            r.diagnoses,
            vec!["Fibromyalgia".to_owned(), "Low back pain".to_owned()],
            "{heading}"
        );
    }
}

#[test]
fn an_address_without_a_postcode_is_read_from_its_label() {
    let r = read(
        "Dear Colleague\n\nPatient: Mr Ian Shaw\nAddress: 4 Mill Lane\n         Otley\nDOB: 01/02/1970\n",
    );
    assert_eq!(
        r.patient.address_lines,
        vec!["4 Mill Lane".to_owned(), "Otley".to_owned()]
    );
    assert_eq!(r.patient.postcode, None);
}

#[test]
fn a_patient_introduced_by_age_or_description_is_found() {
    let r = read(
        "Dear Colleague\n\nMrs Ann Shaw is a 52-year-old teacher with fibromyalgia. Her husband, Mr Tom Shaw, is supportive.\n",
    );
    assert_eq!(
        (
            r.patient.title.as_deref(),
            r.patient.given_names.first().map(String::as_str)
        ),
        (Some("Mrs"), Some("Ann"))
    );
    let r = read("Dear Colleague\n\nI reviewed this 40-year-old, Mr Ian Shaw, in clinic.\n");
    assert_eq!(r.patient.family_name.as_deref(), Some("Shaw"));
}

#[test]
fn a_lower_case_postcode_in_the_patient_block_is_read() {
    let r = read(
        "Dear Colleague\n\nRe: Mrs Jane SMITH\nDOB: 01/02/1970\nAddress: Rosedene, 12 Cold Bath Road, Harrogate hg1 2nb\n\nShe would like CBT.\n\nYours sincerely\n\nDr Ann Lee\n",
    );
    assert_eq!(r.patient.postcode.as_deref(), Some("HG1 2NB"));
    assert_eq!(
        r.patient.address_lines.last().map(String::as_str),
        Some("Harrogate")
    );
    // In prose a lower-case run of letters and digits is not taken for a postcode.
    let r = read(
        "Dear Colleague\n\nRe: Mrs Jane SMITH, DOB 01/02/1970\n\nShe lives at 4 Mill Lane and her ref is ab1 2cd today.\n\nYours sincerely\n\nDr Ann Lee\n",
    );
    assert_eq!(r.patient.postcode, None);
}

#[test]
fn a_long_patient_details_block_of_fields_is_the_patients() {
    let r = read(
        "Therapy Service\n\n24 March 2026\n\nPATIENT DETAILS\nName: WOOD, Katherine Mary (Ms)\nDate of Birth: 1980-04-17\nNHS Number: 999 526 5834\nAddress: The Old Barn\nMoor Lane\nSilsden\nKeighley\nBD20 0LP\nPhone: 07700 900 951\nEmail: kate.wood@example.com\n\nDear Colleague\n\nMs Wood has fibromyalgia. She is keen to try talking therapy.\n\nBest wishes\n\nJo Pearce\nOccupational Therapist\n",
    );
    assert_eq!(r.patient.postcode.as_deref(), Some("BD20 0LP"));
    assert_eq!(r.patient.address_lines.len(), 4);
    assert_eq!(r.patient.phone.as_deref(), Some("07700900951"));
    assert_eq!(r.patient.email.as_deref(), Some("kate.wood@example.com"));
}

#[test]
fn an_ask_passed_to_a_named_service_is_the_requested_service() {
    let r = read(
        "Dear Sir or Madam\n\nRe: Mr Tom REID, DOB 01/02/1970\n\nHe has knee pain. I have asked the psychological wellbeing service to offer him support with low mood related to his pain.\n\nYours sincerely\n\nClaire Benton\nPhysiotherapist\n",
    );
    assert!(r.is_referral);
    assert_eq!(
        r.requested_service.as_deref(),
        Some("support with low mood related to his pain")
    );
}

#[test]
fn a_condition_said_of_they_is_a_diagnosis() {
    let r = read(
        "Dear Team\n\nPatient: Mx Robin ASHWORTH, DOB 30.01.89\n\nThey have chronic low back pain following a lifting injury. Please consider them for group-based pain management.\n\nKind regards\n\nSam Pritchard\nNurse Specialist\n",
    );
    assert_eq!(r.diagnoses, vec!["Chronic low back pain".to_owned()]);
}

#[test]
fn conditions_introduced_by_role_clinic_or_visit_are_diagnoses() {
    for (prose, want) in [
        (
            "Mrs Akhtar is a healthcare assistant with chronic shoulder pain after an injury.",
            "Chronic shoulder pain",
        ),
        (
            "Jordan attended the community pain team for chronic widespread pain.",
            "Chronic widespread pain",
        ),
        (
            "Thank you for seeing this man, whom I saw in the pain clinic on 12/11/2026 with failed back surgery syndrome.",
            "Failed back surgery syndrome",
        ),
    ] {
        let r = read(&format!(
            "Dear Colleague\n\nRe: Mrs Jane SMITH, DOB 01/02/1970\n\n{prose}\n\nYours sincerely\n\nDr Ann Lee\n"
        ));
        assert_eq!(r.diagnoses, vec![want.to_owned()], "{prose}");
    }
    // "blames for his injury": a bare head word is no diagnosis.
    let r = read(
        "Dear Colleague\n\nRe: Mr Tom REID, DOB 01/02/1970\n\nHe is angry with his manager, who he blames for his injury.\n\nYours sincerely\n\nDr Ann Lee\n",
    );
    assert!(r.diagnoses.is_empty());
}

#[test]
fn an_imperative_refer_for_names_the_service() {
    let r = read(
        "REFERRAL\n\nPatient: PATEL, Nikhil (Mr)\nBorn: 4 January 1979\n\nMr Patel has chronic low back pain.\n\nRefer for an assessment for step 3 CBT for pain. Face to face only please.\n\nTom Fielding\nPhysiotherapist\n",
    );
    assert_eq!(
        r.requested_service.as_deref(),
        Some("assessment for step 3 CBT for pain")
    );
}

#[test]
fn a_three_letter_hcpc_prefix_is_read() {
    let r = read(
        "Dear Colleague\n\nRe: Ms Priya SHARMA, DOB 27/04/1998\n\nPlease offer her guided self-help.\n\nKind regards\n\nMegan Ashby\nClinical Psychologist\nHCPC PYL33019\n",
    );
    assert_eq!(r.referrer.professional_id.as_deref(), Some("HCPC PYL33019"));
}
