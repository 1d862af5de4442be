//! Backups: a database's page (`/servers/:id/databases/:db`), the backups
//! table and its rows, "Back up now" (databases and globals), delete.

pub mod api;
pub mod backup_badges;
pub mod backup_details;
pub mod backup_table_row;
pub mod backups_table;
pub mod database_page;
pub mod run_now_button;
pub mod views;
