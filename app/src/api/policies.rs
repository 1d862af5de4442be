//! Server functions for backup policies: read (with where it comes from and
//! what the server's pg_dump can do), preview, save, clear an override.
//! `database` `None` means the server's default policy.

use leptos::prelude::*;

use super::views::{PolicyForm, PolicyPage, PolicyPreviewView, PolicySourceView};

/// The policy in force, where it comes from, the schedule presets, and the
/// compression the chosen pg_dump supports (or why that is unknown).
#[server(prefix = "/api", endpoint = "policies/get")]
pub async fn get_policy(
    server_id: i64,
    database: Option<String>,
) -> Result<PolicyPage, ServerFnError> {
    use super::convert::{engine, engine_error};
    use super::policy_convert::{caps_view, policy_form};
    let engine = engine()?;
    let server = engine.server(server_id).await.map_err(engine_error)?;
    let (policy, source) = engine
        .policy(server_id, database.as_deref())
        .await
        .map_err(engine_error)?;
    let capabilities = engine
        .dump_capabilities(server_id)
        .await
        .map(|(tools, caps)| caps_view(&tools, &caps))
        .map_err(|e| e.to_string());
    Ok(PolicyPage {
        server_name: server.name,
        database,
        form: policy_form(&policy),
        source: source.into(),
        capabilities,
        presets: engine::cron::presets()
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
    form: PolicyForm,
) -> Result<PolicyPreviewView, ServerFnError> {
    use super::convert::{engine, engine_error};
    use super::policy_convert::{policy_from_form, preview_view};
    let policy = policy_from_form(&form)?;
    let engine = engine()?;
    let preview = engine
        .preview_policy(server_id, database.as_deref(), &policy, chrono::Utc::now())
        .await
        .map_err(engine_error)?;
    Ok(preview_view(&engine, server_id, database.as_deref(), &policy, preview).await)
}

/// Saves the policy (validated by the engine) and says where it now comes from.
#[server(prefix = "/api", endpoint = "policies/save")]
pub async fn save_policy(
    server_id: i64,
    database: Option<String>,
    form: PolicyForm,
) -> Result<PolicySourceView, ServerFnError> {
    use super::convert::{engine, engine_error};
    use super::policy_convert::policy_from_form;
    let policy = policy_from_form(&form)?;
    let engine = engine()?;
    engine
        .set_policy(server_id, database.as_deref(), &policy)
        .await
        .map_err(engine_error)?;
    let (_, source) = engine
        .policy(server_id, database.as_deref())
        .await
        .map_err(engine_error)?;
    Ok(source.into())
}

/// Removes a database's override: it uses the server default again.
#[server(prefix = "/api", endpoint = "policies/clear")]
pub async fn clear_policy(server_id: i64, database: String) -> Result<(), ServerFnError> {
    use super::convert::{engine, engine_error};
    engine()?
        .clear_policy(server_id, &database)
        .await
        .map_err(engine_error)
}
