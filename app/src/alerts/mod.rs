//! Alerts: `/alerts` (the channels with "Send test" and Remove, the add
//! form, recent deliveries and open incidents).

pub mod alerts_page;
pub mod api;
pub mod channel_form;
pub mod channel_row;
pub mod deliveries_table;
pub mod draft;
pub mod incidents_table;
