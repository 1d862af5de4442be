//! Background workers: the status bar in the header.

pub mod api;
pub mod worker_line;
pub mod worker_status_bar;
