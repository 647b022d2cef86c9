//! Canonical domain types: the referral record, validated identifiers and the lifecycle.
//!
//! Inputs: nothing but values handed in by other stages. Outputs: typed values.
//! This module never performs I/O and imports nothing else from the crate, so every
//! stage can depend on it without cycles.

pub mod ids;
pub mod lifecycle;
pub mod mailbox;
pub mod nhs_number;
pub mod postcode;
pub mod referral;

pub use ids::{OrgId, ReferralId};
pub use lifecycle::State;
pub use mailbox::MailboxId;
pub use nhs_number::NhsNumber;
pub use postcode::Postcode;
pub use referral::{Gp, Measures, Patient, Preferences, Referral, Referrer, Sex, Source, Urgency};
