//! Policies: the policy pages (`/servers/:id/policy` and a database's), the
//! editor with its live preview, and the form text it edits.

pub mod api;
pub mod destination_checks;
pub mod policy_editor;
pub mod policy_form;
pub mod policy_page;
pub mod policy_preview;
pub mod storage_fields;
pub mod tier_inputs;
