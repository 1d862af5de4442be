//! Catalog queries of alerts: channels (sealed secrets), incidents,
//! deliveries, and the newest state each alert kind is judged from.

use chrono::{DateTime, Utc};
use model::alert::{AlertKind, AlertState, ChannelSettings, Delivery, DeliveryStatus, Incident};
use sqlx::FromRow;

use super::{backups_of, Backup, BackupRecord, Catalog, CatalogError, BACKUP_COLUMNS};

/// A channel as stored (its secret sealed).
#[derive(Debug, Clone)]
pub struct ChannelRow {
    pub id: i64,
    pub name: String,
    pub settings: ChannelSettings,
    pub secret_sealed: Option<String>,
    pub events: Vec<AlertKind>,
    pub servers: Vec<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(FromRow)]
struct ChannelRecord {
    id: i64,
    name: String,
    settings: String,
    secret_sealed: Option<String>,
    events: String,
    servers: String,
    created_at: DateTime<Utc>,
}

impl ChannelRecord {
    fn into_row(self) -> Result<ChannelRow, CatalogError> {
        let corrupt = |detail: String| CatalogError::Corrupt {
            id: self.id,
            detail: format!("alert channel: {detail}"),
        };
        Ok(ChannelRow {
            settings: serde_json::from_str(&self.settings).map_err(|e| corrupt(e.to_string()))?,
            events: serde_json::from_str(&self.events).map_err(|e| corrupt(e.to_string()))?,
            servers: serde_json::from_str(&self.servers).map_err(|e| corrupt(e.to_string()))?,
            id: self.id,
            name: self.name,
            secret_sealed: self.secret_sealed,
            created_at: self.created_at,
        })
    }
}

/// An incident as stored, with its key.
#[derive(Debug, Clone)]
pub struct IncidentRow {
    pub key: String,
    pub incident: Incident,
}

#[derive(FromRow)]
struct IncidentRecord {
    id: i64,
    kind: String,
    key: String,
    server_name: String,
    subject: String,
    cause: String,
    link: Option<String>,
    opened_at: DateTime<Utc>,
    last_alert_at: DateTime<Utc>,
    closed_at: Option<DateTime<Utc>>,
}

impl IncidentRecord {
    fn into_row(self) -> Result<IncidentRow, CatalogError> {
        Ok(IncidentRow {
            key: self.key,
            incident: Incident {
                kind: self.kind.parse().map_err(|d| CatalogError::Corrupt {
                    id: self.id,
                    detail: format!("incident: {d}"),
                })?,
                id: self.id,
                server: self.server_name,
                subject: self.subject,
                cause: self.cause,
                link: self.link,
                opened_at: self.opened_at,
                last_alert_at: self.last_alert_at,
                closed_at: self.closed_at,
            },
        })
    }
}

/// A message to record for one channel.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub channel_id: i64,
    pub channel_name: String,
    pub incident_id: Option<i64>,
    pub kind: Option<AlertKind>,
    pub state: AlertState,
    pub server_name: String,
    pub subject: String,
    pub title: String,
    pub text: String,
    pub link: Option<String>,
}

/// A delivery as stored, with what sending it needs.
#[derive(Debug, Clone)]
pub struct DeliveryRow {
    pub channel_id: Option<i64>,
    pub server_name: String,
    pub subject: String,
    pub delivery: Delivery,
}

#[derive(FromRow)]
struct DeliveryRecord {
    id: i64,
    channel_id: Option<i64>,
    channel_name: String,
    incident_id: Option<i64>,
    kind: Option<String>,
    state: String,
    server_name: String,
    subject: String,
    title: String,
    text: String,
    link: Option<String>,
    status: String,
    attempts: i64,
    next_attempt_at: Option<DateTime<Utc>>,
    answer: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl DeliveryRecord {
    fn into_row(self) -> Result<DeliveryRow, CatalogError> {
        let id = self.id;
        let corrupt = |detail: String| CatalogError::Corrupt {
            id,
            detail: format!("alert delivery: {detail}"),
        };
        Ok(DeliveryRow {
            channel_id: self.channel_id,
            server_name: self.server_name,
            subject: self.subject,
            delivery: Delivery {
                id,
                channel: self.channel_name,
                incident_id: self.incident_id,
                kind: self.kind.map(|k| k.parse()).transpose().map_err(corrupt)?,
                state: self.state.parse().map_err(corrupt)?,
                title: self.title,
                text: self.text,
                link: self.link,
                status: self.status.parse().map_err(corrupt)?,
                attempts: self.attempts.max(0) as u32,
                next_attempt_at: self.next_attempt_at,
                answer: self.answer,
                created_at: self.created_at,
                updated_at: self.updated_at,
            },
        })
    }
}

/// The newest copy to one destination.
#[derive(Debug, Clone, FromRow)]
pub struct NewestCopy {
    pub destination: String,
    pub status: String,
    pub error: Option<String>,
    pub backup_id: i64,
    pub server_id: Option<i64>,
    pub server_name: String,
}

const CHANNEL_COLUMNS: &str = "id, name, settings, secret_sealed, events, servers, created_at";
const INCIDENT_COLUMNS: &str =
    "id, kind, key, server_name, subject, cause, link, opened_at, last_alert_at, closed_at";
const DELIVERY_COLUMNS: &str = "id, channel_id, channel_name, incident_id, kind, state, \
    server_name, subject, title, text, link, status, attempts, next_attempt_at, answer, \
    created_at, updated_at";

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("plain data serializes")
}

impl Catalog {
    // ---- channels -------------------------------------------------------

    /// Adds a channel; a taken name is a conflict.
    #[allow(clippy::too_many_arguments)]
    pub async fn insert_channel(
        &self,
        name: &str,
        settings: &ChannelSettings,
        secret_sealed: Option<&str>,
        events: &[AlertKind],
        servers: &[String],
        now: DateTime<Utc>,
    ) -> Result<ChannelRow, CatalogError> {
        let res = sqlx::query(
            "INSERT INTO alert_channels (name, kind, settings, secret_sealed, events, servers, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(name)
        .bind(settings.kind().as_str())
        .bind(json(settings))
        .bind(secret_sealed)
        .bind(json(&events))
        .bind(json(&servers))
        .bind(now)
        .execute(self.pool())
        .await;
        match res {
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(CatalogError::DuplicateChannel(name.to_owned()))
            }
            Err(e) => Err(e.into()),
            Ok(r) => self
                .channel_by_id(r.last_insert_rowid())
                .await?
                .ok_or(CatalogError::Query(sqlx::Error::RowNotFound)),
        }
    }

    pub async fn channels(&self) -> Result<Vec<ChannelRow>, CatalogError> {
        sqlx::query_as::<_, ChannelRecord>(&format!(
            "SELECT {CHANNEL_COLUMNS} FROM alert_channels ORDER BY name"
        ))
        .fetch_all(self.pool())
        .await?
        .into_iter()
        .map(ChannelRecord::into_row)
        .collect()
    }

    pub async fn channel(&self, name: &str) -> Result<Option<ChannelRow>, CatalogError> {
        sqlx::query_as::<_, ChannelRecord>(&format!(
            "SELECT {CHANNEL_COLUMNS} FROM alert_channels WHERE name = ?"
        ))
        .bind(name)
        .fetch_optional(self.pool())
        .await?
        .map(ChannelRecord::into_row)
        .transpose()
    }

    async fn channel_by_id(&self, id: i64) -> Result<Option<ChannelRow>, CatalogError> {
        sqlx::query_as::<_, ChannelRecord>(&format!(
            "SELECT {CHANNEL_COLUMNS} FROM alert_channels WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .map(ChannelRecord::into_row)
        .transpose()
    }

    /// Removes a channel; its deliveries stay listed under its name.
    /// Returns whether it existed.
    pub async fn delete_channel(&self, name: &str) -> Result<bool, CatalogError> {
        let mut tx = self.pool().begin().await?;
        // Pending messages of a removed channel are never sent.
        sqlx::query(
            "UPDATE alert_deliveries SET status = 'failed', next_attempt_at = NULL,
                    answer = coalesce(answer || '; ', '') || 'channel removed before delivery'
              WHERE status = 'pending' AND channel_id = (SELECT id FROM alert_channels WHERE name = ?)",
        )
        .bind(name)
        .execute(&mut *tx)
        .await?;
        let n = sqlx::query("DELETE FROM alert_channels WHERE name = ?")
            .bind(name)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n > 0)
    }

    /// The channel a delivery goes to, if it still exists.
    pub async fn channel_of(&self, d: &DeliveryRow) -> Result<Option<ChannelRow>, CatalogError> {
        match d.channel_id {
            Some(id) => self.channel_by_id(id).await,
            None => Ok(None),
        }
    }

    // ---- incidents ------------------------------------------------------

    pub async fn open_incidents(&self) -> Result<Vec<IncidentRow>, CatalogError> {
        sqlx::query_as::<_, IncidentRecord>(&format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE closed_at IS NULL ORDER BY id"
        ))
        .fetch_all(self.pool())
        .await?
        .into_iter()
        .map(IncidentRecord::into_row)
        .collect()
    }

    /// The newest incidents, open or closed, newest first.
    pub async fn incidents(&self, limit: i64) -> Result<Vec<Incident>, CatalogError> {
        sqlx::query_as::<_, IncidentRecord>(&format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents ORDER BY id DESC LIMIT ?"
        ))
        .bind(limit.max(1))
        .fetch_all(self.pool())
        .await?
        .into_iter()
        .map(|r| r.into_row().map(|r| r.incident))
        .collect()
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn open_incident(
        &self,
        kind: AlertKind,
        key: &str,
        server_name: &str,
        subject: &str,
        cause: &str,
        link: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Incident, CatalogError> {
        let res = sqlx::query(
            "INSERT INTO incidents (kind, key, server_name, subject, cause, link, opened_at, last_alert_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(kind.as_str())
        .bind(key)
        .bind(server_name)
        .bind(subject)
        .bind(cause)
        .bind(link)
        .bind(now)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(Incident {
            id: res.last_insert_rowid(),
            kind,
            server: server_name.into(),
            subject: subject.into(),
            cause: cause.into(),
            link: link.map(Into::into),
            opened_at: now,
            last_alert_at: now,
            closed_at: None,
        })
    }

    /// Keeps an open incident's cause and link current; `alerted` also
    /// moves its last alert to `now`.
    pub async fn update_incident(
        &self,
        id: i64,
        cause: &str,
        link: Option<&str>,
        alerted: Option<DateTime<Utc>>,
    ) -> Result<(), CatalogError> {
        sqlx::query(
            "UPDATE incidents SET cause = ?, link = ?, last_alert_at = coalesce(?, last_alert_at)
              WHERE id = ?",
        )
        .bind(cause)
        .bind(link)
        .bind(alerted)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn close_incident(&self, id: i64, now: DateTime<Utc>) -> Result<(), CatalogError> {
        sqlx::query("UPDATE incidents SET closed_at = ? WHERE id = ? AND closed_at IS NULL")
            .bind(now)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    // ---- deliveries -----------------------------------------------------

    /// Records a message for a channel, due at `now`.
    pub async fn insert_delivery(
        &self,
        d: &NewDelivery,
        now: DateTime<Utc>,
    ) -> Result<i64, CatalogError> {
        let res = sqlx::query(
            "INSERT INTO alert_deliveries (channel_id, channel_name, incident_id, kind, state,
                    server_name, subject, title, text, link, status, attempts, next_attempt_at,
                    created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)",
        )
        .bind(d.channel_id)
        .bind(&d.channel_name)
        .bind(d.incident_id)
        .bind(d.kind.map(|k| k.as_str()))
        .bind(d.state.as_str())
        .bind(&d.server_name)
        .bind(&d.subject)
        .bind(&d.title)
        .bind(&d.text)
        .bind(&d.link)
        .bind(now)
        .bind(now)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(res.last_insert_rowid())
    }

    pub async fn delivery(&self, id: i64) -> Result<DeliveryRow, CatalogError> {
        sqlx::query_as::<_, DeliveryRecord>(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM alert_deliveries WHERE id = ?"
        ))
        .bind(id)
        .fetch_one(self.pool())
        .await?
        .into_row()
    }

    /// Pending deliveries due at `now`, oldest first.
    pub async fn due_deliveries(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<DeliveryRow>, CatalogError> {
        sqlx::query_as::<_, DeliveryRecord>(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM alert_deliveries
              WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY id"
        ))
        .bind(now)
        .fetch_all(self.pool())
        .await?
        .into_iter()
        .map(DeliveryRecord::into_row)
        .collect()
    }

    /// Claims a due delivery for one attempt (several processes may share
    /// the catalog): moves its next attempt past `until`. False if another
    /// process took it.
    pub async fn claim_delivery(
        &self,
        id: i64,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, CatalogError> {
        let n = sqlx::query(
            "UPDATE alert_deliveries SET next_attempt_at = ?
              WHERE id = ? AND status = 'pending' AND next_attempt_at <= ?",
        )
        .bind(until)
        .bind(id)
        .bind(now)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Records one attempt: sent, pending again (a retry at `next`), or failed for good.
    pub async fn record_attempt(
        &self,
        id: i64,
        status: DeliveryStatus,
        next: Option<DateTime<Utc>>,
        answer: &str,
        now: DateTime<Utc>,
    ) -> Result<(), CatalogError> {
        sqlx::query(
            "UPDATE alert_deliveries SET status = ?, attempts = attempts + 1, next_attempt_at = ?,
                    answer = ?, updated_at = ? WHERE id = ?",
        )
        .bind(status.as_str())
        .bind(next)
        .bind(answer)
        .bind(now)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The newest deliveries, newest first.
    pub async fn deliveries(&self, limit: i64) -> Result<Vec<Delivery>, CatalogError> {
        sqlx::query_as::<_, DeliveryRecord>(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM alert_deliveries ORDER BY id DESC LIMIT ?"
        ))
        .bind(limit.max(1))
        .fetch_all(self.pool())
        .await?
        .into_iter()
        .map(|r| r.into_row().map(|r| r.delivery))
        .collect()
    }

    /// The newest delivery of every channel that still exists.
    pub async fn last_deliveries(&self) -> Result<Vec<DeliveryRow>, CatalogError> {
        sqlx::query_as::<_, DeliveryRecord>(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM alert_deliveries WHERE id IN (
                SELECT max(id) FROM alert_deliveries
                 WHERE channel_id IS NOT NULL GROUP BY channel_id)"
        ))
        .fetch_all(self.pool())
        .await?
        .into_iter()
        .map(DeliveryRecord::into_row)
        .collect()
    }

    // ---- what alerts are judged from ------------------------------------

    /// The newest finished run of every (server, target) whose server exists.
    pub async fn newest_finished_runs(&self) -> Result<Vec<Backup>, CatalogError> {
        self.newest_where("status IN ('failed', 'succeeded', 'verified', 'suspect')")
            .await
    }

    /// The newest good backup of every (server, target) whose server exists.
    pub async fn newest_good_backups(&self) -> Result<Vec<Backup>, CatalogError> {
        self.newest_where(super::GOOD).await
    }

    async fn newest_where(&self, cond: &str) -> Result<Vec<Backup>, CatalogError> {
        backups_of(
            sqlx::query_as::<_, BackupRecord>(&format!(
                "SELECT {BACKUP_COLUMNS} FROM backups WHERE id IN (
                    SELECT max(id) FROM backups
                     WHERE {cond} AND server_id IS NOT NULL
                     GROUP BY server_id, kind, database)
                 ORDER BY id"
            ))
            .fetch_all(self.pool())
            .await?,
        )
    }

    /// The ids of the newest finished test-restore of every (server, database).
    pub async fn newest_test_restore_ids(&self) -> Result<Vec<i64>, CatalogError> {
        Ok(sqlx::query_scalar::<_, i64>(
            "SELECT max(id) FROM test_restores
              WHERE status <> 'running' AND server_id IS NOT NULL
              GROUP BY server_id, database ORDER BY 1",
        )
        .fetch_all(self.pool())
        .await?)
    }

    /// The newest finished (complete or failed) copy on every destination.
    pub async fn newest_copies(&self) -> Result<Vec<NewestCopy>, CatalogError> {
        Ok(sqlx::query_as::<_, NewestCopy>(
            "SELECT c.destination, c.status, c.error, c.backup_id, b.server_id, b.server_name
               FROM backup_copies c JOIN backups b ON b.id = c.backup_id
              WHERE c.status IN ('complete', 'failed')
                AND c.rowid = (SELECT c2.rowid FROM backup_copies c2
                                WHERE c2.destination = c.destination
                                  AND c2.status IN ('complete', 'failed')
                                ORDER BY c2.updated_at DESC, c2.backup_id DESC LIMIT 1)
              ORDER BY c.destination",
        )
        .fetch_all(self.pool())
        .await?)
    }
}
