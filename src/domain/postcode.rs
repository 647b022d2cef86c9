//! UK postcode: format check and normal form (standards.md §4.4).

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

// The published pattern, applied to the upper-cased value with spaces removed.
static POSTCODE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(GIR0AA|[A-PR-UWYZ][A-HK-Y]?[0-9][0-9A-HJKMNPR-Y]?[0-9][ABD-HJLNP-UW-Z]{2})$")
        .expect("static postcode pattern compiles")
});

/// A postcode in normal form: upper case, one space before the inward code ("HG2 0DJ").
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Postcode(String);

/// Why a value is not a UK postcode. Never carries the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid UK postcode")]
pub struct PostcodeError;

impl Postcode {
    /// Accepts any case and spacing.
    ///
    /// # Errors
    /// [`PostcodeError`] when the value does not match the UK postcode pattern.
    pub fn parse(raw: &str) -> Result<Self, PostcodeError> {
        let compact: String = raw
            .split_whitespace()
            .collect::<String>()
            .to_ascii_uppercase();
        if !POSTCODE.is_match(&compact) {
            return Err(PostcodeError);
        }
        let (outward, inward) = compact.split_at(compact.len() - 3);
        Ok(Self(format!("{outward} {inward}")))
    }

    /// The normal form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The outward code ("HG2"), used by routing rules.
    pub fn outward(&self) -> &str {
        self.0.split(' ').next().unwrap_or_default()
    }
}

impl fmt::Debug for Postcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Postcode(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postcodes_are_normalised_to_upper_case_with_one_space() {
        assert_eq!(Postcode::parse("hg20dj").unwrap().as_str(), "HG2 0DJ");
        assert_eq!(Postcode::parse(" SK11  7NN ").unwrap().as_str(), "SK11 7NN");
        assert_eq!(Postcode::parse("EC1A 1BB").unwrap().as_str(), "EC1A 1BB");
        assert_eq!(Postcode::parse("W1A 0AX").unwrap().outward(), "W1A");
    }

    #[test]
    fn malformed_postcodes_are_rejected() {
        for bad in ["", "HG2", "12345", "QX1 1AA", "HG2 0CI", "NOT A CODE"] {
            assert_eq!(Postcode::parse(bad), Err(PostcodeError), "{bad}");
        }
    }
}
