//! Servers: the list (`/`), one server's page (`/servers/:id`), the add and
//! edit form, the connection test, the databases table.

pub mod api;
pub mod connection_result;
pub mod connection_status;
pub mod databases_table;
pub mod default_plan_note;
pub mod server_edit;
pub mod server_fields;
pub mod server_form;
pub mod server_health;
pub mod server_page;
pub mod server_row;
pub mod server_summary;
pub mod servers_page;
pub mod version_warning;
