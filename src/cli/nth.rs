//! `tidepool nth`.

use crate::cli::Global;
use crate::error::Report;

/// Arguments of `tidepool nth`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `tidepool nth`.
pub fn run(_global: &Global, _args: Args) -> Result<(), Report> {
    Err(crate::cli::not_built("tidepool nth"))
}
