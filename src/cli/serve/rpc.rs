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
