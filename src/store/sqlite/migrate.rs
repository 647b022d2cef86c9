//! Embedded migrations: the SQL files are compiled into the binary and applied in
//! order, each once, recorded in `schema_migrations`.

use super::{db_err, exec};
use crate::store::StoreError;

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../../migrations/sqlite/0001_init.sql")),
    (
        2,
        include_str!("../../../migrations/sqlite/0002_inbound_mail.sql"),
    ),
    (
        3,
        include_str!("../../../migrations/sqlite/0003_outbox.sql"),
    ),
    (
        4,
        include_str!("../../../migrations/sqlite/0004_documents.sql"),
    ),
    (5, include_str!("../../../migrations/sqlite/0005_mesh.sql")),
    (6, include_str!("../../../migrations/sqlite/0006_push.sql")),
    (7, include_str!("../../../migrations/sqlite/0007_stats.sql")),
    (
        8,
        include_str!("../../../migrations/sqlite/0008_inbox_order.sql"),
    ),
];

/// Applies every migration not yet applied, each in its own transaction.
pub(super) async fn run(conn: &mut sqlx::SqliteConnection) -> Result<(), StoreError> {
    exec(conn, "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)").await?;
    for (version, sql) in MIGRATIONS {
        let done: Option<i64> =
            sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = $1")
                .bind(version)
                .fetch_optional(&mut *conn)
                .await
                .map_err(db_err)?;
        if done.is_some() {
            continue;
        }
        exec(conn, "BEGIN IMMEDIATE").await?;
        let applied = async {
            sqlx::raw_sql(sqlx::AssertSqlSafe(*sql))
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            sqlx::query(
                "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, datetime('now'))",
            )
            .bind(version)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            Ok::<_, StoreError>(())
        }
        .await;
        match applied {
            Ok(()) => exec(conn, "COMMIT").await?,
            Err(e) => {
                exec(conn, "ROLLBACK").await?;
                return Err(e);
            }
        }
    }
    Ok(())
}
