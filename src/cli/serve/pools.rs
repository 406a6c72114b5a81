//! `tidepool serve --pools`.

/// Options of the pools server.
#[derive(Debug, Clone, Default, clap::Args)]
#[group(id = "pools_opts")]
pub struct Opts {
    /// Serve pools.
    #[arg(id = "serve_pools", long = "pools")]
    pub enabled: bool,

    /// Listen address of the pools server.
    #[arg(id = "pools_listen", long = "pools-listen", value_name = "ADDR:PORT")]
    pub listen: Option<String>,
}

/// Binds the pools server and spawns it on `shutdown`; returns once it listens.
pub async fn start(
    _global: &crate::cli::Global,
    _opts: &Opts,
    _shutdown: &crate::net::shutdown::Shutdown,
) -> Result<(), crate::error::Report> {
    Err(crate::cli::not_built("tidepool serve --pools"))
}
