//! `tidepool serve --pools`: serve the pools directory (`OB_POOLS_DIR`) over the
//! pool TCP protocol, like libPlasma's `pool_tcp_server`, with STARTTLS when a
//! certificate is configured (plasma spec 7.7).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::engine::pool_tcp::codec::DEFAULT_PORT;
use crate::engine::pool_tcp::io::{serve, ServerConfig};
use crate::error::Report;
use crate::net::transport::Listener;

/// Options of the pools server.
#[derive(Debug, Clone, Default, clap::Args)]
#[group(id = "pools_opts")]
pub struct Opts {
    /// Serve pools.
    #[arg(id = "serve_pools", long = "pools")]
    pub enabled: bool,

    /// Listen address of the pools server (default 127.0.0.1:65456).
    #[arg(id = "pools_listen", long = "pools-listen", value_name = "ADDR:PORT")]
    pub listen: Option<String>,

    /// Certificate chain (PEM) offered through STARTTLS; default: the first
    /// server-certificate-chain.pem along OB_ETC_PATH, as libPlasma does.
    #[arg(id = "pools_tls_cert", long = "tls-cert", value_name = "PEM")]
    pub tls_cert: Option<PathBuf>,

    /// Private key (PEM) of --tls-cert; default: server-private-key.pem beside it.
    #[arg(id = "pools_tls_key", long = "tls-key", value_name = "PEM")]
    pub tls_key: Option<PathBuf>,

    /// Refuse plain sessions: only STARTTLS is served before TLS (pool_tcp_server -S).
    #[arg(id = "pools_require_tls", long = "require-tls")]
    pub require_tls: bool,

    /// Require client certificates signed by this CA (pool_tcp_server -C; implies --require-tls).
    #[arg(id = "pools_client_ca", long = "client-ca", value_name = "PEM")]
    pub client_ca: Option<PathBuf>,

    /// Never offer TLS, even when certificates are found (pool_tcp_server -I).
    #[arg(id = "pools_no_tls", long = "no-tls", conflicts_with_all = ["pools_require_tls", "pools_tls_cert"])]
    pub no_tls: bool,

    /// Connections served at once.
    #[arg(
        id = "pools_max_connections",
        long = "pools-max-connections",
        default_value_t = 1024
    )]
    pub max_connections: usize,

    /// Seconds a connection may stay silent between requests (0 = forever).
    #[arg(
        id = "pools_idle_timeout",
        long = "pools-idle-timeout",
        default_value_t = 600
    )]
    pub idle_timeout: u64,

    /// Largest message (a deposited protein) accepted, in bytes.
    #[arg(id = "pools_max_message", long = "pools-max-message", default_value_t = 64 * 1024 * 1024)]
    pub max_message: usize,

    /// Announce the server over mDNS as _pool-server._tcp, as libPlasma's
    /// pool-server-zeroconf-adapter does (needs the `zeroconf` build feature).
    #[arg(id = "pools_zeroconf", long = "zeroconf")]
    pub zeroconf: bool,

    /// Zeroconf instance name (default: the host name up to its first dot).
    #[arg(
        id = "pools_zeroconf_name",
        long = "zeroconf-name",
        value_name = "NAME",
        requires = "pools_zeroconf"
    )]
    pub zeroconf_name: Option<String>,

    /// Zeroconf subtypes, comma-separated (each at most 14 characters).
    #[arg(
        id = "pools_zeroconf_subtypes",
        long = "zeroconf-subtypes",
        value_name = "A,B",
        requires = "pools_zeroconf"
    )]
    pub zeroconf_subtypes: Option<String>,
}

/// Directories of `OB_ETC_PATH` (default `~/.oblong/etc:/etc/oblong`).
fn etc_path() -> Vec<PathBuf> {
    match std::env::var_os("OB_ETC_PATH") {
        Some(p) => std::env::split_paths(&p).collect(),
        None => {
            let mut v = Vec::new();
            if let Some(home) = std::env::var_os("HOME") {
                v.push(Path::new(&home).join(".oblong/etc"));
            }
            v.push(PathBuf::from("/etc/oblong"));
            v
        }
    }
}

fn find_in_etc(name: &str) -> Option<PathBuf> {
    etc_path()
        .into_iter()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Builds the server configuration from the flags.
pub fn config(opts: &Opts) -> Result<ServerConfig, Report> {
    let mut cfg = ServerConfig::new(crate::cli::pool::pools());
    cfg.max_connections = opts.max_connections.max(1);
    cfg.idle_timeout = (opts.idle_timeout > 0).then(|| Duration::from_secs(opts.idle_timeout));
    cfg.max_message_bytes = opts.max_message.max(1024);
    let require_tls = opts.require_tls || opts.client_ca.is_some();
    if !opts.no_tls {
        let cert = opts
            .tls_cert
            .clone()
            .or_else(|| find_in_etc("server-certificate-chain.pem"));
        if let Some(cert) = cert {
            let key = opts
                .tls_key
                .clone()
                .or_else(|| cert.parent().map(|d| d.join("server-private-key.pem")))
                .ok_or_else(|| Report::usage("serve --pools: --tls-cert needs --tls-key"))?;
            let client_ca = opts.client_ca.clone().or_else(|| {
                require_tls
                    .then(|| find_in_etc("certificate-authorities.pem"))
                    .flatten()
            });
            let tls =
                crate::net::tls::server_config(&cert, &key, client_ca.as_deref()).map_err(|e| {
                    Report::from_error(crate::error::Exit::Usage, &e).context("serve --pools")
                })?;
            cfg.tls = Some(tls);
        }
    }
    if require_tls && cfg.tls.is_none() {
        return Err(Report::usage(
            "serve --pools: --require-tls needs a certificate (--tls-cert/--tls-key or OB_ETC_PATH)",
        ));
    }
    cfg.require_tls = require_tls;
    Ok(cfg)
}

/// Binds the pools server and spawns it on `shutdown`; returns once it listens.
pub async fn start(
    _global: &crate::cli::Global,
    opts: &Opts,
    shutdown: &crate::net::shutdown::Shutdown,
) -> Result<(), crate::error::Report> {
    let cfg = config(opts)?;
    let addr = super::listen_addr(opts.listen.as_deref(), DEFAULT_PORT)?;
    super::warn_if_exposed("pools", addr, cfg.require_tls);
    let listener = Listener::bind_tcp(addr)
        .await
        .map_err(|e| Report::from(e).context(format!("serve --pools: bind {addr}")))?;
    let local = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    eprintln!(
        "tidepool serve: pools of {} on tcp://{local}/ ({})",
        cfg.pools.dir().display(),
        match (&cfg.tls, cfg.require_tls) {
            (Some(_), true) => "TLS required",
            (Some(_), false) => "STARTTLS offered",
            _ => "plain",
        }
    );
    let bound = match listener.local_addr() {
        Ok(crate::net::transport::LocalAddr::Tcp(a)) => a,
        _ => addr,
    };
    let announcement = if opts.zeroconf {
        Some(announcement(opts, bound)?)
    } else {
        None
    };
    shutdown.spawn(serve(listener, shutdown.clone(), cfg));
    if let Some(a) = announcement {
        announce(a, shutdown)?;
    }
    Ok(())
}

fn announcement(
    opts: &Opts,
    bound: std::net::SocketAddr,
) -> Result<crate::engine::pool_tcp::zeroconf::Announcement, Report> {
    use crate::engine::pool_tcp::zeroconf::{parse_subtypes, Announcement};
    let subtypes = parse_subtypes(opts.zeroconf_subtypes.as_deref().unwrap_or(""))
        .map_err(|e| Report::usage(e.to_string()))?;
    // The kernel's host name, as gethostname(2) reports it, without unsafe.
    let host = ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    Announcement::new(&host, opts.zeroconf_name.as_deref(), bound, subtypes)
        .map_err(|e| Report::usage(e.to_string()))
}

#[cfg(feature = "zeroconf")]
fn announce(
    a: crate::engine::pool_tcp::zeroconf::Announcement,
    shutdown: &crate::net::shutdown::Shutdown,
) -> Result<(), Report> {
    let announcer = crate::engine::pool_tcp::zeroconf::Announcer::start(&a)
        .map_err(|e| Report::from_error(crate::error::Exit::Failure, &e))?;
    eprintln!(
        "tidepool serve: announcing {:?} as {} on port {}{}",
        a.instance,
        crate::engine::pool_tcp::zeroconf::SERVICE_TYPE,
        a.port,
        if a.is_loopback_only() {
            " (loopback interfaces only)"
        } else {
            ""
        }
    );
    let requested = shutdown.requested();
    // Dropped with the runtime if the drain never reaches it; the goodbye is
    // then sent from Drop.
    tokio::spawn(async move {
        requested.await;
        announcer.stop(std::time::Duration::from_secs(1)).await;
    });
    Ok(())
}

#[cfg(not(feature = "zeroconf"))]
fn announce(
    _a: crate::engine::pool_tcp::zeroconf::Announcement,
    _shutdown: &crate::net::shutdown::Shutdown,
) -> Result<(), Report> {
    Err(Report::usage(
        "serve --pools --zeroconf: this tidepool was built without the zeroconf feature",
    ))
}
