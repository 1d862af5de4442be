//! Server functions: each parses its input, calls one engine method and
//! returns a view type from [`views`]. They are served under [`API_PREFIX`]
//! with fixed endpoints (no hash suffix), e.g. `POST /api/servers/add`.
//!
//! - [`servers`]: list, read, add, edit, delete, test a server; list its databases.
//! - [`backups`]: list, start ("Back up now") and delete backups.
//! - [`workers`]: background worker status and the destination.
//! - [`policies`]: read, preview, save and clear backup policies.
//! - [`schedules`]: schedule status, the server plan, "Back up globals now".
//! - [`views`]: the serializable types the browser sees.
//! - `convert` (server side only): engine values to views, engine errors to
//!   `ServerFnError` with the HTTP status set; `policy_convert` does the
//!   same for policies, plans and schedules.

pub mod backups;
#[cfg(feature = "ssr")]
mod convert;
pub mod policies;
#[cfg(feature = "ssr")]
mod policy_convert;
pub mod schedules;
pub mod servers;
pub mod views;
pub mod workers;

/// URL prefix of every server function.
pub const API_PREFIX: &str = "/api";

/// Sets the HTTP status of the page being server-rendered (e.g. 404); does
/// nothing in the browser.
pub fn set_page_status(code: u16) {
    #[cfg(feature = "ssr")]
    convert::set_page_status(code);
    #[cfg(not(feature = "ssr"))]
    let _ = code;
}
