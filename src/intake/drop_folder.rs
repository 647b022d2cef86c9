//! The drop folder: for clinics whose letters today go to print and post, the clinic
//! system's print-to-file or hybrid-mail export writes each document into a folder
//! per organisation, and refgate takes it in like any submission.
//!
//! A file is read only once it has settled (same size and modification time on two
//! polls, and untouched for `settle`), so a file still being written is never read
//! early. After intake commits, the file moves to `processed/` with a receipt beside
//! it, or to `rejected/` with the OperationOutcome saying why. If the gateway stops
//! between the commit and the move, the file is read again on restart and matched to
//! the referral it already made (its idempotency key is its name, size and time), so
//! no file is ever taken in twice. Files whose names start with `.` or end in `.part`
//! or `.tmp` are still being written by convention and are left alone.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::{Channel, IntakeContext, IntakeError, RawSubmission, accept};
use crate::domain::OrgId;
use crate::normalise::{Format, operation_outcome};

/// One organisation's folder.
#[derive(Debug, Clone)]
pub struct DropFolder {
    pub org: OrgId,
    pub dir: PathBuf,
    pub poll: Duration,
    pub settle: Duration,
    /// Larger files are rejected unread, like an oversized HTTP body.
    pub max_bytes: u64,
}

/// Size and modification time: a file whose pair has not changed has settled.
type Seen = HashMap<PathBuf, (u64, SystemTime)>;

impl DropFolder {
    /// Creates the folder and its `processed/` and `rejected/` subfolders.
    ///
    /// # Errors
    /// When they cannot be created.
    pub fn prepare(&self) -> std::io::Result<()> {
        std::fs::create_dir_all(self.dir.join("processed"))?;
        std::fs::create_dir_all(self.dir.join("rejected"))
    }

    /// Polls until `stop` is cancelled; the file in hand is finished first.
    pub async fn run(self, ctx: IntakeContext, stop: CancellationToken) {
        let mut seen = Seen::new();
        let mut tick = tokio::time::interval(self.poll);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            for path in self.settled(&mut seen).await {
                if stop.is_cancelled() {
                    return;
                }
                self.take_in(&ctx, &path).await;
            }
        }
    }

    /// Files that have not changed since the last poll and are older than `settle`.
    async fn settled(&self, seen: &mut Seen) -> Vec<PathBuf> {
        let mut ready = Vec::new();
        let mut now_seen = Seen::new();
        let Ok(mut entries) = tokio::fs::read_dir(&self.dir).await else {
            tracing::warn!(org = %self.org, "drop folder cannot be read");
            return ready;
        };
        while let Ok(Some(entry)) = entries.next_entry().await {
            let path = entry.path();
            let Ok(meta) = entry.metadata().await else {
                continue;
            };
            if !meta.is_file() || still_being_written(&path) {
                continue;
            }
            let Ok(modified) = meta.modified() else {
                continue;
            };
            let stamp = (meta.len(), modified);
            let quiet = modified.elapsed().is_ok_and(|age| age >= self.settle);
            if seen.get(&path) == Some(&stamp) && quiet {
                ready.push(path.clone());
            }
            now_seen.insert(path, stamp);
        }
        *seen = now_seen;
        ready.sort();
        ready
    }

    #[tracing::instrument(skip_all, fields(org = %self.org, channel = "drop-folder"))]
    async fn take_in(&self, ctx: &IntakeContext, path: &Path) {
        let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            return;
        };
        let (len, modified) = match tokio::fs::metadata(path).await {
            Ok(m) => (m.len(), m.modified().ok()),
            Err(_) => return,
        };
        if len > self.max_bytes {
            let outcome = json!({"resourceType": "OperationOutcome", "issue": [{
                "severity": "error", "code": "too-long",
                "diagnostics": format!("file is larger than the limit of {} bytes", self.max_bytes)}]});
            self.file_away(path, &name, "rejected", &outcome).await;
            return;
        }
        let body = match tokio::fs::read(path).await {
            Ok(b) => Bytes::from(b),
            Err(e) => {
                tracing::warn!(error = %e, "drop folder file cannot be read; will retry");
                return;
            }
        };
        let stamp = modified
            .and_then(|m| m.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        let raw = RawSubmission {
            org: self.org.clone(),
            channel: Channel::DropFolder,
            // Files have no declared type: the content decides.
            media_type: Format::detect(&body)
                .map(Format::media_type)
                .unwrap_or("application/octet-stream")
                .to_owned(),
            body,
            idempotency_key: Some(format!("drop-folder:{name}:{len}:{stamp}")),
            // An `.eml` dropped here brings its attachments itself (intake reads it).
            supporting: Vec::new(),
        };
        match accept(ctx, raw).await {
            Ok(receipt) => {
                let s = &receipt.summary;
                let note = json!({
                    "id": s.id, "state": s.state, "provider": s.provider,
                    "duplicate": receipt.duplicate, "review_reasons": receipt.review_reasons,
                });
                self.file_away(path, &name, "processed", &note).await;
            }
            Err(IntakeError::Invalid(problems)) => {
                self.file_away(path, &name, "rejected", &operation_outcome(&problems))
                    .await;
            }
            Err(e @ (IntakeError::UnsupportedMediaType | IntakeError::IdempotencyConflict)) => {
                let outcome = json!({"resourceType": "OperationOutcome", "issue": [{
                    "severity": "error", "code": "not-supported", "diagnostics": e.to_string()}]});
                self.file_away(path, &name, "rejected", &outcome).await;
            }
            // The store or keys failed: nothing was taken in; the file stays for the
            // next poll.
            Err(e) => tracing::error!(error = %e, "drop folder intake failed; will retry"),
        }
    }

    /// Moves the file into `processed/` or `rejected/` with a JSON note beside it
    /// (`<name>.json`). A name already there gets a numbered one, so nothing is
    /// overwritten.
    async fn file_away(&self, path: &Path, name: &str, to: &str, note: &serde_json::Value) {
        let folder = self.dir.join(to);
        let mut target = folder.join(name);
        let mut n = 1;
        while tokio::fs::try_exists(&target).await.unwrap_or(false) {
            target = folder.join(format!("{n}-{name}"));
            n += 1;
        }
        let note_path = target.with_file_name(format!(
            "{}.json",
            target
                .file_name()
                .map(|f| f.to_string_lossy())
                .unwrap_or_default()
        ));
        let written = tokio::fs::write(&note_path, note.to_string()).await;
        let moved = tokio::fs::rename(path, &target).await;
        if let Err(e) = written.and(moved) {
            tracing::error!(error = %e, folder = to, "drop folder file could not be moved");
        }
    }
}

fn still_being_written(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    name.starts_with('.') || name.ends_with(".part") || name.ends_with(".tmp")
}
