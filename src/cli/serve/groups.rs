//! `tidepool serve --groups`: the embedded Spread-compatible daemon on TCP and
//! on the Unix socket named after the port (groups spec section 14).

use std::path::PathBuf;

use crate::engine::groups::codec::DEFAULT_SPREAD_PORT;
use crate::engine::groups::{Daemon, DaemonConfig};
use crate::error::Report;

/// Options of the groups server.
#[derive(Debug, Clone, Default, clap::Args)]
#[group(id = "groups_opts")]
pub struct Opts {
    /// Serve groups.
    #[arg(id = "serve_groups", long = "groups")]
    pub enabled: bool,

    /// Listen address of the groups server (default 127.0.0.1:4803).
    #[arg(id = "groups_listen", long = "groups-listen", value_name = "ADDR:PORT")]
    pub listen: Option<String>,

    /// Daemon name used in private groups (#name#DAEMON), 1..19 characters.
    #[arg(
        id = "groups_name",
        long = "groups-name",
        default_value = "localhost",
        value_name = "NAME"
    )]
    pub name: String,

    /// Directory of the Unix socket named after the port (Spread's SP_UNIX_SOCKET).
    #[arg(
        id = "groups_socket_dir",
        long = "groups-socket-dir",
        default_value = "/tmp",
        value_name = "DIR"
    )]
    pub socket_dir: PathBuf,

    /// Do not listen on the Unix socket.
    #[arg(id = "groups_no_unix", long = "groups-no-unix")]
    pub no_unix: bool,

    /// Messages queued for one client before it is dropped (Spread's MaxSessionMessages).
    #[arg(
        id = "groups_max_queued",
        long = "groups-max-queued",
        default_value_t = 1000,
        value_name = "N"
    )]
    pub max_queued: usize,
}

/// Binds the groups server and spawns it on `shutdown`; returns once it listens.
pub async fn start(
    _global: &crate::cli::Global,
    opts: &Opts,
    shutdown: &crate::net::shutdown::Shutdown,
) -> Result<(), Report> {
    let addr = super::listen_addr(opts.listen.as_deref(), DEFAULT_SPREAD_PORT)?;
    if opts.max_queued == 0 {
        return Err(Report::usage("--groups-max-queued: must be at least 1"));
    }
    let config = DaemonConfig {
        name: opts.name.clone(),
        tcp: Some(addr),
        unix_dir: (!opts.no_unix).then(|| opts.socket_dir.clone()),
        unix_port: None,
        max_queued: opts.max_queued,
        ..DaemonConfig::default()
    };
    // Group ids carry the start-up time, as the reference daemon's do.
    let time = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i32);
    let daemon = Daemon::start(config, shutdown, time).await.map_err(|e| {
        Report::from_error(crate::error::Exit::Failure, &e).context("serve --groups")
    })?;
    let bound = daemon.tcp_addr.unwrap_or(addr);
    super::warn_if_exposed("groups", bound, false);
    match &daemon.unix_path {
        Some(p) => eprintln!(
            "groups: daemon {:?} listening on {bound} and {}",
            opts.name,
            p.display()
        ),
        None => eprintln!("groups: daemon {:?} listening on {bound}", opts.name),
    }
    Ok(())
}
