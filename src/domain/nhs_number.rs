//! NHS number: ten digits with a modulus-11 check digit (standards.md §4.3).

use std::fmt;

/// A syntactically well-formed NHS number (ten ASCII digits). Whether the check digit
/// passes is a separate question ([`NhsNumber::is_valid`]) because the record reports a
/// failing number rather than dropping it (`patient.nhs_number_valid`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct NhsNumber(String);

/// Why a string is not an NHS number. Messages never include the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NhsNumberError {
    #[error("nhs number must be 10 digits")]
    WrongShape,
}

impl NhsNumber {
    /// Reads a number written with any spacing or hyphens ("943 476 5919", "943-476-5919").
    ///
    /// # Errors
    /// [`NhsNumberError::WrongShape`] unless exactly ten digits remain once spaces and
    /// hyphens are removed.
    pub fn parse(raw: &str) -> Result<Self, NhsNumberError> {
        let digits: String = raw
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '\u{a0}'))
            .collect();
        if digits.len() == 10 && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(digits))
        } else {
            Err(NhsNumberError::WrongShape)
        }
    }

    /// True when the modulus-11 check digit matches. Weights 10..2 over digits 1-9;
    /// a computed check of 11 means 0 and 10 means the number can never be valid.
    pub fn is_valid(&self) -> bool {
        let d: Vec<u32> = self.0.bytes().map(|b| u32::from(b - b'0')).collect();
        let sum: u32 = d[..9].iter().zip((2..=10).rev()).map(|(x, w)| x * w).sum();
        match 11 - (sum % 11) {
            11 => d[9] == 0,
            10 => false,
            check => d[9] == check,
        }
    }

    /// The ten digits, no spaces.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

// Never print the number itself: Debug output ends up in logs.
impl fmt::Debug for NhsNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NhsNumber(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_example_passes_modulus_11() {
        assert!(NhsNumber::parse("943 476 5919").unwrap().is_valid());
    }

    #[test]
    fn test_range_numbers_pass() {
        for n in ["9990000018", "9990000026", "9990000034", "9990702314"] {
            assert!(NhsNumber::parse(n).unwrap().is_valid(), "{n}");
        }
    }

    #[test]
    fn nhs_number_with_wrong_check_digit_is_rejected() {
        assert!(!NhsNumber::parse("9434765918").unwrap().is_valid());
    }

    #[test]
    fn check_value_of_ten_is_never_valid() {
        for last in 0..=9 {
            assert!(
                !NhsNumber::parse(&format!("999123456{last}"))
                    .unwrap()
                    .is_valid()
            );
        }
    }

    #[test]
    fn hyphens_and_spaces_are_ignored_but_letters_are_not() {
        assert_eq!(
            NhsNumber::parse("943-476-5919").unwrap().as_str(),
            "9434765919"
        );
        assert_eq!(
            NhsNumber::parse("94347659X9"),
            Err(NhsNumberError::WrongShape)
        );
        assert_eq!(
            NhsNumber::parse("943476591"),
            Err(NhsNumberError::WrongShape)
        );
    }

    #[test]
    fn debug_output_hides_the_number() {
        let n = NhsNumber::parse("9434765919").unwrap();
        assert!(!format!("{n:?}").contains("943"));
    }
}
