//! Audit: an append-only log where every step of a referral's life is one event,
//! chained with SHA-256 so that any change to a stored event is detectable.
//!
//! Inputs: events drafted by the store inside the transaction that makes the change.
//! Outputs: chained events and a verdict from [`verify`]. Events carry organisation,
//! action, referral id, outcome and time — never patient identifiers. This is domain
//! data written by the store, not tracing output.

pub mod chain;
pub mod event;
pub mod verify;

pub use chain::{GENESIS, link};
pub use event::{Action, AuditDraft, AuditEvent, Outcome};
pub use verify::{BrokenLink, verify};
