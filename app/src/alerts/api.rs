//! Server functions for alerts: the page in one read (with who may change
//! it), add, remove and "Send test". Everyone signed in reads; only admins
//! change or send anything. No response holds a channel's secret: `Channel`
//! says `has_secret` only, and the secret in a `NewChannel` goes one way
//! (browser -> engine, sealed there).

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use model::alert::{AlertsOverview, Channel, Delivery, NewChannel};
use serde::{Deserialize, Serialize};

/// How many deliveries and incidents the page lists.
pub const PAGE_LIMIT: i64 = 50;

/// `/alerts` in one round trip: channels, deliveries and incidents, whether
/// the caller may change them (admins), and the server's clock for "ago".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertsView {
    pub overview: AlertsOverview,
    pub admin: bool,
    pub now: DateTime<Utc>,
}

/// The channels (each with its last delivery), the newest deliveries and
/// the newest incidents.
#[server(prefix = "/api", endpoint = "alerts/page")]
pub async fn alerts_page() -> Result<AlertsView, ServerFnError> {
    let caller = crate::edge::require(model::user::Role::Viewer)?;
    use crate::edge::{engine, engine_error};
    let overview = engine()?
        .alerts_overview(PAGE_LIMIT)
        .await
        .map_err(|e| engine_error(e.into()))?;
    Ok(AlertsView {
        overview,
        admin: caller.role.allows(model::user::Role::Admin),
        now: Utc::now(),
    })
}

/// Adds a channel; its secret is sealed and never returned.
// JSON: the settings are a tagged enum, which URL encoding cannot carry.
#[server(prefix = "/api", endpoint = "alerts/add", input = Json)]
pub async fn add_channel(input: NewChannel) -> Result<Channel, ServerFnError> {
    crate::edge::require(model::user::Role::Admin)?;
    use crate::edge::{engine, engine_error};
    engine()?
        .add_channel(input.into())
        .await
        .map_err(|e| engine_error(e.into()))
}

/// Removes a channel; its deliveries stay listed, pending ones are not sent.
#[server(prefix = "/api", endpoint = "alerts/remove")]
pub async fn remove_channel(name: String) -> Result<(), ServerFnError> {
    crate::edge::require(model::user::Role::Admin)?;
    use crate::edge::{engine, engine_error};
    engine()?
        .remove_channel(&name)
        .await
        .map_err(|e| engine_error(e.into()))
}

/// "Send test": a test message now, recorded as a delivery (sent, or
/// failed with the channel's answer).
#[server(prefix = "/api", endpoint = "alerts/test")]
pub async fn test_channel(name: String) -> Result<Delivery, ServerFnError> {
    crate::edge::require(model::user::Role::Admin)?;
    use crate::edge::{engine, engine_error};
    engine()?
        .test_channel(&name)
        .await
        .map_err(|e| engine_error(e.into()))
}
