//! Components, one per file, and the small helpers they share.

pub mod add_server_form;
pub mod backup_now_button;
pub mod backup_table_row;
pub mod backups_table;
pub mod connection_result;
pub mod connection_status;
pub mod databases_table;
pub mod edit_server_form;
pub mod error_message;
pub mod format;
pub mod poll;
pub mod server_fields;
pub mod server_row;
pub mod status_badge;
pub mod worker_line;
pub mod worker_status_bar;
