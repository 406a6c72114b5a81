//! `tidepool group …`.

use crate::cli::Global;
use crate::error::Report;

/// Subcommands of `tidepool group`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Not built yet.
    #[command(hide = true)]
    Pending,
}

/// Runs `tidepool group`.
pub fn run(_global: &Global, _cmd: Command) -> Result<(), Report> {
    Err(crate::cli::not_built("tidepool group"))
}
