//! refgate: a secure referral interchange gateway.
//!
//! ```text
//!  intake channels          normalise              route            store + queue          deliver
//!  HTTPS JSON / FHIR ─┐
//!  (letters, email,   ├─▶ parse, schema-check, ─▶ directory of ─▶ durable record,     ─▶ provider inbox
//!   MESH: later)     ─┘   map to one record,      providers        sealed payload,       (list, download,
//!                         semantic checks         (GP ODS,         provider queue        acknowledge)
//!                                                 postcode,
//!                                                 pathway)
//!                   audit: every step appends a SHA-256 hash-chained event in the same transaction
//! ```
//!
//! Stages depend downstream only; `domain` depends on nothing; only `app` knows `api`.
#![forbid(unsafe_code)]

pub mod api;
pub mod app;
pub mod audit;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod deliver;
pub mod domain;
pub mod feedback;
pub mod init;
pub mod intake;
pub mod normalise;
pub mod outbox;
pub mod review;
pub mod route;
pub mod stats;
pub mod store;
pub mod telemetry;
pub mod tls;
