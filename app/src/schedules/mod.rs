//! Schedules: the server's schedules table, its plan (coverage, globals,
//! standby), the globals backups, and "Test-restore now".

pub mod api;
pub mod globals_table;
pub mod schedules_table;
pub mod server_plan_form;
pub mod test_restore_button;
