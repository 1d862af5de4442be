//! Restores: a backup's page (`/backups/:id`: its contents, one table into
//! scratch, test-restore, full restore, downloads and the manual recipe),
//! the scratch databases (`/scratch`) and the comparison of a restored
//! table with production (`/scratch/:name/compare`).

pub mod api;
pub mod backup_page;
pub mod compare_page;
pub mod copies_panel;
pub mod database_proof;
pub mod full_restore_form;
pub mod rebuild_page;
pub mod restored_table_card;
pub mod schema_changes_panel;
pub mod scratch_page;
pub mod table_picker;
pub mod table_restore_panel;
pub mod test_restore_line;
pub mod views;
