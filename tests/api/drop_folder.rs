//! The drop folder: files written by a clinic system become referrals, and each file
//! ends in `processed/` or `rejected/` with a note saying what happened.

use std::path::{Path, PathBuf};
use std::time::Duration;

use refgate::config::DropFolderSettings;
use refgate::domain::OrgId;
use serde_json::Value;

use crate::helpers::*;

async fn with_drop_folder() -> (TestApp, PathBuf) {
    let app = spawn_app_with(|s, dir| {
        s.drop_folders.push(DropFolderSettings {
            organisation: OrgId::parse(MSK).unwrap(),
            path: dir.join("drop"),
            poll_interval_ms: 50,
            settle_ms: 150,
        });
    })
    .await;
    let folder = app.dir.path().join("drop");
    (app, folder)
}

/// Waits for `name`'s note in `processed/` or `rejected/`: which one, and the note.
async fn outcome(folder: &Path, name: &str) -> (&'static str, Value) {
    for _ in 0..200 {
        for to in ["processed", "rejected"] {
            let note = folder.join(to).join(format!("{name}.json"));
            if folder.join(to).join(name).exists()
                && let Ok(text) = std::fs::read_to_string(&note)
            {
                return (to, serde_json::from_str(&text).unwrap());
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{name} was not filed away");
}

#[actix_web::test]
async fn a_dropped_referral_reaches_its_provider_and_the_file_is_filed_away() {
    let (app, folder) = with_drop_folder().await;
    std::fs::write(folder.join("odell.json"), fixture("json/FJ03.json")).unwrap();
    let (to, note) = outcome(&folder, "odell.json").await;
    assert_eq!(to, "processed", "{note}");
    assert_eq!(note["state"], "ready");
    assert_eq!(note["provider"], NORTH);
    assert!(!folder.join("odell.json").exists());
    let (_, inbox) = app.get(NORTH, "/inbox").await;
    assert_eq!(inbox["messages"][0]["id"], note["id"]);
    let (_, view) = app
        .get(MSK, &format!("/referrals/{}", note["id"].as_str().unwrap()))
        .await;
    assert_eq!(
        view["state"], "ready",
        "the clinic follows it like any referral"
    );
}

#[actix_web::test]
async fn an_invalid_file_is_rejected_with_the_reason_beside_it() {
    let (app, folder) = with_drop_folder().await;
    std::fs::write(folder.join("bad.json"), fixture("json/FJ04.json")).unwrap();
    std::fs::write(folder.join("noise.bin"), [0u8, 159, 146, 150, 1, 2]).unwrap();
    let (to, note) = outcome(&folder, "bad.json").await;
    assert_eq!(to, "rejected");
    assert_eq!(note["resourceType"], "OperationOutcome");
    assert!(note.to_string().contains("modulus-11"), "{note}");
    let (to, note) = outcome(&folder, "noise.bin").await;
    assert_eq!(to, "rejected", "{note}");
    let (_, inbox) = app.get(NORTH, "/inbox").await;
    assert_eq!(inbox["count"], 0);
}

#[actix_web::test]
async fn a_file_still_being_written_is_not_read_early() {
    let (app, folder) = with_drop_folder().await;
    let body = fixture("json/FJ03.json");
    let (head, tail) = body.split_at(body.len() / 2);
    let path = folder.join("slow.json");
    std::fs::write(&path, head).unwrap();
    // Keep writing for longer than a poll but less than the settle time.
    for chunk in tail.chunks(tail.len() / 4 + 1) {
        tokio::time::sleep(Duration::from_millis(40)).await;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        std::io::Write::write_all(&mut f, chunk).unwrap();
    }
    let (to, note) = outcome(&folder, "slow.json").await;
    assert_eq!(to, "processed", "half a file must never be read: {note}");
    let (_, inbox) = app.get(NORTH, "/inbox").await;
    assert_eq!(inbox["count"], 1);
}

#[actix_web::test]
async fn the_same_document_dropped_twice_is_one_referral_and_part_files_wait() {
    let (app, folder) = with_drop_folder().await;
    std::fs::write(folder.join("first.json"), fixture("json/FJ03.json")).unwrap();
    let (_, first) = outcome(&folder, "first.json").await;
    // A print-to-file export writes under a temporary name, then renames.
    std::fs::write(folder.join("second.json.part"), fixture("json/FJ03.json")).unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        folder.join("second.json.part").exists(),
        ".part files are left alone"
    );
    std::fs::rename(folder.join("second.json.part"), folder.join("second.json")).unwrap();
    let (to, second) = outcome(&folder, "second.json").await;
    assert_eq!(to, "processed");
    assert_eq!(second["duplicate"], true);
    assert_eq!(second["id"], first["id"]);
    let (_, inbox) = app.get(NORTH, "/inbox").await;
    assert_eq!(inbox["count"], 1);
}

#[actix_web::test]
async fn a_file_left_behind_by_a_stop_is_matched_not_taken_in_twice() {
    let (app, folder) = with_drop_folder().await;
    std::fs::write(folder.join("odell.json"), fixture("json/FJ03.json")).unwrap();
    let (_, note) = outcome(&folder, "odell.json").await;
    // As if the gateway had stopped after committing but before moving the file:
    // put it back exactly as it was (same name, size and time) and restart.
    let processed = folder.join("processed");
    std::fs::remove_file(processed.join("odell.json.json")).unwrap();
    std::fs::rename(processed.join("odell.json"), folder.join("odell.json")).unwrap();
    let app = app.restart().await;
    let (to, again) = outcome(&folder, "odell.json").await;
    assert_eq!(to, "processed");
    assert_eq!(again["id"], note["id"]);
    assert_eq!(again["duplicate"], true);
    let (_, inbox) = app.get(NORTH, "/inbox").await;
    assert_eq!(inbox["count"], 1);
}
