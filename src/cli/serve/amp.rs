//! `tidepool serve --amp --schema FILE`: a responder answering the schema's
//! commands with canned or echoed values (see `engine::amp::responder::Canned`),
//! useful for testing clients. Offers Twisted's StartTLS when a certificate is
//! given, or TLS from the start with `--amp-tls`; `--amp-client-ca` makes
//! either require a client certificate signed by that CA.

use std::path::PathBuf;
use std::sync::Arc;

use crate::engine::amp::io::{self, Counters};
use crate::engine::amp::responder::Canned;
use crate::error::{Exit, Report};
use crate::net::server;
use crate::net::transport::Listener;

/// Default AMP port (Twisted examples use 1234; we keep clear of it).
pub const DEFAULT_PORT: u16 = 7001;

/// Options of the amp server.
#[derive(Debug, Clone, Default, clap::Args)]
#[group(id = "amp_opts")]
pub struct Opts {
    /// Serve amp.
    #[arg(id = "serve_amp", long = "amp")]
    pub enabled: bool,

    /// Listen address of the amp server (`ADDR:PORT`, `PORT` or `unix:/path`).
    #[arg(id = "amp_listen", long = "amp-listen", value_name = "ADDR:PORT")]
    pub listen: Option<String>,

    /// TOML schema of the commands to answer (default: `amp.schema` of the config file).
    #[arg(
        id = "amp_schema",
        long = "schema",
        visible_alias = "amp-schema",
        value_name = "FILE"
    )]
    pub schema: Option<PathBuf>,

    /// Certificate chain (PEM) offered through StartTLS, or from the start with --amp-tls.
    #[arg(
        id = "amp_cert",
        long = "amp-cert",
        value_name = "PEM",
        requires = "amp_key"
    )]
    pub cert: Option<PathBuf>,

    /// Private key (PEM) of --amp-cert.
    #[arg(
        id = "amp_key",
        long = "amp-key",
        value_name = "PEM",
        requires = "amp_cert"
    )]
    pub key: Option<PathBuf>,

    /// Require clients to present a certificate signed by this CA (PEM): mutual
    /// TLS, both from the start and through StartTLS.
    #[arg(
        id = "amp_client_ca",
        long = "amp-client-ca",
        value_name = "PEM",
        requires = "amp_cert"
    )]
    pub client_ca: Option<PathBuf>,

    /// Run TLS from the start instead of waiting for StartTLS.
    #[arg(id = "amp_tls", long = "amp-tls", requires = "amp_cert")]
    pub tls: bool,

    /// Most connections served at once.
    #[arg(
        id = "amp_max_connections",
        long = "amp-max-connections",
        default_value_t = 1024
    )]
    pub max_connections: usize,
}

/// Binds the amp server and spawns it on `shutdown`; returns once it listens.
pub async fn start(
    global: &crate::cli::Global,
    opts: &Opts,
    shutdown: &crate::net::shutdown::Shutdown,
) -> Result<(), Report> {
    let catalog = crate::cli::amp::load_schema(global, opts.schema.as_deref())?
        .ok_or_else(|| Report::usage("serve --amp: give --schema FILE (the commands to answer)"))?;
    let tls = match (&opts.cert, &opts.key) {
        (Some(cert), Some(key)) => Some(
            crate::net::tls::server_config(cert, key, opts.client_ca.as_deref())
                .map_err(|e| Report::from_error(Exit::Usage, &e))?,
        ),
        _ => None,
    };
    let listener = match opts.listen.as_deref().and_then(|l| l.strip_prefix("unix:")) {
        Some(path) => Listener::bind_unix(std::path::Path::new(path))
            .map_err(|e| Report::from(e).context(format!("amp: binding unix:{path}")))?,
        None => {
            let addr = super::listen_addr(opts.listen.as_deref(), DEFAULT_PORT)?;
            super::warn_if_exposed("amp", addr, tls.is_some());
            Listener::bind_tcp(addr)
                .await
                .map_err(|e| Report::from(e).context(format!("amp: binding {addr}")))?
        }
    };
    let local = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let commands = catalog.len();
    let server_opts = server::Options {
        max_connections: opts.max_connections,
        tls: if opts.tls { tls.clone() } else { None },
        ..server::Options::new("amp")
    };
    let io_opts = io::Options {
        tls_server: if opts.tls { None } else { tls },
        ..io::Options::default()
    };
    shutdown.spawn(io::serve(
        listener,
        shutdown.clone(),
        server_opts,
        Arc::new(Canned::new(catalog)),
        io_opts,
        Arc::new(Counters::default()),
    ));
    eprintln!("tidepool serve: amp on {local} ({commands} commands)");
    Ok(())
}
