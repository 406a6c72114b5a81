//! `tidepool bench console`.

use crate::error::Report;

/// Runs the console benchmark and prints its table.
pub fn run(_quick: bool) -> Result<(), Report> {
    Err(crate::cli::not_built("tidepool bench console"))
}
