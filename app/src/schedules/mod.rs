//! Schedules: the server's schedules table, its plan (coverage, globals,
//! standby) and the globals backups.

pub mod api;
pub mod globals_table;
pub mod schedules_table;
pub mod server_plan_form;
