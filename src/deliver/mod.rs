//! Deliver: hand referrals to providers.
//!
//! Two modes: the provider's inbox (list, download the FHIR message Bundle,
//! acknowledge), the poll model MESH uses; and email for providers configured with
//! `delivery = "email"` (`email`, sent by the outbox worker in `mailer`).
//! Delivery reads from the store only; it never calls intake.

pub mod email;
pub mod inbox;
pub mod mailer;
pub mod mesh;
mod retry;

pub use inbox::{DeliverContext, DeliverError};
