//! `tidepool deposit`.

use crate::cli::Global;
use crate::error::Report;

/// Arguments of `tidepool deposit`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `tidepool deposit`.
pub fn run(_global: &Global, _args: Args) -> Result<(), Report> {
    Err(crate::cli::not_built("tidepool deposit"))
}
