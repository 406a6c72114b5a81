//! `tidepool screenshot`.

use crate::cli::Global;
use crate::error::Report;

/// Arguments of `tidepool screenshot`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `tidepool screenshot`.
pub fn run(_global: &Global, _args: Args) -> Result<(), Report> {
    Err(crate::cli::not_built("tidepool screenshot"))
}
