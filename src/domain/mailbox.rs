//! MESH mailbox ids: upper-case letters and digits, as NHS England issues them
//! (`X26ABC1`). Mailbox ids name organisations' mailboxes, never patients, so they
//! may be logged and sent in `mex-From` / `mex-To`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A MESH mailbox id, upper case.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MailboxId(String);

/// Why a string is not a mailbox id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("mailbox id must be 1 to 100 upper-case letters, digits, '-' or '_'")]
pub struct MailboxIdError;

impl MailboxId {
    /// Parses an id as configured: already upper case. Lower case is refused rather
    /// than folded, so a typo in the configuration is caught at start-up.
    ///
    /// # Errors
    /// [`MailboxIdError`] when empty, longer than 100 characters (MESH's limit for
    /// `mex-To`), or not upper-case letters, digits, `-` and `_`.
    pub fn parse(raw: &str) -> Result<Self, MailboxIdError> {
        let ok = !raw.is_empty()
            && raw.len() <= 100
            && raw
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(MailboxIdError)
        }
    }

    /// Parses an id a client sent: MESH treats mailbox ids case-insensitively (the
    /// sandbox upper-cases them), so this folds to upper case first.
    ///
    /// # Errors
    /// [`MailboxIdError`] as [`MailboxId::parse`].
    pub fn parse_from_client(raw: &str) -> Result<Self, MailboxIdError> {
        Self::parse(&raw.trim().to_ascii_uppercase())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for MailboxId {
    type Error = MailboxIdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<MailboxId> for String {
    fn from(m: MailboxId) -> Self {
        m.0
    }
}

impl fmt::Display for MailboxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for MailboxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MailboxId({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_mailbox_ids_must_be_upper_case() {
        assert!(MailboxId::parse("X26ABC1").is_ok());
        for bad in ["", "x26abc1", "X26 ABC1", "X26:ABC1", &"A".repeat(101)] {
            assert!(MailboxId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn client_mailbox_ids_are_folded_to_upper_case() {
        assert_eq!(
            MailboxId::parse_from_client("x26abc1").unwrap().as_str(),
            "X26ABC1"
        );
    }
}
