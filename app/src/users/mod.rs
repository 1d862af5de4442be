//! Signing in and who may do what: the sign-in page (`/login`), the
//! first-admin setup page (`/setup`), the users page (`/users`, admins),
//! and the signed-in user in the header.

pub mod api;
pub mod login_page;
pub mod setup_page;
pub mod user_menu;
pub mod users_page;
