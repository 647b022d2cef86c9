//! The statistics snapshot: aggregate reads over referrals and their transitions,
//! served by the read pool. Grouped in SQL so that what crosses into Rust grows with
//! organisations and days (and acknowledged referrals), not with every row.

use chrono::NaiveDate;
use sqlx::{Row, SqlitePool};

use super::{db_err, parse_org, parse_time};
use crate::store::{AckDelay, DayCount, Decisions, QueueDepth, StatsSnapshot, StoreError};

pub(super) async fn snapshot(pool: &SqlitePool) -> Result<StatsSnapshot, StoreError> {
    // One read transaction, so the four figures describe the same moment.
    let mut tx = pool.begin().await.map_err(db_err)?;
    let received = sqlx::query(
        "SELECT referrer, substr(received_at, 1, 10) AS day, COUNT(*) AS n
         FROM referrals GROUP BY referrer, day ORDER BY referrer, day",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?
    .iter()
    .map(|r| {
        let day: String = r.try_get("day").map_err(db_err)?;
        Ok(DayCount {
            referrer: parse_org(&r.try_get::<String, _>("referrer").map_err(db_err)?)?,
            day: NaiveDate::parse_from_str(&day, "%Y-%m-%d")
                .map_err(|_| StoreError::Corrupt("timestamp"))?,
            count: count(r, "n")?,
        })
    })
    .collect::<Result<Vec<_>, StoreError>>()?;
    // The first acknowledgement counts: a referral is acknowledged once, but history
    // is append-only, so never assume it.
    let acknowledgements = sqlx::query(
        "SELECT r.provider AS provider, r.received_at AS received_at, MIN(t.at) AS acked
         FROM transitions t JOIN referrals r ON r.id = t.referral_id
         WHERE t.state = 'acknowledged' AND r.provider IS NOT NULL
         GROUP BY t.referral_id",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?
    .iter()
    .map(|r| {
        let time = |c: &str| parse_time(&r.try_get::<String, _>(c).map_err(db_err)?);
        Ok(AckDelay {
            provider: parse_org(&r.try_get::<String, _>("provider").map_err(db_err)?)?,
            delay: time("acked")? - time("received_at")?,
        })
    })
    .collect::<Result<Vec<_>, StoreError>>()?;
    let mut decisions: Vec<Decisions> = Vec::new();
    let rows = sqlx::query(
        "SELECT r.provider AS provider, t.state AS state, COUNT(DISTINCT t.referral_id) AS n
         FROM transitions t JOIN referrals r ON r.id = t.referral_id
         WHERE t.state IN ('accepted', 'rejected') AND r.provider IS NOT NULL
         GROUP BY r.provider, t.state ORDER BY r.provider",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?;
    for r in &rows {
        let provider = parse_org(&r.try_get::<String, _>("provider").map_err(db_err)?)?;
        let n = count(r, "n")?;
        let state: String = r.try_get("state").map_err(db_err)?;
        let entry = match decisions.iter_mut().find(|d| d.provider == provider) {
            Some(d) => d,
            None => {
                decisions.push(Decisions {
                    provider,
                    accepted: 0,
                    rejected: 0,
                });
                decisions
                    .last_mut()
                    .ok_or(StoreError::Corrupt("decisions"))?
            }
        };
        if state == "accepted" {
            entry.accepted = n;
        } else {
            entry.rejected = n;
        }
    }
    let queues = sqlx::query(
        "SELECT provider, COUNT(*) AS n, MIN(received_at) AS oldest FROM referrals
         WHERE state IN ('ready', 'delivered') AND provider IS NOT NULL
         GROUP BY provider ORDER BY provider",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?
    .iter()
    .map(|r| {
        Ok(QueueDepth {
            provider: parse_org(&r.try_get::<String, _>("provider").map_err(db_err)?)?,
            depth: count(r, "n")?,
            oldest_received_at: parse_time(&r.try_get::<String, _>("oldest").map_err(db_err)?)?,
        })
    })
    .collect::<Result<Vec<_>, StoreError>>()?;
    tx.commit().await.map_err(db_err)?;
    Ok(StatsSnapshot {
        received,
        acknowledgements,
        decisions,
        queues,
    })
}

fn count(row: &sqlx::sqlite::SqliteRow, column: &str) -> Result<u64, StoreError> {
    let n: i64 = row.try_get(column).map_err(db_err)?;
    u64::try_from(n).map_err(|_| StoreError::Corrupt("count"))
}
