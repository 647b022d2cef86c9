//! Deliver: hand referrals to providers.
//!
//! Three modes: the provider's inbox (list, download the FHIR message Bundle,
//! acknowledge), the poll model MESH uses; email for providers configured with
//! `delivery = "email"` (`email`, sent by the outbox worker in `mailer`); and push for
//! `delivery = "push"` (`push`: POSTed to the provider's `$process-message`). What
//! cannot be delivered goes to the dead letters, which operators re-drive
//! (`dead_letter`).
//! Delivery reads from the store only; it never calls intake.

pub mod dead_letter;
pub mod email;
pub mod inbox;
pub mod mailer;
pub mod mesh;
pub mod push;
mod push_client;
mod retry;

pub use inbox::{DeliverContext, DeliverError};
