//! Server functions for destinations: list (with who may change them), add,
//! edit, remove, test, SFTP host keys, import the catalog from one. Everyone signed
//! in reads; only admins change or probe anything. No response ever holds a
//! stored secret: `Destination` has none, and the secret in an input goes
//! one way (browser -> engine, sealed there).

use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use model::destination::{
    Destination, DestinationInput, HostKey, ImportReport, ProbeReport, StoredIdentity,
};
use serde::{Deserialize, Serialize};

/// `/destinations` in one round trip: the destinations (the built-in
/// `local` first) and whether the caller may change them, so the page
/// shows admins their buttons and others a read-only table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DestinationsView {
    pub destinations: Vec<Destination>,
    pub admin: bool,
}

/// Every destination with its copies, stored bytes and last test.
#[server(prefix = "/api", endpoint = "destinations/list")]
pub async fn list_destinations() -> Result<DestinationsView, ServerFnError> {
    let caller = crate::edge::require(model::user::Role::Viewer)?;
    use crate::edge::{destinations_error, engine};
    let destinations = engine()?.destinations().await.map_err(destinations_error)?;
    Ok(DestinationsView {
        destinations,
        admin: caller.role.allows(model::user::Role::Admin),
    })
}

/// Adds a destination; its secret is sealed and never returned.
// JSON: the settings are a tagged enum, which URL encoding cannot carry.
#[server(prefix = "/api", endpoint = "destinations/add", input = Json)]
pub async fn add_destination(input: DestinationInput) -> Result<Destination, ServerFnError> {
    crate::edge::require(model::user::Role::Admin)?;
    use crate::edge::{destinations_error, engine};
    engine()?
        .add_destination(input)
        .await
        .map_err(destinations_error)
}

/// Edits destination `name`. An empty secret keeps the stored one, unless
/// where it is sent changes (then the engine asks for it again).
#[server(prefix = "/api", endpoint = "destinations/update", input = Json)]
pub async fn update_destination(
    name: String,
    input: DestinationInput,
) -> Result<Destination, ServerFnError> {
    crate::edge::require(model::user::Role::Admin)?;
    use crate::edge::{destinations_error, engine};
    engine()?
        .update_destination(&name, input)
        .await
        .map_err(destinations_error)
}

/// Removes a destination no policy names and no backup depends on; its
/// stored files stay where they are.
#[server(prefix = "/api", endpoint = "destinations/remove")]
pub async fn remove_destination(name: String) -> Result<(), ServerFnError> {
    crate::edge::require(model::user::Role::Admin)?;
    use crate::edge::{destinations_error, engine};
    engine()?
        .remove_destination(&name)
        .await
        .map_err(destinations_error)
}

/// "Test": writes, reads back, lists and deletes a probe object; each
/// step's time, and the destination's own words where one failed.
#[server(prefix = "/api", endpoint = "destinations/test")]
pub async fn test_destination(name: String) -> Result<ProbeReport, ServerFnError> {
    crate::edge::require(model::user::Role::Admin)?;
    use crate::edge::{destinations_error, engine};
    engine()?
        .test_destination(&name)
        .await
        .map_err(destinations_error)
}

/// The host key SFTP destination `name`'s server shows now, with its
/// fingerprint, for the admin to compare before trusting it. Takes the
/// name, not a host: pgshelf only contacts servers it was configured for.
#[server(prefix = "/api", endpoint = "destinations/host-key/scan")]
pub async fn scan_host_key(name: String) -> Result<HostKey, ServerFnError> {
    crate::edge::require(model::user::Role::Admin)?;
    use crate::edge::{destinations_error, engine};
    let engine = engine()?;
    let dest = engine
        .destination_named(&name)
        .await
        .map_err(destinations_error)?;
    let model::destination::DestinationSettings::Sftp { host, port, .. } = dest.settings else {
        return Err(destinations_error(
            engine::destinations::DestinationsError::NotSftp(name),
        ));
    };
    engine
        .scan_host_key(&host, port)
        .await
        .map_err(destinations_error)
}

/// Trusts `key` (as [`scan_host_key`] showed it) for SFTP destination `name`.
#[server(prefix = "/api", endpoint = "destinations/host-key/trust")]
pub async fn trust_host_key(name: String, key: String) -> Result<Destination, ServerFnError> {
    crate::edge::require(model::user::Role::Admin)?;
    use crate::edge::{destinations_error, engine};
    engine()?
        .trust_host_key(&name, &key)
        .await
        .map_err(destinations_error)
}

/// "Import catalog": reads every manifest under destination `name` and
/// records the backups the catalog does not have yet.
#[server(prefix = "/api", endpoint = "destinations/import")]
pub async fn import_catalog(name: String) -> Result<ImportReport, ServerFnError> {
    crate::edge::require(model::user::Role::Admin)?;
    use crate::edge::{engine, engine_error};
    engine()?.import_catalog(&name).await.map_err(engine_error)
}

/// The age identities stored for scheduled test-restores: public keys
/// only, who stored each and when.
#[server(prefix = "/api", endpoint = "identities/list")]
pub async fn list_identities() -> Result<Vec<StoredIdentity>, ServerFnError> {
    crate::edge::require(model::user::Role::Viewer)?;
    use crate::edge::{engine, engine_error};
    engine()?.stored_identities().await.map_err(engine_error)
}

/// Stores an identity (sealed) so scheduled test-restores can decrypt;
/// `risk_accepted` must be set (the page states the risk). Returns the
/// recipients it opens. The identity never comes back.
#[server(prefix = "/api", endpoint = "identities/store")]
pub async fn store_identity(
    identity: String,
    risk_accepted: Option<String>,
) -> Result<Vec<String>, ServerFnError> {
    let caller = crate::edge::require(model::user::Role::Admin)?;
    if risk_accepted.is_none() {
        return Err(crate::edge::field_error(
            "risk_accepted",
            "is not confirmed. Fix: read what storing it risks and tick the box, or give the identity at each restore instead",
        ));
    }
    use crate::edge::{engine, engine_error};
    engine()?
        .store_identity_text(&identity, &caller.name)
        .await
        .map_err(engine_error)
}

/// Forgets the stored identity of `recipient`.
#[server(prefix = "/api", endpoint = "identities/forget")]
pub async fn forget_identity(recipient: String) -> Result<bool, ServerFnError> {
    crate::edge::require(model::user::Role::Admin)?;
    use crate::edge::{engine, engine_error};
    engine()?
        .forget_identity(&recipient)
        .await
        .map_err(engine_error)
}
