//! Letter-level rules for layouts and wordings beyond the usual clinic letter: letters
//! to the patient, patient details under the sign-off, GP system templates, letters
//! that are not referrals, diagnoses in prose and compact scores.

use super::*;
use crate::domain::{Sex, Urgency};

fn read(text: &str) -> Referral {
    extract(text).record
}

#[test]
fn a_letter_to_the_patient_takes_identity_from_the_addressee() {
    let r = read(
        "Rheumatology Department\nInfirmary Square, Leicester LE1 5WW\n\nMs Harpreet Kaur BASRA\n18 Evington Lane\nLeicester LE5 5PQ\n\n19 October 2026\n\nNHS Number: 999 586 8199\n\nDear Ms Basra\n\nYou have fibromyalgia. As we agreed, I am referring you to Talking Therapies for CBT for pain. They will contact you on 07700 900427.\n\nYours sincerely\n\nDr Thomas Whitehead\nConsultant Rheumatologist\n\nCopy: Dr Anjali Mistry, Spinney Hill Medical Centre (GP)\n",
    );
    assert_eq!(r.patient.family_name.as_deref(), Some("Basra"));
    assert_eq!(r.patient.given_names, vec!["Harpreet", "Kaur"]);
    assert_eq!(r.patient.sex, Sex::Female);
    assert_eq!(r.patient.postcode.as_deref(), Some("LE5 5PQ"));
    assert_eq!(
        r.patient.address_lines,
        vec!["18 Evington Lane", "Leicester"]
    );
    assert_eq!(r.patient.phone.as_deref(), Some("07700900427"));
    assert_eq!(r.gp.name.as_deref(), Some("Dr Anjali Mistry"));
    assert_eq!(
        r.referrer.organisation.as_deref(),
        Some("Rheumatology Department")
    );
    assert!(r.is_referral);
    assert_eq!(r.requested_service.as_deref(), Some("CBT for pain"));
}

#[test]
fn an_appointment_letter_to_the_patient_is_not_a_referral() {
    let r = read(
        "Community Physiotherapy\n226 Seymour Grove, Manchester M16 0DU\n\nMr Imran Saeed\n41 Kings Road\nManchester\nM32 8QW\n\n12 November 2026\n\nDear Mr Saeed\n\nAn appointment has been made for you to see a physiotherapist on 8 December. If you cannot attend, please telephone as soon as possible.\n\nYours sincerely\n\nJo Whitworth\nAdministrator\n",
    );
    assert!(!r.is_referral);
    assert_eq!(r.urgency, Urgency::Routine);
    assert_eq!(r.patient.family_name.as_deref(), Some("Saeed"));
    assert_eq!(r.patient.postcode.as_deref(), Some("M32 8QW"));
}

#[test]
fn patient_details_under_the_sign_off_are_read_as_the_patient_block() {
    let r = read(
        "Spinal Pain Clinic\n\nDear team\n\nI would be grateful if you could assess him for CBT.\n\nYours faithfully\n\nMr Ravi Chandran\nConsultant Spinal Surgeon\n\nPATIENT DETAILS\nName: Mr Stephen John WARBURTON\nDOB: 27/06/1968\nNHS No: 999 576 4962\nAddress: 90 Woodchurch Road, Birkenhead CH42 9LJ\nGP: Dr Karen Lowe, Manor Health Centre\n",
    );
    assert_eq!(r.patient.family_name.as_deref(), Some("Warburton"));
    assert_eq!(r.patient.date_of_birth.as_deref(), Some("1968-06-27"));
    assert_eq!(r.patient.nhs_number.as_deref(), Some("9995764962"));
    assert_eq!(r.patient.postcode.as_deref(), Some("CH42 9LJ"));
    assert_eq!(r.gp.name.as_deref(), Some("Dr Karen Lowe"));
    assert_eq!(r.referrer.name.as_deref(), Some("Mr Ravi Chandran"));
    assert_eq!(
        r.referrer.organisation.as_deref(),
        Some("Spinal Pain Clinic")
    );
}

#[test]
fn a_re_line_alone_gives_the_date_of_birth_beside_the_name_and_the_title_from_prose() {
    let r = read(
        "Orthopaedics\n\nDear Dr Okafor\n\nRe: Tomasz NOWAK (3.7.81)\n    42 Elm Grove\n    Derby DE22 1AB\n\nI reviewed Mr Nowak in the knee clinic. His wife, Mrs Nowak, came too.\n\nYours sincerely\n\nMiss Elena Marchetti\n",
    );
    assert_eq!(r.patient.date_of_birth.as_deref(), Some("1981-07-03"));
    // The wife's title is a relative's, not the patient's.
    assert_eq!(r.patient.title.as_deref(), Some("Mr"));
    let r = read(
        "Orthopaedics\n\nDear Dr Okafor\n\nRe: Tomasz NOWAK (3.7.81)\n\nI reviewed Mr Nowak in the knee clinic.\n\nYours sincerely\n\nMiss Elena Marchetti\n",
    );
    assert_eq!(r.patient.title.as_deref(), Some("Mr"));
}

#[test]
fn a_practice_template_names_the_usual_gp_at_the_practice_on_the_letterhead() {
    let r = read(
        "Riverside Medical Practice\nCanal Street, Stockport SK1 3PX\nPractice code: P88021\n\nPatient Details\nName: Mrs Sarah JENKINS\nDate of Birth: 14-Jun-1968\nUsual GP: Dr Peter HOLLAND\n\nDear Colleague\n\nPlease see her for CBT.\n\nYours sincerely\n\nDr Amira Haddad\nGP Registrar\n",
    );
    assert_eq!(r.gp.name.as_deref(), Some("Dr Peter Holland"));
    assert_eq!(r.gp.practice.as_deref(), Some("Riverside Medical Practice"));
    assert_eq!(r.gp.ods_code.as_deref(), Some("P88021"));
    assert_eq!(r.referrer.name.as_deref(), Some("Dr Amira Haddad"));
}

#[test]
fn a_to_line_names_the_gp_and_a_consultants_own_letterhead_is_not_the_organisation() {
    let r = read(
        "Dr Naomi Fielding\nConsultant Rheumatologist\nSpire Hospital Leeds, Jackson Avenue, Leeds LS8 1NT\n\nTo: Dr Hannah Kowalski, Sands End Surgery, London SW6 2PQ\n\nDear Dr Kowalski\n\nRe: Ms Rosa GALLAGHER, DOB 26/10/1992\n\nShe can be contacted on 07700 900802 or\nrosa.gallagher@example.com.\n\nYours sincerely\n\nDr Naomi Fielding\n",
    );
    assert_eq!(r.gp.name.as_deref(), Some("Dr Hannah Kowalski"));
    assert_eq!(r.gp.practice.as_deref(), Some("Sands End Surgery"));
    assert_eq!(
        r.referrer.organisation.as_deref(),
        Some("Spire Hospital Leeds")
    );
    assert_eq!(
        r.patient.email.as_deref(),
        Some("rosa.gallagher@example.com")
    );
}

#[test]
fn letters_that_decline_inform_or_discharge_are_not_referrals() {
    for body in [
        "I do not feel a referral for psychological therapy is required at this stage.",
        "I am copying you into this letter for information only.",
        "No further referral has been made to psychological services.",
        "Outcome: discharged to GP care. No psychology referral needed.",
        "No new referral is being made and I am not requesting any change to his care.",
    ] {
        let r = read(&format!(
            "Pain Service\n\nDear Dr Rao\n\nRe: Mr Keith Bramley, DOB 30/01/1970\n\n{body}\n\nYours sincerely\n\nDr Meera Pillai\n"
        ));
        assert!(!r.is_referral, "{body}");
        assert_eq!(r.requested_service, None, "{body}");
    }
}

#[test]
fn a_letter_that_says_it_has_referred_is_a_referral() {
    let r = read(
        "Pain Service\n\nDear Dr Ogunleye\n\nRe: Miss Chloe WAINWRIGHT, DOB 30/06/2001\n\nI have referred her urgently to Sheffield Talking Therapies for assessment and CBT.\n\nYours sincerely\n\nDr Imogen Frost\n",
    );
    assert!(r.is_referral);
    assert_eq!(r.requested_service.as_deref(), Some("assessment and CBT"));
}

#[test]
fn problem_lists_from_clinical_systems_and_prose_diagnoses_are_read() {
    let r = read(
        "Beechwood Medical Centre\n\nPatient: Mr Liam FITZPATRICK\nD.O.B.: 09/09/1991\n\nActive Problems\n12-Mar-2019   Chronic neck pain\n03-Feb-2021   Migraine\n\nPast Problems\n14-Jan-2010   Fracture of left radius\n\nDear Talking Therapies\n\nPlease could you offer him CBT.\n\nRegards\n\nDr Catherine Ashworth\n",
    );
    assert_eq!(r.diagnoses, vec!["Chronic neck pain", "Migraine"]);
    let r = read(
        "Dear Talking Therapies\n\nRe: Ms Aisling O'DONNELL, DOB 11/04/1987\n\nMs O'Donnell has a long history of fibromyalgia and IBS. Please could you offer her CBT.\n\nBest wishes\n\nDr Mark Henderson\n",
    );
    assert_eq!(r.diagnoses, vec!["Fibromyalgia", "IBS"]);
}

#[test]
fn a_printed_date_is_the_letter_date_not_a_problem_date() {
    let r = read(
        "Beechwood Medical Centre\n\nDate printed: 15/10/2026\n\nPatient: Mr Liam FITZPATRICK\n\nActive Problems\n03-Feb-2021   Migraine\n\nDear Talking Therapies\n\nPlease could you offer him CBT.\n\nRegards\n\nDr Catherine Ashworth\n",
    );
    assert_eq!(r.letter_date.as_deref(), Some("2026-10-15"));
}

#[test]
fn compact_scores_are_read() {
    let r = read(
        "Dear Team\n\nRe: Mr Kwame Asante\n\nHis scores today: PHQ-9 = 14, GAD7 = 11, HADS (A/D) 12/9.\n",
    );
    assert_eq!(r.measures.phq9, Some(14));
    assert_eq!(r.measures.gad7, Some(11));
    assert_eq!(r.measures.hads_anxiety, Some(12));
    assert_eq!(r.measures.hads_depression, Some(9));
}

#[test]
fn a_from_block_names_the_organisation_and_indented_problems_are_separate_items() {
    let r = read(
        "SystmOne Referral Letter\n\nFrom:\n  Dr Katherine Moss\n  Woodlands Medical Practice\n  ODS code: C82040\n\nDate: 18 Nov 2026\n\nPatient\n  Name: Ms Jade ROBINSON\n  DOB: 30-Sep-1999\n\nProblems\n  Chronic widespread pain (2023)\n  Anxiety with depression (2024)\n\nDear colleague,\n\nI would be grateful if you could offer her guided self-help.\n\nDr Katherine Moss\nGP\n",
    );
    assert_eq!(
        r.referrer.organisation.as_deref(),
        Some("Woodlands Medical Practice")
    );
    assert_eq!(
        r.diagnoses,
        vec!["Chronic widespread pain", "Anxiety with depression"]
    );
}

#[test]
fn a_partners_letterhead_is_the_practice_of_the_registered_gp() {
    let r = read(
        "Dr J Patel & Partners\nThe Surgery, 4 Market Place, Louth LN11 9NR\n\n22/11/2026\n\nPatient Name:   Mrs Gillian EVANS\nDOB:            04/04/1964\nRegistered GP:  Dr Jayesh Patel\n\nDear Colleagues\n\nPlease consider her for CBT.\n\nYours faithfully\n\nDr Nisha Varma\nSalaried GP\n",
    );
    assert_eq!(r.gp.name.as_deref(), Some("Dr Jayesh Patel"));
    assert_eq!(r.gp.practice.as_deref(), Some("Dr J Patel & Partners"));
}

#[test]
fn a_writer_who_worried_and_has_referred_makes_a_referral() {
    let r = read(
        "Mrs G OYELOWO\n5 Water Lane\nExeter EX2 8BY\n\nRheumatology Department\n\nDear Mrs Oyelowo\n\nI was worried about this and have referred you to Devon Talking Therapies today.\n\nYours sincerely\n\nDr Felix Amankwah\n",
    );
    assert!(r.is_referral);
    assert_eq!(r.patient.family_name.as_deref(), Some("Oyelowo"));
    assert_eq!(r.patient.given_names, vec!["G"]);
}

#[test]
fn a_weekday_before_the_letter_date_is_skipped() {
    let r = read(
        "Rheumatology\n\nDate: Tuesday 17 November 2026\n\nDear Colleague\n\nRe: Miss Amber HOLDEN, DOB 11/11/1996\n\nI am referring Miss Holden to your service for CBT for chronic pain.\n\nYours sincerely\n\nDr Callum Fraser\n",
    );
    assert_eq!(r.letter_date.as_deref(), Some("2026-11-17"));
    assert_eq!(r.requested_service.as_deref(), Some("CBT for chronic pain"));
}

#[test]
fn scores_after_the_number_and_an_aside_before_a_second_condition_are_read() {
    let r = read(
        "Dear Dr Oakes\n\nRe: Mr Barry SCHOFIELD, DOB 19/05/1961\n\nHe has gout, now well controlled, and knee osteoarthritis. His HADS score is 15 (anxiety) and 13 (depression). He has asked to be referred to Wakefield Talking Therapies for counselling.\n\nYours sincerely\n\nDr Eleni Papadopoulos\n",
    );
    assert_eq!(r.diagnoses, vec!["Gout", "Knee osteoarthritis"]);
    assert_eq!(r.measures.hads_anxiety, Some(15));
    assert_eq!(r.measures.hads_depression, Some(13));
    assert_eq!(r.requested_service.as_deref(), Some("counselling"));
}

#[test]
fn typed_and_dictated_abbreviations_date_the_letter() {
    let r = read(
        "Pain Clinic\n\nD/D: 12/11/2026   D/T: 14/11/2026\n\nDear Colleague\n\nRe: Mr John Hall, DOB/Age: 23/06/1967 (59y)\n\nPlease see him for CBT.\n\nYours sincerely\n\nDr Ann Lee\n",
    );
    assert_eq!(r.letter_date.as_deref(), Some("2026-11-14"));
    assert_eq!(r.patient.date_of_birth.as_deref(), Some("1967-06-23"));
}

#[test]
fn a_suggestion_that_the_gp_refers_is_not_a_referral() {
    let r = read(
        "Rheumatology\n\nDr Kieran Walsh\nOld Town Surgery\nSwindon\n\nDear Dr Walsh\n\nRe: Miss Laura BENNETT, DOB 17/04/1994\n\nShe would benefit from CBT and you may wish to refer her to Talking Therapies.\n\nYours sincerely\n\nDr Hannah Rhodes\n",
    );
    assert!(!r.is_referral);
}

#[test]
fn a_phone_with_a_bracketed_label_or_in_prose_is_the_patients() {
    let r = read(
        "Dear Colleague\n\nRe: Mr John Hall, DOB 23/06/1967\n    Tel (home): 01632 960123\n\nPlease see him for CBT.\n",
    );
    assert_eq!(r.patient.phone.as_deref(), Some("01632960123"));
    let r = read(
        "Dear Colleague\n\nI saw Mr John Hall, DOB 23/06/1967. His mobile is 07700 900123. Please see him for CBT.\n",
    );
    assert_eq!(r.patient.phone.as_deref(), Some("07700900123"));
}

#[test]
fn a_form_in_pipe_tables_gives_the_patient() {
    let r = read(
        "Referral | Talking Therapies\n\n| Patient name | Mr Oliver James FENWICK |\n| Date of birth | 06/06/1990 |\n\nReason for referral\nOliver is a 36-year-old postman with chronic low back pain. He would like to try CBT.\n\nReferrer: Dr Stella Morgan, GP, Hollybank Medical Centre\n",
    );
    assert_eq!(r.patient.family_name.as_deref(), Some("Fenwick"));
    assert_eq!(r.patient.given_names, vec!["Oliver", "James"]);
    assert_eq!(r.diagnoses, vec!["Chronic low back pain"]);
}

#[test]
fn a_letter_to_the_patient_that_has_done_the_referral_is_one() {
    let r = read(
        "Pain Service\n\nMrs J WHITTAKER\n27 Lime Grove\nChorley PR7 2DS\n\nDear Julie\n\nYou agreed that I should refer you to Talking Therapies, and I have done this today, asking them to offer you a course of CBT for persistent pain.\n\nWith best wishes\n\nSarah Lomax\n",
    );
    assert!(r.is_referral);
    assert_eq!(r.patient.family_name.as_deref(), Some("Whittaker"));
    assert_eq!(
        r.requested_service.as_deref(),
        Some("a course of CBT for persistent pain")
    );
}

#[test]
fn more_ways_of_asking_name_the_service() {
    for (ask, want) in [
        (
            "I would like to request an assessment for CBT.",
            "an assessment for CBT",
        ),
        (
            "I would be very grateful if she could be assessed for suitability for psychological therapy.",
            "psychological therapy",
        ),
        (
            "Could your service offer her some support with her mood?",
            "some support with her mood",
        ),
        (
            "I would be grateful if you could see this lady with a view to CBT for chronic pain.",
            "CBT for chronic pain",
        ),
        (
            "I'd be grateful if she could access your pain management programme.",
            "pain management programme",
        ),
        (
            "I would be grateful if you could arrange EMDR for her.",
            "EMDR",
        ),
    ] {
        let r = read(&format!(
            "Pain Clinic\n\nDear Colleague\n\nRe: Mrs Jane SMITH, DOB 01/02/1970\n\n{ask}\n\nYours sincerely\n\nDr Ann Lee\n"
        ));
        assert_eq!(r.requested_service.as_deref(), Some(want), "{ask}");
    }
}

#[test]
fn asking_the_gp_to_arrange_it_is_not_a_referral() {
    let r = read(
        "Rheumatology\n\nDr Bob Hart\nHill Surgery\nLeeds\n\nDear Dr Hart\n\nRe: Mrs Jane SMITH, DOB 01/02/1970\n\nI think a referral to Talking Therapies would be helpful and she agrees; I would be grateful if you could arrange this.\n\nYours sincerely\n\nDr Ann Lee\n",
    );
    assert!(!r.is_referral);
}

#[test]
fn a_patient_block_where_the_addressee_would_be_gives_the_patient() {
    let r = read(
        "Hill Surgery\n1 Main Street, Leeds LS2 9AA\n\nMrs Jane Smith\n12 High Street\nLeeds LS1 1AA\n\n01/11/2026\n\nDear Talking Therapies team\n\nShe has fibromyalgia. Please offer her CBT.\n\nYours sincerely\n\nDr Ann Lee\nGP\n",
    );
    assert_eq!(r.patient.family_name.as_deref(), Some("Smith"));
    assert_eq!(r.patient.postcode.as_deref(), Some("LS1 1AA"));
    assert!(r.is_referral);
}

#[test]
fn gp_lines_with_the_practice_in_brackets_or_registered_with() {
    for (line, name) in [
        (
            "Usual GP: Dr Peter Holland (Riverside Surgery)",
            "Dr Peter Holland",
        ),
        (
            "Registered with: Dr Holland, Riverside Surgery",
            "Dr Holland",
        ),
    ] {
        let r = read(&format!(
            "Pain Clinic\n\nDear Colleague\n\nRe: Mrs Jane SMITH, DOB 01/02/1970\n{line}\n\nPlease offer her CBT.\n\nYours sincerely\n\nDr Ann Lee\n"
        ));
        assert_eq!(r.gp.name.as_deref(), Some(name), "{line}");
        assert_eq!(
            r.gp.practice.as_deref(),
            Some("Riverside Surgery"),
            "{line}"
        );
    }
}
