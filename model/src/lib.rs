//! pgshelf's domain types and pure rules, shared by the engine (server side)
//! and the dashboard (server-rendered and in the browser). Nothing here does
//! I/O: no tokio, sqlx or std::process, so it builds for wasm32 too.
//!
//! # Layout
//!
//! - [`backup`]: a recorded run ([`backup::Backup`]), its [`backup::Target`]
//!   (a database or the globals), [`backup::BackupKind`] and
//!   [`backup::BackupStatus`]; the nearest-globals rule.
//! - [`chart`]: charts, pure: downsampling a long series, nice size and
//!   time axis ticks, scales.
//! - [`history`]: a database's history as its page charts it (sizes over a
//!   range, its largest tables' growth, failed runs).
//! - [`compare`]: a scratch table compared with the live one, and putting
//!   rows back (what is picked, what the script holds, how it was recorded).
//! - [`policy`]: backup policies and server plans with their validation,
//!   where a policy comes from ([`policy::PolicySource`]).
//! - [`proof`]: test-restores, their mismatches, proof flags of a
//!   database, alertable events.
//! - [`restore`]: what a backup holds, table restores into scratch
//!   databases, full restores and server rebuilds, as shown.
//! - [`retention`]: retention tiers and their limits.
//! - [`destination`]: where artifacts are stored (kinds and their
//!   non-secret settings), a backup's copies, testing and importing one.
//! - [`cron`]: cron expressions and presets in a time zone: parsing,
//!   next runs, missed-run and overdue rules.
//! - [`schedule`]: schedule status and the policy preview, as shown.
//! - [`schema_diff`]: what a backup's table of contents adds, drops or
//!   changes against the previous one (columns read from `CREATE TABLE`).
//! - [`tables`]: the tables a backup holds, with row counts and how each
//!   count was taken (exact, or an estimate shown as one).
//! - [`server`]: servers as shown (never a password), sslmodes, connection
//!   test results.
//! - [`user`]: dashboard users and their roles.
//! - [`worker`]: background worker status.
//! - [`live`]: live updates pushed to the dashboard: the progress of running
//!   work (throughput, time left: pure) and "something changed" notices.
//! - [`format`]: sizes and durations in words.
//! - [`overview`]: the landing page: every database's health, recent
//!   problems, running work, storage and its projection (pure rules).
//! - [`names`]: `schema.table` quoted as PostgreSQL prints it.

pub mod alert;
pub mod backup;
pub mod chart;
pub mod compare;
pub mod cron;
pub mod destination;
pub mod format;
pub mod history;
pub mod live;
pub mod names;
pub mod overview;
pub mod policy;
pub mod proof;
pub mod restore;
pub mod retention;
pub mod schedule;
pub mod schema_diff;
pub mod server;
pub mod tables;
pub mod user;
pub mod worker;
