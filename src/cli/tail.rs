//! `tidepool tail`.

use crate::cli::Global;
use crate::error::Report;

/// Arguments of `tidepool tail`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `tidepool tail`.
pub fn run(_global: &Global, _args: Args) -> Result<(), Report> {
    Err(crate::cli::not_built("tidepool tail"))
}
