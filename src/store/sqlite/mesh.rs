//! MESH state in SQLite: used authorisation tokens (written through the single writer,
//! so a use is committed before the request goes on) and the paged inbox listing.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool};

use super::{db_err, parse_id};
use crate::domain::{OrgId, ReferralId};
use crate::store::{InboxPage, MeshTokenUse, StoreError};

/// Records a run of token uses in one statement, answering for each whether it was
/// fresh. A token used twice in the run is fresh the first time only.
pub(super) async fn use_tokens(
    conn: &mut SqliteConnection,
    uses: &[&MeshTokenUse],
) -> Result<Vec<bool>, StoreError> {
    // Counts above i64::MAX cannot be stored; such a token is refused as a replay.
    let counts: Vec<Option<i64>> = uses
        .iter()
        .map(|t| i64::try_from(t.nonce_count).ok())
        .collect();
    let storable: Vec<(&MeshTokenUse, i64)> = (uses.iter().zip(&counts))
        .filter_map(|(t, c)| c.map(|c| (*t, c)))
        .collect();
    let mut inserted = HashSet::new();
    if !storable.is_empty() {
        let mut insert = QueryBuilder::<Sqlite>::new(
            "INSERT INTO mesh_nonces (mailbox, nonce, nonce_count, expires_at) ",
        );
        insert.push_values(&storable, |mut row, (t, count)| {
            row.push_bind(t.mailbox.as_str())
                .push_bind(t.nonce.as_str())
                .push_bind(*count)
                .push_bind(t.expires_at.timestamp());
        });
        insert.push(" ON CONFLICT DO NOTHING RETURNING mailbox, nonce, nonce_count");
        for row in insert.build().fetch_all(&mut *conn).await.map_err(db_err)? {
            let key: (String, String, i64) = (
                row.try_get(0).map_err(db_err)?,
                row.try_get(1).map_err(db_err)?,
                row.try_get(2).map_err(db_err)?,
            );
            inserted.insert(key);
        }
    }
    // Each inserted key answers "fresh" once, to the first use that carried it.
    Ok((uses.iter().zip(counts))
        .map(|(t, count)| {
            count.is_some_and(|count| {
                inserted.remove(&(t.mailbox.as_str().to_owned(), t.nonce.clone(), count))
            })
        })
        .collect())
}

/// Forgets token uses whose tokens have left the clock window: such a token is refused
/// as stale before its nonce is looked up. Once per batch, not once per token.
pub(super) async fn forget_expired(
    conn: &mut SqliteConnection,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM mesh_nonces WHERE expires_at < $1")
        .bind(now.timestamp())
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// Most listing pages kept; past it, pages from before the last write are dropped.
const MAX_CACHED_PAGES: usize = 256;

type PageKey = (OrgId, Option<ReferralId>, u32);

/// Inbox listings as last read, each valid until the next write that could change an
/// inbox. Providers poll far more often than their inboxes change, and a listing
/// costs a read of up to 5,001 index entries where a kept one costs a copy.
///
/// The writer bumps `changes` after such a commit and before it answers anyone, so a
/// client told "201" or "acknowledged" never sees a listing from before. A page is
/// kept under the count read *before* its query: a write racing the query leaves the
/// page marked older than it is, never newer, so it is read again, not served stale.
pub(super) struct Listings {
    changes: Arc<AtomicU64>,
    pages: Mutex<HashMap<PageKey, (u64, InboxPage)>>,
}

impl Listings {
    pub(super) fn new(changes: Arc<AtomicU64>) -> Self {
        Self {
            changes,
            pages: Mutex::new(HashMap::new()),
        }
    }

    pub(super) async fn page(
        &self,
        pool: &SqlitePool,
        provider: &OrgId,
        after: Option<ReferralId>,
        limit: u32,
    ) -> Result<InboxPage, StoreError> {
        let key = (provider.clone(), after, limit);
        let version = self.changes.load(Ordering::Acquire);
        if let Some((v, page)) = self.lock().get(&key)
            && *v == version
        {
            return Ok(page.clone());
        }
        let page = inbox_page(pool, provider, after, limit).await?;
        let mut pages = self.lock();
        if pages.len() >= MAX_CACHED_PAGES {
            pages.retain(|_, (v, _)| *v == version);
            if pages.len() >= MAX_CACHED_PAGES {
                pages.clear();
            }
        }
        pages.insert(key, (version, page.clone()));
        Ok(page)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PageKey, (u64, InboxPage)>> {
        // The map holds only copies of committed data: after a panic elsewhere it is
        // still sound to use.
        self.pages.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Reads one page and the inbox size in one statement returning one row: the page's
/// ids come joined by the database, since handing rows over one at a time costs more
/// than finding them.
async fn inbox_page(
    pool: &SqlitePool,
    provider: &OrgId,
    after: Option<ReferralId>,
    limit: u32,
) -> Result<InboxPage, StoreError> {
    // Keyset paging on the inbox order, so a page costs the same however deep it is.
    // Referral rows are never deleted, so `after` still has its place in the order
    // after it has been acknowledged.
    let row = sqlx::query(
        "SELECT
           (SELECT COUNT(*) FROM referrals
             WHERE provider = $1 AND state IN ('ready', 'delivered')) AS total,
           (SELECT group_concat(id, ',' ORDER BY priority_rank, received_at, id) FROM
             (SELECT id, priority_rank, received_at FROM referrals
               WHERE provider = $1 AND state IN ('ready', 'delivered')
                 AND ($2 IS NULL OR (priority_rank, received_at, id) >
                      (SELECT priority_rank, received_at, id FROM referrals WHERE id = $2))
               ORDER BY priority_rank, received_at, id LIMIT $3)) AS ids",
    )
    .bind(provider.as_str())
    .bind(after.map(|a| a.to_string()))
    .bind(i64::from(limit))
    .fetch_one(pool)
    .await
    .map_err(db_err)?;
    let total: i64 = row.try_get("total").map_err(db_err)?;
    let ids: Option<String> = row.try_get("ids").map_err(db_err)?;
    let ids = ids
        .as_deref()
        .map_or(Ok(Vec::new()), |s| s.split(',').map(parse_id).collect())?;
    Ok(InboxPage {
        ids,
        total: u64::try_from(total).unwrap_or(0),
    })
}
