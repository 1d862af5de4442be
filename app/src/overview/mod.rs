//! The overview (`/` once a server exists): every database's health at a
//! glance (failing first), the failures and suspect backups of the last 7
//! days, running and queued work, and storage per destination and tier
//! with a 30-day projection. With no server yet, `/` is the servers page
//! (add the first one).

pub mod active_list;
pub mod api;
pub mod health_table;
pub mod home_page;
pub mod overview_page;
pub mod problems_list;
pub mod storage_panel;
