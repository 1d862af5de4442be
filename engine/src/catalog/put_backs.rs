//! Catalog queries of put-backs (`put_backs`, migration 0009): rows put
//! back from a scratch copy into a live table, who did it and how it ended.

use chrono::{DateTime, Utc};
use sqlx::FromRow;

use super::{Catalog, CatalogError};
pub use model::compare::{PutBackRecord, PutBackStatus};

/// A row of `put_backs` as stored.
#[derive(Debug, Clone, FromRow)]
struct PutBackRow {
    id: i64,
    at: DateTime<Utc>,
    who: String,
    server_id: i64,
    database: String,
    scratch: String,
    table_name: String,
    rows_inserted: i64,
    rows_updated: i64,
    sha256: String,
    status: String,
    error: Option<String>,
}

impl PutBackRow {
    fn into_record(self) -> Result<PutBackRecord, CatalogError> {
        let status = self
            .status
            .parse()
            .map_err(|detail| CatalogError::Corrupt {
                id: self.id,
                detail,
            })?;
        Ok(PutBackRecord {
            id: self.id,
            at: self.at,
            who: self.who,
            server_id: self.server_id,
            database: self.database,
            scratch: self.scratch,
            table: self.table_name,
            rows_inserted: self.rows_inserted.max(0) as u64,
            rows_updated: self.rows_updated.max(0) as u64,
            sha256: self.sha256,
            status,
            error: self.error,
        })
    }
}

/// What a put-back is about to write, recorded before it starts.
#[derive(Debug, Clone)]
pub struct NewPutBack {
    pub who: String,
    pub server_id: i64,
    pub database: String,
    pub scratch: String,
    pub table: String,
    pub sha256: String,
}

const PUT_BACK_COLUMNS: &str = "id, at, who, server_id, database, scratch, table_name, \
    rows_inserted, rows_updated, sha256, status, error";

impl Catalog {
    /// Records a put-back as `running`, before its transaction starts.
    pub async fn insert_put_back(&self, p: &NewPutBack) -> Result<PutBackRecord, CatalogError> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO put_backs (at, who, server_id, database, scratch, table_name, sha256, status)
             VALUES (?, ?, ?, ?, ?, ?, ?, 'running') RETURNING id",
        )
        .bind(Utc::now())
        .bind(&p.who)
        .bind(p.server_id)
        .bind(&p.database)
        .bind(&p.scratch)
        .bind(&p.table)
        .bind(&p.sha256)
        .fetch_one(self.pool())
        .await?;
        self.put_back(id).await
    }

    /// Ends a put-back: how many rows it inserted and updated, or why it failed.
    pub async fn finish_put_back(
        &self,
        id: i64,
        status: PutBackStatus,
        rows_inserted: u64,
        rows_updated: u64,
        error: Option<&str>,
    ) -> Result<PutBackRecord, CatalogError> {
        sqlx::query(
            "UPDATE put_backs SET status = ?, rows_inserted = ?, rows_updated = ?, error = ? WHERE id = ?",
        )
        .bind(status.as_str())
        .bind(rows_inserted as i64)
        .bind(rows_updated as i64)
        .bind(error)
        .bind(id)
        .execute(self.pool())
        .await?;
        self.put_back(id).await
    }

    pub async fn put_back(&self, id: i64) -> Result<PutBackRecord, CatalogError> {
        sqlx::query_as::<_, PutBackRow>(&format!(
            "SELECT {PUT_BACK_COLUMNS} FROM put_backs WHERE id = ?"
        ))
        .bind(id)
        .fetch_one(self.pool())
        .await?
        .into_record()
    }

    /// Put-backs, newest first; of one live database when given.
    pub async fn put_backs(
        &self,
        server_id: Option<i64>,
        database: Option<&str>,
        limit: i64,
    ) -> Result<Vec<PutBackRecord>, CatalogError> {
        sqlx::query_as::<_, PutBackRow>(&format!(
            "SELECT {PUT_BACK_COLUMNS} FROM put_backs
             WHERE (?1 IS NULL OR server_id = ?1) AND (?2 IS NULL OR database = ?2)
             ORDER BY id DESC LIMIT ?3"
        ))
        .bind(server_id)
        .bind(database)
        .bind(limit)
        .fetch_all(self.pool())
        .await?
        .into_iter()
        .map(PutBackRow::into_record)
        .collect()
    }
}
