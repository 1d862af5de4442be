//! Destinations: `/destinations` (where backups are stored: add, test,
//! edit, remove, SFTP host keys, import the catalog), the form and its
//! draft.

pub mod api;
pub mod destination_form;
pub mod destination_row;
pub mod destinations_page;
pub mod draft;
pub mod host_key_check;
pub mod import_catalog_button;
pub mod probe_result;
