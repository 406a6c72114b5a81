//! `tidepool serve --rpc`.

/// Options of the rpc server.
#[derive(Debug, Clone, Default, clap::Args)]
#[group(id = "rpc_opts")]
pub struct Opts {
    /// Serve rpc.
    #[arg(id = "serve_rpc", long = "rpc")]
    pub enabled: bool,

    /// Listen address of the rpc server.
    #[arg(id = "rpc_listen", long = "rpc-listen", value_name = "ADDR:PORT")]
    pub listen: Option<String>,
}

/// Binds the rpc server and spawns it on `shutdown`; returns once it listens.
pub async fn start(
    _global: &crate::cli::Global,
    _opts: &Opts,
    _shutdown: &crate::net::shutdown::Shutdown,
) -> Result<(), crate::error::Report> {
    Err(crate::cli::not_built("tidepool serve --rpc"))
}
