//! The overview's one server function (everyone signed in reads it).

use leptos::prelude::*;
use model::overview::Overview;

/// The overview at the server's clock: its first
/// [`model::overview::OVERVIEW_ROWS`] rows (those needing attention come
/// first), or every row with `all` (default false: an API client may
/// leave it out).
#[server(prefix = "/api", endpoint = "overview")]
pub async fn get_overview(#[server(default)] all: bool) -> Result<Overview, ServerFnError> {
    crate::edge::require(model::user::Role::Viewer)?;
    use crate::edge::{engine, engine_error};
    let o = engine()?
        .overview(chrono::Utc::now())
        .await
        .map_err(engine_error)?;
    Ok(if all {
        o
    } else {
        o.first(model::overview::OVERVIEW_ROWS)
    })
}
