#![recursion_limit = "512"]
//! The `pgshelf` binary's library half: configuration, command line, web.
//!
//! # Layout
//!
//! - [`config`]: defaults, then `pgshelf.toml`, then `PGSHELF_*` variables.
//! - [`cli`]: the subcommands other than `serve`; [`cli_restore`]:
//!   `restore-table`, `restore`, `scratch list|drop`.
//! - [`cli_proof`]: the `test-restore` command.
//! - [`cli_compare`]: `compare` (scratch table against live, put-back script).
//! - [`cli_alert`]: `alert add|list|test|remove|deliveries`.
//! - [`cli_destination`]: `destination add|edit|list|test|remove|host-key`,
//!   `catalog import`, and the `[[destination]]` tables of pgshelf.toml
//!   handed to the engine.
//! - [`remote`]: the CLI's read and run commands against another pgshelf,
//!   with an API token.
//! - [`guard`]: who is calling (session cookie or API token), anonymous and
//!   cross-site requests refused.
//! - [`downloads`]: streamed downloads (an artifact's files, a put-back
//!   script), behind the guard, operators and up.
//! - [`events`]: `GET /api/events`, live progress and change notices as
//!   server-sent events (signed-in users; ends on shutdown).
//! - [`metrics`]: `/metrics` (Prometheus text, optional bearer token) and
//!   `/healthz` (catalog and workers, JSON), both without a session.
//! - [`web`]: the axum router (Leptos pages, server functions, the routes of
//!   [`metrics`], static files) and `serve(listener, engine, site_root,
//!   shutdown)` / `serve_with(.., WebSettings, ..)`.
//!
//! `main.rs` parses the command line, loads the configuration, opens the
//! engine and dispatches. `anyhow` lives here and in `main.rs` only.

pub mod cli;
pub mod cli_alert;
pub mod cli_compare;
pub mod cli_destination;
pub mod cli_proof;
pub mod cli_restore;
pub mod config;
pub mod downloads;
pub mod events;
pub mod guard;
pub mod metrics;
pub mod remote;
pub mod web;
