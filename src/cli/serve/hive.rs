//! `tidepool serve --hive`.

/// Options of the hive server.
#[derive(Debug, Clone, Default, clap::Args)]
#[group(id = "hive_opts")]
pub struct Opts {
    /// Serve hive.
    #[arg(id = "serve_hive", long = "hive")]
    pub enabled: bool,

    /// Listen address of the hive server.
    #[arg(id = "hive_listen", long = "hive-listen", value_name = "ADDR:PORT")]
    pub listen: Option<String>,
}

/// Binds the hive server and spawns it on `shutdown`; returns once it listens.
pub async fn start(
    _global: &crate::cli::Global,
    _opts: &Opts,
    _shutdown: &crate::net::shutdown::Shutdown,
) -> Result<(), crate::error::Report> {
    Err(crate::cli::not_built("tidepool serve --hive"))
}
