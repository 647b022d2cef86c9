//! Identity and people across template layouts: GP system exports with tabs and rulers,
//! registration numbers of every register, signing for a colleague, GP fields that say
//! there is none, ODS codes beside the practice they belong to, and address blocks set
//! to the right.

use super::*;
use crate::domain::Sex;

fn read(text: &str) -> Referral {
    extract(text).record
}

#[test]
fn a_nurse_pin_and_a_pharmacist_number_are_professional_ids() {
    let r = read(
        "Dear Colleague\n\nRe: Mrs Ann COLE, DOB 02/03/1961\n\nPlease offer her CBT for pain.\n\nKind regards\n\nSally Brook\nPractice Nurse\nNMC 07D4521E\n",
    );
    assert_eq!(r.referrer.professional_id.as_deref(), Some("NMC 07D4521E"));
    let r = read(
        "Dear Colleague\n\nRe: Mr Tom HALE, DOB 02/03/1961\n\nPlease offer him CBT for pain.\n\nKind regards\n\nOwen Price MPharm IP\nClinical Pharmacist\nGPhC 2034567\nRiverside PCN\n",
    );
    assert_eq!(r.referrer.name.as_deref(), Some("Owen Price"));
    assert_eq!(r.referrer.professional_id.as_deref(), Some("GPHC 2034567"));
    assert_eq!(r.referrer.organisation.as_deref(), Some("Riverside PCN"));
}

#[test]
fn a_registrar_signing_for_the_usual_gp_refers_and_the_gp_is_the_one_signed_for() {
    let r = read(
        "Oak Lane Surgery\n1 Oak Lane, Leeds LS2 2AA\n\nDear team\n\nRe: Ms Jo PARK, DOB 01/01/1990\n\nPlease see her for CBT.\n\nBest wishes,\n\nDr Sam Ode\nGP Registrar (ST2)\nGMC 7000001\nfor Dr Rita Vance (usual GP)\n",
    );
    assert_eq!(r.referrer.name.as_deref(), Some("Dr Sam Ode"));
    assert_eq!(r.referrer.role.as_deref(), Some("GP Registrar (ST2)"));
    assert_eq!(r.referrer.professional_id.as_deref(), Some("GMC 7000001"));
    assert_eq!(r.gp.name.as_deref(), Some("Dr Rita Vance"));
    assert_eq!(r.gp.practice.as_deref(), Some("Oak Lane Surgery"));
}

#[test]
fn a_gp_field_that_says_there_is_none_gives_no_gp() {
    for value in [
        "not registered",
        "None",
        "unknown",
        "no registered GP at present",
    ] {
        let r = read(&format!(
            "Pain Clinic\n\nPatient: Mr Ali REZA\nDOB: 01/01/1980\nGP: {value}\n\nDear Colleague\n\nPlease offer him CBT.\n\nYours sincerely\n\nDr Ann Lee\nConsultant\n"
        ));
        assert_eq!(r.gp.name, None, "{value}");
        assert_eq!(r.gp.practice, None, "{value}");
    }
}

#[test]
fn the_ods_code_closing_a_gp_addressee_block_is_the_practices() {
    for code_line in ["ODS: P81234", "(P81234)"] {
        let r = read(&format!(
            "Hill Hospital\n\nDr Mia Cole\nBrook Medical Centre\n4 Brook Road\nYork YO1 1AA\n{code_line}\n\nDear Dr Cole\n\nRe: Mr Ed SHAW, DOB 01/01/1970\n\nI have referred him for CBT.\n\nYours sincerely\n\nDr Ann Lee\nConsultant\n"
        ));
        assert_eq!(r.gp.name.as_deref(), Some("Dr Mia Cole"));
        assert_eq!(r.gp.ods_code.as_deref(), Some("P81234"), "{code_line}");
    }
}

#[test]
fn an_ods_code_on_the_line_naming_the_gps_practice_is_read() {
    let r = read(
        "HILLSIDE PRIMARY CARE NETWORK\nHosted by Elm Street Surgery, 2 Elm Street, Derby DE1 1AA   ODS: C81999\n\nDate: 2 March 2025\n\nPatient: Mrs Ann COLE   DOB 02/03/1961\nRegistered GP: Dr Ben Hart, Elm Street Surgery\n\nPlease offer her guided self-help.\n\nOwen Price\nClinical Pharmacist\n",
    );
    assert_eq!(r.gp.practice.as_deref(), Some("Elm Street Surgery"));
    assert_eq!(r.gp.ods_code.as_deref(), Some("C81999"));
}

#[test]
fn a_gp_export_with_rulers_a_title_field_and_a_closing_signature_is_read() {
    let r = read(
        "      Practice Referral Letter\n==========================\nFrom:       Dr Kay Moss\n            Fern Surgery\n            1 Fern Road, Bath BA1 1AA\nPractice code:   L81999\n\nDate:  3/3/2025\n--------------------------\nPATIENT DETAILS\nName:       HUGHES, Rhian Mair\nTitle:      Ms\nDOB:        01/02/1985\nNHS No:     999 000 0018\nUsual GP:   Dr Kay Moss\n--------------------------\nREASON FOR REFERRAL\nLow mood with chronic pain.\nRequested: CBT.\n--------------------------\nDr Kay Moss  MRCGP\nGP Partner\nGMC 7111111\n",
    );
    assert_eq!(r.patient.title.as_deref(), Some("Ms"));
    assert_eq!(r.patient.family_name.as_deref(), Some("Hughes"));
    assert_eq!(r.referrer.role.as_deref(), Some("GP Partner"));
    assert_eq!(r.referrer.professional_id.as_deref(), Some("GMC 7111111"));
    assert_eq!(r.referrer.organisation.as_deref(), Some("Fern Surgery"));
    assert_eq!(r.gp.practice.as_deref(), Some("Fern Surgery"));
    assert_eq!(r.gp.ods_code.as_deref(), Some("L81999"));
}

#[test]
fn a_short_note_under_an_unvalued_sign_off_leaves_the_signatory() {
    let r = read(
        "Date: 2 March 2025\n\nPt:   Mrs A. FORD-LEIGH     DOB 02-Mar-1961\n\nPlease offer her guided self-help.\n\nOwen Price\nClinical Pharmacist\n\nAgreed with Dr Ben Hart (GP).\n",
    );
    assert_eq!(r.patient.family_name.as_deref(), Some("Ford-Leigh"));
    assert_eq!(r.patient.given_names, vec!["A"]);
    assert_eq!(r.referrer.name.as_deref(), Some("Owen Price"));
    assert_eq!(r.referrer.role.as_deref(), Some("Clinical Pharmacist"));
}

#[test]
fn tab_separated_patient_and_practice_blocks_are_read() {
    let r = read(
        "Patient\tMs Jo Ann KEMP\n\t3 Mill Lane, Otley, LS21 1AA\nDOB\t1.2.70\tGender\tFemale\n\nReferring organisation\tMill Lane Surgery\n\tPractice code B82999\nUsual GP\tDr Ravi Shah\n\nDear colleague,\n\nPlease offer her CBT.\n\nKind regards\n\nLiz Dunn\nPractice Nurse\nMill Lane Surgery\n",
    );
    assert_eq!(r.patient.family_name.as_deref(), Some("Kemp"));
    assert_eq!(r.patient.given_names, vec!["Jo", "Ann"]);
    assert_eq!(r.patient.sex, Sex::Female);
    assert_eq!(r.patient.postcode.as_deref(), Some("LS21 1AA"));
    assert_eq!(r.gp.name.as_deref(), Some("Dr Ravi Shah"));
    assert_eq!(r.gp.practice.as_deref(), Some("Mill Lane Surgery"));
    assert_eq!(r.gp.ods_code.as_deref(), Some("B82999"));
}

#[test]
fn a_letter_to_the_patient_with_the_address_set_right_names_them() {
    let r = read(
        "Spine Service\nCity Hospital, Leeds LS1 3EX\n\n                              Ms Jo Ann KEMP\n                              12 Mill Court\n                              Otley\n                              LS21 1AA\n\nNHS number: 9990000018\n\nDear Ms Kemp\n\nI have asked Talking Therapies to offer you CBT.\n\nYours sincerely\n\nMr Ben Hart\nConsultant Spinal Surgeon\n",
    );
    assert_eq!(r.patient.family_name.as_deref(), Some("Kemp"));
    assert_eq!(r.patient.title.as_deref(), Some("Ms"));
    assert_eq!(r.patient.postcode.as_deref(), Some("LS21 1AA"));
}

#[test]
fn patient_details_in_a_column_beside_the_letterhead_are_the_patients() {
    let r = read(
        "Moor Valley Hospitals NHS Trust          Patient:  Mrs Ada Grace DE VERE\nDepartment of Neurology                  DOB: 3rd May 1950\nHeadache Clinic                          NHS No: 999 000 0018\nStation Road, Bakewell DE45 1AA          Rose Cottage, Mill Lane\nTel: 01632 960 111                       Eyam, Hope Valley\n                                         S32 5QR\n\n1 June 2026\n\nDear Colleague\n\nPlease offer her CBT for pain.\n\nYours sincerely\n\nDr Ann Lee\nConsultant Neurologist\n",
    );
    assert_eq!(r.patient.title.as_deref(), Some("Mrs"));
    assert_eq!(r.patient.given_names, vec!["Ada", "Grace"]);
    assert_eq!(r.patient.family_name.as_deref(), Some("De Vere"));
    assert_eq!(r.patient.date_of_birth.as_deref(), Some("1950-05-03"));
    assert_eq!(r.patient.postcode.as_deref(), Some("S32 5QR"));
    assert_eq!(r.patient.phone, None);
    assert_eq!(
        r.patient.address_lines,
        vec!["Rose Cottage", "Mill Lane", "Eyam", "Hope Valley"]
    );
    assert_eq!(
        r.referrer.organisation.as_deref(),
        Some("Moor Valley Hospitals NHS Trust")
    );
}

#[test]
fn a_two_column_patient_block_is_not_split_into_letterhead() {
    let r = read(
        "Name:   Mrs Ada HOLT            NHS No: 999 000 0018\nDOB:    01/02/1960             Hospital No: A123456\nAddress: 2 Mill Lane           Tel: 07700 900123\n         Leeds LS1 1AA\n\nDear Colleague\n\nPlease offer her CBT.\n\nYours sincerely\n\nDr Ann Lee\n",
    );
    assert_eq!(r.patient.family_name.as_deref(), Some("Holt"));
    assert_eq!(r.patient.nhs_number.as_deref(), Some("9990000018"));
    assert_eq!(r.patient.postcode.as_deref(), Some("LS1 1AA"));
}
