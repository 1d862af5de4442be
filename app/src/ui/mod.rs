//! What every feature shares: formatting, error messages and field errors,
//! polling, live updates from the server and the progress bar, status and
//! tier badges, the time zones the forms suggest; the size chart, times in
//! the viewer's zone, and the few browser calls they need (`browser`).

pub mod browser;
pub mod draft_text_field;
pub mod error_message;
pub mod field_errors;
pub mod format;
pub mod live;
pub mod poll;
pub mod progress_bar;
pub mod resource;
pub mod size_chart;
pub mod status_badge;
pub mod tier_badges;
pub mod timezones;
pub mod viewer_time;
