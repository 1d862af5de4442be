//! The overview's one server function (everyone signed in reads it).

use leptos::prelude::*;
use model::overview::Overview;

/// The overview at the server's clock.
#[server(prefix = "/api", endpoint = "overview")]
pub async fn get_overview() -> Result<Overview, ServerFnError> {
    crate::edge::require(model::user::Role::Viewer)?;
    use crate::edge::{engine, engine_error};
    engine()?
        .overview(chrono::Utc::now())
        .await
        .map_err(engine_error)
}
