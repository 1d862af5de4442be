//! A database's history on its page: the size-trend chart with its range
//! selector (`?range=7d|30d|1y|all`, so a reload keeps it), the largest
//! tables' growth, and the failure log.

pub mod api;
pub mod failure_log;
pub mod history_panel;
pub mod views;
