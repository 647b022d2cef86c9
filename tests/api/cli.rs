//! The command line as an operator uses it: the real `refgate` binary on files made by
//! `refgate init`.

use std::path::Path;
use std::process::{Command, Output};

use crate::helpers::fixture_path;

fn refgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_refgate"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("the refgate binary runs")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn init(dir: &Path) -> String {
    let out = refgate(&["init", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    dir.join("refgate.toml").to_str().unwrap().to_owned()
}

#[test]
fn config_check_accepts_the_demo_configuration_and_shows_where_submissions_would_go() {
    let dir = tempfile::tempdir().unwrap();
    let config = init(&dir.path().join("demo"));
    let leeds = dir.path().join("leeds.json");
    let mut record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture_path("json/FJ03.json")).unwrap()).unwrap();
    record["patient"]["postcode"] = "LS6 2QT".into();
    std::fs::write(&leeds, serde_json::to_vec(&record).unwrap()).unwrap();
    let fj01 = fixture_path("json/FJ01.json");
    let fj04 = fixture_path("json/FJ04.json");
    let out = refgate(&[
        "config",
        "check",
        "--config",
        &config,
        fj01.to_str().unwrap(),
        leeds.to_str().unwrap(),
        fj04.to_str().unwrap(),
    ]);
    let shown = text(&out);
    // FJ04 is rejected, so not everything could be routed.
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(
        shown.contains("configuration ok: 5 organisations, 2 routes"),
        "{shown}"
    );
    let line = |name: &str| {
        shown
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("no line for {name}: {shown}"))
            .to_owned()
    };
    assert!(line("FJ01.json").contains("-> TTNORTH"), "{shown}");
    assert!(line("leeds.json").contains("-> TTWEST"), "{shown}");
    assert!(line("FJ04.json").contains("rejected"), "{shown}");
    assert!(line("FJ04.json").contains("modulus-11"), "{shown}");
    // Nothing was sent or stored: the database was never created.
    assert!(!dir.path().join("demo/data/refgate.db").exists());
}

#[test]
fn config_check_names_the_key_at_fault() {
    let dir = tempfile::tempdir().unwrap();
    let config = init(&dir.path().join("demo"));
    let original = std::fs::read_to_string(&config).unwrap();
    let cases = [
        (
            original.replace("[server]\n", "[server]\ncolour = \"blue\"\n"),
            "colour",
        ),
        (
            original.replace("certs/orgs/TTWEST.pem", "certs/orgs/MISSING.pem"),
            "organisations[3].client_cert",
        ),
        (
            original.replace(
                "provider = \"TTWEST\"\ngp_ods",
                "provider = \"TTEAST\"\ngp_ods",
            ),
            "routing.routes[0].provider",
        ),
    ];
    for (broken, key) in cases {
        std::fs::write(&config, &broken).unwrap();
        let out = refgate(&["config", "check", "--config", &config]);
        assert_eq!(out.status.code(), Some(2), "{key}: {}", text(&out));
        assert!(text(&out).contains(key), "{key}: {}", text(&out));
    }
}

#[test]
fn init_refuses_to_overwrite_an_existing_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let config = init(&dir.path().join("demo"));
    let key = std::fs::read(dir.path().join("demo/keys/data.key")).unwrap();
    let out = refgate(&["init", dir.path().join("demo").to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(text(&out).contains("already exists"), "{}", text(&out));
    assert_eq!(
        std::fs::read(dir.path().join("demo/keys/data.key")).unwrap(),
        key
    );
    assert!(Path::new(&config).exists());
}

#[test]
fn normalise_prints_the_record_and_exits_by_outcome() {
    let out = refgate(&[
        "normalise",
        fixture_path("json/FJ01.json").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(record["patient"]["nhs_number"], "9990104735");
    assert_eq!(record["referrer"]["professional_id"], "GMC 6987012");

    let out = refgate(&[
        "normalise",
        fixture_path("json/FJ04.json").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let outcome: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(outcome["resourceType"], "OperationOutcome");
    assert_eq!(
        outcome["issue"][0]["expression"][0],
        "Bundle.entry[2].resource.identifier[0].value"
    );

    // No referrer named: readable, but it must wait for review.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("unsigned.json");
    let mut record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture_path("json/FJ03.json")).unwrap()).unwrap();
    record["referrer"]["name"] = serde_json::Value::Null;
    std::fs::write(&file, serde_json::to_vec(&record).unwrap()).unwrap();
    let out = refgate(&["normalise", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("referrer.name"), "{}", text(&out));
}

#[actix_web::test]
async fn send_posts_a_document_as_the_organisation_and_prints_the_reference() {
    let app = crate::helpers::spawn_app().await;
    let port = app.address.rsplit(':').next().unwrap().to_owned();
    let (cert, key) =
        app.pki.orgs[&refgate::domain::OrgId::parse(crate::helpers::MSK).unwrap()].clone();
    let send = |file: std::path::PathBuf| {
        let args = [
            "send".to_owned(),
            file.to_str().unwrap().to_owned(),
            "--gateway".to_owned(),
            format!("https://localhost:{port}"),
            "--cert".to_owned(),
            cert.to_str().unwrap().to_owned(),
            "--key".to_owned(),
            key.to_str().unwrap().to_owned(),
            "--ca".to_owned(),
            app.pki.ca.to_str().unwrap().to_owned(),
        ];
        // The gateway runs on this test's runtime: wait for the child off-thread.
        actix_web::rt::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            refgate(&args)
        })
    };
    let out = send(fixture_path("json/FJ03.json")).await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let shown = text(&out);
    assert!(shown.contains("state: ready"), "{shown}");
    let id = shown
        .split("reference ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap()
        .to_owned();
    let (_, inbox) = app.get(crate::helpers::NORTH, "/inbox").await;
    assert_eq!(inbox["messages"][0]["id"], id.as_str());

    let out = send(fixture_path("json/FJ04.json")).await.unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("modulus-11"), "{}", text(&out));
}
