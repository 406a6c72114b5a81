//! `tidepool serve --rpc`: a simpy.io JSON-RPC server exposing the echo/mock
//! methods of `engine::simpyio::mock` (the interop kit's method set).

use std::path::PathBuf;
use std::sync::Arc;

use crate::engine::simpyio::{io, mock};
use crate::error::{Exit, Report};
use crate::net::transport::Listener;

/// Default port, the same as the Python interop kit's server.
pub const DEFAULT_PORT: u16 = 7002;

/// Options of the rpc server.
#[derive(Debug, Clone, Default, clap::Args)]
#[group(id = "rpc_opts")]
pub struct Opts {
    /// Serve simpy.io JSON-RPC (echo, add, greet, fail, delay, callback, math/mul).
    #[arg(id = "serve_rpc", long = "rpc")]
    pub enabled: bool,

    /// Listen address of the rpc server (default 127.0.0.1:7002).
    #[arg(id = "rpc_listen", long = "rpc-listen", value_name = "ADDR:PORT")]
    pub listen: Option<String>,

    /// TLS certificate chain (PEM); with --rpc-tls-key the server speaks TLS.
    #[arg(
        id = "rpc_tls_cert",
        long = "rpc-tls-cert",
        value_name = "PEM",
        requires = "rpc_tls_key"
    )]
    pub tls_cert: Option<PathBuf>,

    /// TLS private key (PEM).
    #[arg(
        id = "rpc_tls_key",
        long = "rpc-tls-key",
        value_name = "PEM",
        requires = "rpc_tls_cert"
    )]
    pub tls_key: Option<PathBuf>,

    /// Largest packet payload in bytes (simpy.io's default is 16384; both peers must agree).
    #[arg(id = "rpc_max_packet", long = "rpc-max-packet-size", value_name = "BYTES", default_value_t = crate::engine::simpyio::codec::MAX_PACKET_SIZE)]
    pub max_packet_size: usize,

    /// Application custom types the clients register (their `types`, in
    /// order; comma separated): shifts the proxy/exposed `__type__` ids as
    /// simpy.io does, and lets values of these types through.
    #[arg(
        id = "rpc_types",
        long = "rpc-types",
        value_name = "NAMES",
        value_delimiter = ','
    )]
    pub types: Vec<String>,

    /// Application converters the clients register (their `converters`).
    #[arg(
        id = "rpc_converters",
        long = "rpc-converters",
        value_name = "NAMES",
        value_delimiter = ','
    )]
    pub converters: Vec<String>,
}

/// Binds the rpc server and spawns it on `shutdown`; returns once it listens.
pub async fn start(
    _global: &crate::cli::Global,
    opts: &Opts,
    shutdown: &crate::net::shutdown::Shutdown,
) -> Result<(), Report> {
    let addr = super::listen_addr(opts.listen.as_deref(), DEFAULT_PORT)?;
    let tls = match (&opts.tls_cert, &opts.tls_key) {
        (Some(cert), Some(key)) => Some(
            crate::net::tls::server_config(cert, key, None)
                .map_err(|e| Report::from_error(Exit::Failure, &e).context("rpc server tls"))?,
        ),
        _ => None,
    };
    super::warn_if_exposed("rpc", addr, tls.is_some());
    let listener = Listener::bind_tcp(addr).await.map_err(|e| {
        Report::from_error(Exit::Failure, &e).context(format!("rpc: binding {addr}"))
    })?;
    let bound = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| addr.to_string());
    eprintln!(
        "rpc: simpy.io JSON-RPC on {bound}{}",
        if tls.is_some() { " (tls)" } else { "" }
    );
    let server = crate::net::server::Options {
        tls,
        ..crate::net::server::Options::new("rpc")
    };
    let opts = io::Options {
        max_packet_size: opts.max_packet_size,
        types: Arc::new(crate::engine::simpyio::protocol::TypeIds::new(
            opts.types.clone(),
            opts.converters.clone(),
        )),
        ..io::Options::default()
    };
    shutdown.spawn(io::serve(
        listener,
        shutdown.clone(),
        server,
        Arc::new(mock::server()),
        opts,
    ));
    Ok(())
}
