//! Pages, one per route (see the route table in the crate docs).

pub mod database;
pub mod not_found;
pub mod policy;
pub mod server;
pub mod servers;
