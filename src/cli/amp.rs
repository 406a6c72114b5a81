//! `tidepool amp …`.

use crate::cli::Global;
use crate::error::Report;

/// Subcommands of `tidepool amp`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Not built yet.
    #[command(hide = true)]
    Pending,
}

/// Runs `tidepool amp`.
pub fn run(_global: &Global, _cmd: Command) -> Result<(), Report> {
    Err(crate::cli::not_built("tidepool amp"))
}
