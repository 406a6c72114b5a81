//! `tidepool bench hive`.

use crate::error::Report;

/// Runs the hive benchmark and prints its table.
pub fn run(_quick: bool) -> Result<(), Report> {
    Err(crate::cli::not_built("tidepool bench hive"))
}
