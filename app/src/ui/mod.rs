//! What every feature shares: formatting, error messages and field errors,
//! polling, live updates from the server and the progress bar, status and
//! tier badges, the time zones the forms suggest.

pub mod error_message;
pub mod field_errors;
pub mod format;
pub mod live;
pub mod poll;
pub mod progress_bar;
pub mod status_badge;
pub mod tier_badges;
pub mod timezones;
