//! Supporting documents: written with their referral (in `accept.rs`'s run, so the
//! referral and its documents commit together), read back for delivery.

use sqlx::query::Query;
use sqlx::sqlite::{Sqlite, SqliteArguments};
use sqlx::{Row, SqlitePool};

use super::db_err;
use crate::domain::ReferralId;
use crate::store::{SealedDocument, StoreError};

/// Rows per INSERT: 5 parameters each keeps a statement far under SQLite's limit of
/// 32,766 parameters, however many documents a run carries.
pub(super) const ROWS_PER_INSERT: usize = 1000;

/// A document row waiting to be written: referral id, position, document.
pub(super) type DocumentRow<'a> = (String, i64, &'a SealedDocument);

/// One multi-row INSERT for `rows` documents (anonymous parameters, bound by [`bind`]).
pub(super) fn insert_sql(rows: usize) -> String {
    format!(
        "INSERT INTO referral_documents (referral_id, seq, media_type, name_sealed, document_sealed) VALUES {};",
        vec!["(?, ?, ?, ?, ?)"; rows].join(", ")
    )
}

/// Binds the parameters of [`insert_sql`] for `rows`, in order.
pub(super) fn bind<'q>(
    mut q: Query<'q, Sqlite, SqliteArguments>,
    rows: &'q [DocumentRow<'q>],
) -> Query<'q, Sqlite, SqliteArguments> {
    for (id, seq, doc) in rows {
        q = q
            .bind(id.as_str())
            .bind(*seq)
            .bind(doc.media_type.as_str())
            .bind(doc.name_sealed.as_deref())
            .bind(&doc.bytes_sealed[..]);
    }
    q
}

pub(super) async fn supporting(
    pool: &SqlitePool,
    id: ReferralId,
) -> Result<Vec<SealedDocument>, StoreError> {
    sqlx::query(
        "SELECT media_type, name_sealed, document_sealed FROM referral_documents
         WHERE referral_id = $1 ORDER BY seq",
    )
    .bind(id.to_string())
    .fetch_all(pool)
    .await
    .map_err(db_err)?
    .iter()
    .map(|r| {
        Ok(SealedDocument {
            media_type: r.try_get("media_type").map_err(db_err)?,
            name_sealed: r.try_get("name_sealed").map_err(db_err)?,
            bytes_sealed: r.try_get("document_sealed").map_err(db_err)?,
        })
    })
    .collect()
}
