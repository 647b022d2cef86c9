//! Deliver: hand referrals to providers.
//!
//! Today one mode: the provider's inbox (list, download the FHIR message Bundle,
//! acknowledge), the poll model MESH uses. Push and email delivery come later.
//! Delivery reads from the store only; it never calls intake.

pub mod inbox;

pub use inbox::{DeliverContext, DeliverError};
