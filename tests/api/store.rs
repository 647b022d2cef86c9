//! The `Store` contract: every implementation must pass these. They take an
//! `Arc<dyn Store>` so the PostgreSQL store can run the same suite.

use std::sync::Arc;

use chrono::{Duration, Utc};
use refgate::audit::{self, Action, AuditDraft, Outcome};
use refgate::domain::{OrgId, ReferralId, State, Urgency};
use refgate::store::sqlite::SqliteStore;
use refgate::store::{Accepted, NewReferral, SealedDocument, StatusChange, Store, StoreError};

fn org(s: &str) -> OrgId {
    OrgId::parse(s).unwrap()
}

fn new_referral(content: u8, urgency: Urgency, offset_secs: i64) -> NewReferral {
    NewReferral {
        id: ReferralId::new(),
        referrer: org("RCB55"),
        channel: "http",
        state: State::Ready,
        provider: Some(org("TTNORTH")),
        urgency,
        received_at: Utc::now() + Duration::seconds(offset_secs),
        idempotency_hash: None,
        content_hash: [content; 32],
        match_hash: None,
        record_sealed: vec![1, 2, 3],
        document: Some(("application/json".into(), vec![4, 5])),
        supporting: Vec::new(),
        audit_detail: Some("rule=default".into()),
    }
}

fn change(id: ReferralId, provider: &str, to: State) -> StatusChange {
    StatusChange {
        id,
        actor: org(provider),
        provider: Some(org(provider)),
        to,
        reason: None,
        action: Action::StatusChange,
        at: Utc::now(),
    }
}

async fn sqlite() -> (tempfile::TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("s.db")).await.unwrap();
    (dir, Arc::new(store))
}

async fn accept_then_read_back(store: Arc<dyn Store>) {
    let n = new_referral(1, Urgency::Routine, 0);
    let Accepted::Created(s) = store.accept_referral(n.clone()).await.unwrap() else {
        panic!("created")
    };
    assert_eq!((s.id, s.state), (n.id, State::Ready));
    let got = store.get_referral(n.id).await.unwrap();
    assert_eq!(got.record_sealed, vec![1, 2, 3]);
    assert_eq!(got.document, Some(("application/json".into(), vec![4, 5])));
    let states: Vec<State> = got.history.iter().map(|t| t.state).collect();
    assert_eq!(states, [State::Received, State::Ready]);
    assert!(matches!(
        store.get_referral(ReferralId::new()).await,
        Err(StoreError::NotFound)
    ));
}

async fn same_content_is_a_duplicate_and_keys_must_match_content(store: Arc<dyn Store>) {
    let first = new_referral(2, Urgency::Routine, 0);
    store.accept_referral(first.clone()).await.unwrap();
    let again = NewReferral {
        id: ReferralId::new(),
        ..first.clone()
    };
    assert_eq!(
        store.accept_referral(again).await.unwrap(),
        Accepted::Duplicate(store.get_referral(first.id).await.unwrap().summary)
    );
    let mut keyed = new_referral(3, Urgency::Routine, 0);
    keyed.idempotency_hash = Some([9; 32]);
    store.accept_referral(keyed.clone()).await.unwrap();
    let mut reused = new_referral(4, Urgency::Routine, 0);
    reused.idempotency_hash = Some([9; 32]);
    assert!(matches!(
        store.accept_referral(reused).await,
        Err(StoreError::IdempotencyConflict)
    ));
}

async fn inbox_orders_urgent_first_and_hides_other_providers(store: Arc<dyn Store>) {
    let old = new_referral(5, Urgency::Routine, -60);
    let urgent = new_referral(6, Urgency::Urgent, 0);
    let mut elsewhere = new_referral(7, Urgency::Urgent, -120);
    elsewhere.provider = Some(org("TTWEST"));
    for n in [&old, &urgent, &elsewhere] {
        store.accept_referral(n.clone()).await.unwrap();
    }
    let inbox: Vec<ReferralId> = store
        .inbox(&org("TTNORTH"), 10)
        .await
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(inbox, [urgent.id, old.id]);
}

/// Providers poll the same page again and again; whatever the store keeps between
/// polls, a listing read after a write was answered must show that write.
async fn mesh_listing_shows_each_write_once_it_is_answered(store: Arc<dyn Store>) {
    let north = org("TTNORTH");
    let page = async |after, limit| store.inbox_page(&north, after, limit).await.unwrap();
    assert_eq!(page(None, 10).await.total, 0);
    let old = new_referral(40, Urgency::Routine, -60);
    store.accept_referral(old.clone()).await.unwrap();
    for _ in 0..3 {
        assert_eq!(page(None, 10).await.ids, [old.id]);
    }
    let urgent = new_referral(41, Urgency::Urgent, 0);
    store.accept_referral(urgent.clone()).await.unwrap();
    let first = page(None, 10).await;
    assert_eq!(
        (first.ids.as_slice(), first.total),
        ([urgent.id, old.id].as_slice(), 2)
    );
    // Keyset paging: one at a time, in inbox order.
    assert_eq!(page(None, 1).await.ids, [urgent.id]);
    assert_eq!(page(Some(urgent.id), 1).await.ids, [old.id]);
    assert!(page(Some(old.id), 1).await.ids.is_empty());
    // Token uses change no inbox; a status change does.
    let token = refgate::store::MeshTokenUse {
        mailbox: refgate::domain::MailboxId::parse("TTNORTHMB1").unwrap(),
        nonce: "n-1".into(),
        nonce_count: 1,
        expires_at: Utc::now() + Duration::minutes(5),
        now: Utc::now(),
    };
    assert!(store.use_mesh_token(token.clone()).await.unwrap());
    assert!(
        !store.use_mesh_token(token).await.unwrap(),
        "a replay is refused"
    );
    assert_eq!(page(None, 10).await.total, 2);
    for to in [State::Delivered, State::Acknowledged] {
        store
            .change_status(change(urgent.id, "TTNORTH", to))
            .await
            .unwrap();
    }
    let after_ack = page(None, 10).await;
    assert_eq!(
        (after_ack.ids.as_slice(), after_ack.total),
        ([old.id].as_slice(), 1)
    );
    // Acknowledged, it keeps its place in the order for a client paging past it.
    assert_eq!(page(Some(urgent.id), 10).await.ids, [old.id]);
}

/// Token uses arriving together are committed together; each token is fresh once.
async fn a_burst_of_token_uses_admits_each_token_once(store: Arc<dyn Store>) {
    let token = |n: u64| refgate::store::MeshTokenUse {
        mailbox: refgate::domain::MailboxId::parse("TTNORTHMB1").unwrap(),
        nonce: format!("burst-{}", n % 10),
        nonce_count: n % 3,
        expires_at: Utc::now() + Duration::minutes(5),
        now: Utc::now(),
    };
    let uses = (0..90).map(|n| {
        let store = store.clone();
        tokio::spawn(async move { store.use_mesh_token(token(n)).await.unwrap() })
    });
    let mut fresh = 0;
    for u in uses.collect::<Vec<_>>() {
        fresh += usize::from(u.await.unwrap());
    }
    // 10 nonces x 3 counts: 30 distinct tokens, each used three times.
    assert_eq!(fresh, 30);
    let too_big = refgate::store::MeshTokenUse {
        nonce_count: u64::MAX,
        ..token(0)
    };
    assert!(!store.use_mesh_token(too_big).await.unwrap());
}

async fn lifecycle_is_enforced_and_ownership_checked(store: Arc<dyn Store>) {
    let n = new_referral(8, Urgency::Routine, 0);
    store.accept_referral(n.clone()).await.unwrap();
    assert!(matches!(
        store
            .change_status(change(n.id, "TTNORTH", State::Acknowledged))
            .await,
        Err(StoreError::Transition(_))
    ));
    assert!(matches!(
        store
            .change_status(change(n.id, "TTWEST", State::Delivered))
            .await,
        Err(StoreError::NotFound)
    ));
    store
        .change_status(change(n.id, "TTNORTH", State::Delivered))
        .await
        .unwrap();
    let s = store
        .change_status(change(n.id, "TTNORTH", State::Acknowledged))
        .await
        .unwrap();
    assert_eq!(s.state, State::Acknowledged);
    assert!(store.inbox(&org("TTNORTH"), 10).await.unwrap().is_empty());
}

async fn a_failed_operation_leaves_the_audit_chain_intact(store: Arc<dyn Store>) {
    let n = new_referral(10, Urgency::Routine, 0);
    store.accept_referral(n.clone()).await.unwrap();
    // Fails inside the writer's batch: its audit event must be rolled back with it.
    let _ = store
        .change_status(change(n.id, "TTNORTH", State::Completed))
        .await;
    store
        .append_audit(AuditDraft {
            actor: None,
            action: Action::ValidationFailed,
            referral_id: None,
            outcome: Outcome::Failure,
            detail: None,
        })
        .await
        .unwrap();
    let events = store.audit_events().await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        ["intake", "routed", "validation-failed"]
    );
    assert_eq!(audit::verify(events), Ok(3));
}

async fn concurrent_writes_are_all_committed_and_chained(store: Arc<dyn Store>) {
    let tasks: Vec<_> = (0..200u8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .accept_referral(new_referral(i, Urgency::Routine, 0))
                    .await
            })
        })
        .collect();
    for t in tasks {
        assert!(matches!(t.await.unwrap().unwrap(), Accepted::Created(_)));
    }
    assert_eq!(
        store.count_by_state().await.unwrap(),
        vec![(State::Ready, 200)]
    );
    assert_eq!(audit::verify(store.audit_events().await.unwrap()), Ok(400));
}

/// Repeats and clashes that arrive together (so likely in one group commit) are
/// resolved one by one, in order, as if they had arrived apart.
async fn repeats_and_clashes_in_one_burst_are_resolved_one_by_one(store: Arc<dyn Store>) {
    let same_content: Vec<NewReferral> = (0..30)
        .map(|_| new_referral(7, Urgency::Routine, 0))
        .collect();
    let same_key: Vec<NewReferral> = (0..30u8)
        .map(|i| NewReferral {
            idempotency_hash: Some([9; 32]),
            ..new_referral(100 + i, Urgency::Routine, 0)
        })
        .collect();
    // Two different referrals claiming one id: the second breaks a unique constraint,
    // which must fail it alone and not its neighbours.
    let first = new_referral(60, Urgency::Urgent, 0);
    let clash = NewReferral {
        content_hash: [61; 32],
        ..first.clone()
    };
    let all: Vec<NewReferral> = same_content
        .into_iter()
        .chain(same_key)
        .chain([first, clash])
        .chain((200..230u8).map(|i| new_referral(i, Urgency::Routine, 0)))
        .collect();
    let tasks: Vec<_> = all
        .into_iter()
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move { store.accept_referral(n).await })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    let created = |r: &[Result<Accepted, StoreError>]| {
        r.iter()
            .filter(|r| matches!(r, Ok(Accepted::Created(_))))
            .count()
    };
    let (content, rest) = results.split_at(30);
    assert_eq!(created(content), 1);
    assert!(content.iter().all(|r| r.is_ok()));
    let (key, rest) = rest.split_at(30);
    assert_eq!(created(key), 1);
    assert_eq!(
        key.iter()
            .filter(|r| matches!(r, Err(StoreError::IdempotencyConflict)))
            .count(),
        29
    );
    let (clashing, others) = rest.split_at(2);
    assert_eq!(created(clashing), 1);
    assert_eq!(clashing.iter().filter(|r| r.is_err()).count(), 1);
    assert_eq!(created(others), 30);
    assert_eq!(
        store.count_by_state().await.unwrap(),
        vec![(State::Ready, 33)]
    );
    // 33 referrals x (intake + routed) + 29 duplicates; refused ones leave no event.
    assert_eq!(
        audit::verify(store.audit_events().await.unwrap()),
        Ok(33 * 2 + 29)
    );
}

/// A letter read twice (say a DOCX uploaded and the PDF emailed) reads slightly
/// differently but names the same patient and letter date: one referral.
async fn the_same_letter_by_another_route_matches_the_first(store: Arc<dyn Store>) {
    let first = NewReferral {
        match_hash: Some([42; 32]),
        ..new_referral(1, Urgency::Routine, 0)
    };
    let again = NewReferral {
        match_hash: Some([42; 32]),
        ..new_referral(2, Urgency::Routine, 0)
    };
    let Accepted::Created(made) = store.accept_referral(first).await.unwrap() else {
        panic!("created")
    };
    let Accepted::Duplicate(matched) = store.accept_referral(again).await.unwrap() else {
        panic!("matched")
    };
    assert_eq!(matched.id, made.id);
    // Another organisation's letter about the same patient and date is its own referral.
    let elsewhere = NewReferral {
        referrer: org("B82005"),
        match_hash: Some([42; 32]),
        ..new_referral(3, Urgency::Routine, 0)
    };
    assert!(matches!(
        store.accept_referral(elsewhere).await.unwrap(),
        Accepted::Created(_)
    ));
}

fn documents(tag: u8, count: u8) -> Vec<SealedDocument> {
    (0..count)
        .map(|i| SealedDocument {
            media_type: "application/pdf".into(),
            name_sealed: (i % 2 == 0).then(|| vec![tag, i, 0xAA]),
            bytes_sealed: vec![tag, i, 1, 2, 3],
        })
        .collect()
}

async fn supporting_documents_commit_with_their_referral(store: Arc<dyn Store>) {
    // A burst, so the documents go through the multi-row run path.
    let news: Vec<NewReferral> = (0..40u8)
        .map(|i| NewReferral {
            supporting: documents(i, i % 4),
            ..new_referral(150 + i, Urgency::Routine, 0)
        })
        .collect();
    let tasks: Vec<_> = news
        .iter()
        .cloned()
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move { store.accept_referral(n).await })
        })
        .collect();
    for t in tasks {
        assert!(matches!(t.await.unwrap(), Ok(Accepted::Created(_))));
    }
    for n in &news {
        assert_eq!(
            store.supporting_documents(n.id).await.unwrap(),
            n.supporting
        );
    }
    // A duplicate brings no second set; a clash (same id) fails without touching them.
    let first = &news[3];
    let again = NewReferral {
        id: ReferralId::new(),
        supporting: documents(99, 2),
        ..first.clone()
    };
    assert!(matches!(
        store.accept_referral(again.clone()).await,
        Ok(Accepted::Duplicate(_))
    ));
    assert!(
        store
            .supporting_documents(again.id)
            .await
            .unwrap()
            .is_empty()
    );
    let clash = NewReferral {
        content_hash: [254; 32],
        supporting: documents(98, 3),
        ..first.clone()
    };
    assert!(store.accept_referral(clash).await.is_err());
    assert_eq!(
        store.supporting_documents(first.id).await.unwrap(),
        first.supporting
    );
    assert!(
        store
            .supporting_documents(ReferralId::new())
            .await
            .unwrap()
            .is_empty()
    );
}

macro_rules! contract {
    ($($name:ident),*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let (_dir, store) = sqlite().await;
            super::$name(store.clone()).await;
            store.close().await;
        }
    )*};
}

mod sqlite_store {
    use super::*;
    contract!(
        accept_then_read_back,
        same_content_is_a_duplicate_and_keys_must_match_content,
        inbox_orders_urgent_first_and_hides_other_providers,
        mesh_listing_shows_each_write_once_it_is_answered,
        a_burst_of_token_uses_admits_each_token_once,
        lifecycle_is_enforced_and_ownership_checked,
        a_failed_operation_leaves_the_audit_chain_intact,
        concurrent_writes_are_all_committed_and_chained,
        repeats_and_clashes_in_one_burst_are_resolved_one_by_one,
        the_same_letter_by_another_route_matches_the_first,
        supporting_documents_commit_with_their_referral
    );
}

#[tokio::test]
async fn data_survives_closing_and_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let n = new_referral(11, Urgency::Urgent, 0);
    store.accept_referral(n.clone()).await.unwrap();
    store.close().await;
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(
        store.get_referral(n.id).await.unwrap().summary.urgency,
        Urgency::Urgent
    );
    // The chain continues from where it stopped.
    store
        .change_status(change(n.id, "TTNORTH", State::Delivered))
        .await
        .unwrap();
    assert_eq!(audit::verify(store.audit_events().await.unwrap()), Ok(3));
    store.close().await;
}
