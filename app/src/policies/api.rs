//! Server functions for backup policies: read (with where it comes from and
//! what the server's pg_dump can do), preview, save, clear an override.
//! `database` `None` means the server's default policy.

use leptos::prelude::*;
use model::policy::{DumpCapabilities, Policy, PolicySource};
use model::schedule::PolicyPreview;
use model::server::PgDumpChoice;
use serde::{Deserialize, Serialize};

/// Everything the policy page needs in one round trip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyPage {
    pub server_name: String,
    /// `None`: the server's default policy.
    pub database: Option<String>,
    pub policy: Policy,
    pub source: PolicySource,
    /// The chosen pg_dump and what it can compress with, or why that is unknown.
    pub capabilities: Result<(PgDumpChoice, DumpCapabilities), String>,
    /// Schedule presets as (label, cron expression).
    pub presets: Vec<(String, String)>,
}

/// The policy in force, where it comes from, the schedule presets, and the
/// compression the chosen pg_dump supports (or why that is unknown).
#[server(prefix = "/api", endpoint = "policies/get")]
pub async fn get_policy(
    server_id: i64,
    database: Option<String>,
) -> Result<PolicyPage, ServerFnError> {
    use crate::edge::{engine, engine_error};
    let engine = engine()?;
    let server = engine.server(server_id).await.map_err(engine_error)?;
    let (policy, source) = engine
        .policy(server_id, database.as_deref())
        .await
        .map_err(engine_error)?;
    let capabilities = engine
        .dump_capabilities(server_id)
        .await
        .map(|(tools, caps)| {
            (
                PgDumpChoice {
                    path: tools.pg_dump().display().to_string(),
                    version: tools.version,
                },
                caps,
            )
        })
        .map_err(|e| e.to_string());
    Ok(PolicyPage {
        server_name: server.name,
        database,
        policy,
        source,
        capabilities,
        presets: model::cron::presets()
            .iter()
            .map(|(label, expr)| ((*label).to_owned(), (*expr).to_owned()))
            .collect(),
    })
}

/// The schedule in words, the next five runs, and what the retention would
/// keep and prune, without saving.
#[server(prefix = "/api", endpoint = "policies/preview")]
pub async fn preview_policy(
    server_id: i64,
    database: Option<String>,
    policy: Policy,
) -> Result<PolicyPreview, ServerFnError> {
    use crate::edge::{engine, engine_error};
    engine()?
        .preview_policy(server_id, database.as_deref(), &policy, chrono::Utc::now())
        .await
        .map_err(engine_error)
}

/// Saves the policy (validated by the engine) and says where it now comes from.
#[server(prefix = "/api", endpoint = "policies/save")]
pub async fn save_policy(
    server_id: i64,
    database: Option<String>,
    policy: Policy,
) -> Result<PolicySource, ServerFnError> {
    use crate::edge::{engine, engine_error};
    engine()?
        .set_policy(server_id, database.as_deref(), &policy)
        .await
        .map_err(engine_error)
}

/// Removes a database's override: it uses the server default again.
#[server(prefix = "/api", endpoint = "policies/clear")]
pub async fn clear_policy(server_id: i64, database: String) -> Result<(), ServerFnError> {
    use crate::edge::{engine, engine_error};
    engine()?
        .clear_policy(server_id, &database)
        .await
        .map_err(engine_error)
}
