//! `tidepool serve --groups`.

/// Options of the groups server.
#[derive(Debug, Clone, Default, clap::Args)]
#[group(id = "groups_opts")]
pub struct Opts {
    /// Serve groups.
    #[arg(id = "serve_groups", long = "groups")]
    pub enabled: bool,

    /// Listen address of the groups server.
    #[arg(id = "groups_listen", long = "groups-listen", value_name = "ADDR:PORT")]
    pub listen: Option<String>,
}

/// Binds the groups server and spawns it on `shutdown`; returns once it listens.
pub async fn start(
    _global: &crate::cli::Global,
    _opts: &Opts,
    _shutdown: &crate::net::shutdown::Shutdown,
) -> Result<(), crate::error::Report> {
    Err(crate::cli::not_built("tidepool serve --groups"))
}
