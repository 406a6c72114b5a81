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
