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
