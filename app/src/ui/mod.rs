//! What every feature shares: formatting, error messages and field errors,
//! polling, status and tier badges, the time zones the forms suggest.

pub mod error_message;
pub mod field_errors;
pub mod format;
pub mod poll;
pub mod status_badge;
pub mod tier_badges;
pub mod timezones;
