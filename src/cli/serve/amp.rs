//! `tidepool serve --amp`.

/// Options of the amp server.
#[derive(Debug, Clone, Default, clap::Args)]
#[group(id = "amp_opts")]
pub struct Opts {
    /// Serve amp.
    #[arg(id = "serve_amp", long = "amp")]
    pub enabled: bool,

    /// Listen address of the amp server.
    #[arg(id = "amp_listen", long = "amp-listen", value_name = "ADDR:PORT")]
    pub listen: Option<String>,
}

/// Binds the amp server and spawns it on `shutdown`; returns once it listens.
pub async fn start(
    _global: &crate::cli::Global,
    _opts: &Opts,
    _shutdown: &crate::net::shutdown::Shutdown,
) -> Result<(), crate::error::Report> {
    Err(crate::cli::not_built("tidepool serve --amp"))
}
