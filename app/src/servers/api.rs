//! Server functions for PostgreSQL servers: list, read, add, edit, delete,
//! test the connection, list databases.

// A server function's arguments are its form's fields.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;

use model::server::{ConnectionReport, DatabaseInfo, Server};

/// Every configured server, by name.
#[server(prefix = "/api", endpoint = "servers/list")]
pub async fn list_servers() -> Result<Vec<Server>, ServerFnError> {
    use crate::edge::{engine, engine_error};
    engine()?.servers().await.map_err(engine_error)
}

/// One server.
#[server(prefix = "/api", endpoint = "servers/get")]
pub async fn get_server(id: i64) -> Result<Server, ServerFnError> {
    use crate::edge::{engine, engine_error};
    engine()?.server(id).await.map_err(engine_error)
}

/// Adds a server. `port` may be blank (5432); a blank `password` stores none.
#[server(prefix = "/api", endpoint = "servers/add")]
pub async fn add_server(
    name: String,
    host: String,
    port: String,
    user: String,
    password: String,
    sslmode: String,
    maintenance_db: String,
) -> Result<Server, ServerFnError> {
    use crate::edge::{engine, engine_error, server_input};
    let password = (!password.is_empty()).then_some(password);
    let input = server_input(name, host, &port, user, password, sslmode, maintenance_db)?;
    engine()?.add_server(input).await.map_err(engine_error)
}

/// Edits a server. A blank `password` keeps the stored one; `clear_password`
/// (a checkbox, present when ticked) removes it.
#[server(prefix = "/api", endpoint = "servers/update")]
pub async fn update_server(
    id: i64,
    name: String,
    host: String,
    port: String,
    user: String,
    password: String,
    clear_password: Option<String>,
    sslmode: String,
    maintenance_db: String,
) -> Result<Server, ServerFnError> {
    use crate::edge::{engine, engine_error, server_input};
    let password = match (clear_password.is_some(), password.is_empty()) {
        (true, _) => Some(String::new()),
        (false, true) => None,
        (false, false) => Some(password),
    };
    let input = server_input(name, host, &port, user, password, sslmode, maintenance_db)?;
    engine()?
        .update_server(id, input)
        .await
        .map_err(engine_error)
}

/// Deletes a server; its backups stay listed and on storage.
#[server(prefix = "/api", endpoint = "servers/delete")]
pub async fn delete_server(id: i64) -> Result<(), ServerFnError> {
    use crate::edge::{engine, engine_error};
    engine()?.delete_server(id).await.map_err(engine_error)
}

/// Connects to the server's maintenance database: version, standby or not,
/// and the pg_dump backups would use (or why there is none).
#[server(prefix = "/api", endpoint = "servers/test")]
pub async fn test_connection(id: i64) -> Result<ConnectionReport, ServerFnError> {
    use crate::edge::{engine, engine_error};
    engine()?.test_connection(id).await.map_err(engine_error)
}

/// The databases a backup can be taken of, with sizes.
#[server(prefix = "/api", endpoint = "servers/databases")]
pub async fn list_databases(server_id: i64) -> Result<Vec<DatabaseInfo>, ServerFnError> {
    use crate::edge::{engine, engine_error};
    engine()?.databases(server_id).await.map_err(engine_error)
}
