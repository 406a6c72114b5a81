//! `tidepool` / `tidepool dashboard`: the interactive console.

use std::path::PathBuf;

use crate::cli::Global;
use crate::error::Report;

/// Options of the dashboard.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Args {
    /// Add in-process demo traffic so every view is live within seconds.
    #[arg(long)]
    pub demo: bool,

    /// Theme: dark (default), light, high-contrast, mono, or a theme file.
    #[arg(long, value_name = "NAME|PATH")]
    pub theme: Option<String>,

    /// Pools directory (default: $OB_POOLS_DIR, else the libPlasma default).
    #[arg(long, value_name = "DIR")]
    pub pools_dir: Option<PathBuf>,

    /// Enable mouse capture.
    #[arg(long)]
    pub mouse: bool,

    /// Render cap in frames per second (10-60).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(10..=60))]
    pub fps: u32,
}

/// Opens the console.
pub fn run(_global: &Global, _args: Args) -> Result<(), Report> {
    Err(crate::cli::not_built("the dashboard"))
}
