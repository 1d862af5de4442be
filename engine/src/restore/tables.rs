//! One or more tables restored whole into a scratch database.

use super::jobs::Track;
use crate::{Engine, Error};
use model::restore::{TableRestoreRequest, TableRestoreResult};

/// Restores the chosen tables into a scratch database (not built yet).
pub(crate) async fn restore_tables(
    _engine: &Engine,
    _req: &TableRestoreRequest,
    _who: &str,
    _track: &Track,
) -> Result<TableRestoreResult, Error> {
    Err(Error::Conflict(
        "table restores are not built yet. Fix: wait for the next pgshelf".into(),
    ))
}
