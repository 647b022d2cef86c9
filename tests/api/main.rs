//! Integration tests: a real gateway on a random loopback port, real TLS with
//! certificates generated per test, a real SQLite file, real HTTPS clients.

mod audit;
mod auth;
mod cli;
mod drop_folder;
mod email_documents;
mod email_end_to_end;
mod feedback;
mod fhir_output;
mod helpers;
mod idempotency;
mod inbox;
mod intake;
mod letters;
mod logs;
mod mail_out;
mod mail_sink;
mod mesh;
mod push;
mod restart;
mod review;
mod smtp;
mod stats;
mod store;
