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
