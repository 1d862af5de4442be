//! Catalog queries of stored age identities (`age_identities`, migration
//! 0012): one sealed secret key per recipient, stored only when a user opts
//! in (scheduled test-restores of encrypted backups).

use chrono::{DateTime, Utc};

use super::{Catalog, CatalogError};

pub use model::destination::StoredIdentity;

impl Catalog {
    /// Stores (or replaces) the sealed secret key of `recipient`.
    pub async fn put_age_identity(
        &self,
        recipient: &str,
        sealed: &str,
        who: &str,
    ) -> Result<(), CatalogError> {
        sqlx::query(
            "INSERT INTO age_identities (recipient, identity_enc, stored_by, stored_at)
             VALUES (?, ?, ?, ?)
             ON CONFLICT (recipient) DO UPDATE SET identity_enc = excluded.identity_enc,
                 stored_by = excluded.stored_by, stored_at = excluded.stored_at",
        )
        .bind(recipient)
        .bind(sealed)
        .bind(who)
        .bind(Utc::now())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The sealed secret keys stored for any of `recipients`.
    pub async fn sealed_age_identities(
        &self,
        recipients: &[String],
    ) -> Result<Vec<String>, CatalogError> {
        let mut out = Vec::new();
        for r in recipients {
            let sealed: Option<String> =
                sqlx::query_scalar("SELECT identity_enc FROM age_identities WHERE recipient = ?")
                    .bind(r)
                    .fetch_optional(self.pool())
                    .await?;
            out.extend(sealed);
        }
        Ok(out)
    }

    /// Every stored identity (recipients only), oldest first.
    pub async fn stored_age_identities(&self) -> Result<Vec<StoredIdentity>, CatalogError> {
        let rows: Vec<(String, String, DateTime<Utc>)> = sqlx::query_as(
            "SELECT recipient, stored_by, stored_at FROM age_identities ORDER BY stored_at, recipient",
        )
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(recipient, stored_by, stored_at)| StoredIdentity {
                recipient,
                stored_by,
                stored_at,
            })
            .collect())
    }

    /// Removes the stored identity of `recipient`; whether one was stored.
    pub async fn delete_age_identity(&self, recipient: &str) -> Result<bool, CatalogError> {
        let r = sqlx::query("DELETE FROM age_identities WHERE recipient = ?")
            .bind(recipient)
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected() > 0)
    }
}
