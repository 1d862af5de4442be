//! Destinations: `/destinations` (where backups are stored: add, test,
//! edit, remove, SFTP host keys, import the catalog), the form and its
//! draft, and the age identities stored for scheduled test-restores.

pub mod api;
pub mod destination_form;
pub mod destination_row;
pub mod destinations_page;
pub mod draft;
pub mod host_key_check;
pub mod import_catalog_button;
pub mod probe_result;
pub mod stored_identities_panel;
