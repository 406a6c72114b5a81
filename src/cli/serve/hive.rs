//! `tidepool serve --hive`: the RESP front door (hive spec sections 5 and 8).

use std::path::PathBuf;
use std::time::Duration;

use crate::engine::hive::io::{self, Config as ServerConfig};
use crate::engine::hive::redis::RedisHive;
use crate::engine::hive::store::{Config as StoreConfig, Durability, Store};
use crate::engine::hive::{Backend, DEFAULT_MAX_ENTRY_BYTES, DEFAULT_PORT};
use crate::error::Report;
use crate::net::transport::Listener;

/// Options of the hive server.
#[derive(Debug, Clone, Default, clap::Args)]
#[group(id = "hive_opts")]
pub struct Opts {
    /// Serve hive.
    #[arg(id = "serve_hive", long = "hive")]
    pub enabled: bool,

    /// Listen address of the hive server (default 127.0.0.1:5909).
    #[arg(id = "hive_listen", long = "hive-listen", value_name = "ADDR:PORT")]
    pub listen: Option<String>,

    /// Directory holding hive.redb (default: the platform data dir, tidepool/hive).
    #[arg(id = "hive_data", long = "hive-data", value_name = "DIR")]
    pub data: Option<PathBuf>,

    /// No file: the limiter cache is the whole store and eviction deletes.
    #[arg(id = "hive_transient", long = "transient")]
    pub transient: bool,

    /// 0: every acknowledged write is durable; N: non-durable commits and a
    /// durable checkpoint every N seconds (wrpme's mode; a crash loses up to N s).
    #[arg(
        id = "hive_flush_interval",
        long = "flush-interval",
        value_name = "SECONDS",
        default_value_t = 0
    )]
    pub flush_interval: u64,

    /// Most bytes (alias + content) resident in the cache.
    #[arg(
        id = "hive_limiter_max_bytes",
        long = "limiter-max-bytes",
        value_name = "BYTES",
        default_value_t = 1_073_741_824
    )]
    pub limiter_max_bytes: u64,

    /// Most entries resident in the cache.
    #[arg(
        id = "hive_limiter_max_entries",
        long = "limiter-max-entries-count",
        value_name = "N",
        default_value_t = 1_000
    )]
    pub limiter_max_entries_count: u64,

    /// Content cap, also the RESP bulk-length cap.
    #[arg(
        id = "hive_max_entry_bytes",
        long = "max-entry-bytes",
        value_name = "BYTES",
        default_value_t = DEFAULT_MAX_ENTRY_BYTES
    )]
    pub max_entry_bytes: u64,

    /// Simultaneous clients (values under 50 are raised to 50, as wrpme did).
    #[arg(
        id = "hive_max_clients",
        long = "max-clients",
        value_name = "N",
        default_value_t = 200
    )]
    pub max_clients: usize,

    /// Inline command line cap (Redis PROTO_INLINE_MAX_SIZE).
    #[arg(
        id = "hive_proto_inline_max",
        long = "proto-inline-max",
        value_name = "BYTES",
        default_value_t = 65_536
    )]
    pub proto_inline_max: usize,

    /// Unparsed input allowed per connection before it is closed.
    #[arg(
        id = "hive_query_buffer_limit",
        long = "client-query-buffer-limit",
        value_name = "BYTES",
        default_value_t = 1_073_741_824
    )]
    pub client_query_buffer_limit: usize,

    /// Most operations in one group commit.
    #[arg(
        id = "hive_gc_max_ops",
        long = "group-commit-max-ops",
        value_name = "N",
        default_value_t = 4_096
    )]
    pub group_commit_max_ops: usize,

    /// Most content bytes in one group commit.
    #[arg(
        id = "hive_gc_max_bytes",
        long = "group-commit-max-bytes",
        value_name = "BYTES",
        default_value_t = 67_108_864
    )]
    pub group_commit_max_bytes: u64,

    /// Require AUTH with this password (as Redis's requirepass).
    #[arg(
        id = "hive_requirepass",
        long = "requirepass",
        value_name = "PASSWORD",
        env = "TIDEPOOL_HIVE_REQUIREPASS"
    )]
    pub requirepass: Option<String>,

    /// TLS certificate chain (PEM); with --hive-tls-key the port speaks TLS only.
    #[arg(
        id = "hive_tls_cert",
        long = "hive-tls-cert",
        value_name = "PEM",
        requires = "hive_tls_key"
    )]
    pub tls_cert: Option<PathBuf>,

    /// TLS private key (PEM).
    #[arg(
        id = "hive_tls_key",
        long = "hive-tls-key",
        value_name = "PEM",
        requires = "hive_tls_cert"
    )]
    pub tls_key: Option<PathBuf>,

    /// Storage: `embedded` (redb) or `redis` (proxy to --redis-url).
    #[arg(
        id = "hive_backend",
        long = "hive-backend",
        value_name = "KIND",
        default_value = "embedded"
    )]
    pub backend: String,

    /// Redis target for --hive-backend redis: redis://…, rediss://…, or
    /// redis+cluster://host:port,host:port.
    #[arg(id = "hive_redis_url", long = "redis-url", value_name = "URL")]
    pub redis_url: Option<String>,
}

/// The default data directory: the platform data dir, `tidepool/hive`.
pub fn default_data_dir() -> PathBuf {
    directories::ProjectDirs::from("", "", "tidepool")
        .map(|d| d.data_dir().join("hive"))
        .unwrap_or_else(|| PathBuf::from("tidepool-hive"))
}

/// Builds the backend the options describe.
pub async fn backend(opts: &Opts) -> Result<Backend, Report> {
    match opts.backend.as_str() {
        "embedded" => {
            let durability = if opts.transient {
                Durability::Transient
            } else if opts.flush_interval > 0 {
                Durability::Interval(Duration::from_secs(opts.flush_interval))
            } else {
                Durability::Immediate
            };
            let config = StoreConfig {
                durability,
                limiter_max_bytes: opts.limiter_max_bytes,
                limiter_max_entries_count: opts.limiter_max_entries_count,
                max_entry_bytes: opts.max_entry_bytes,
                group_commit_max_ops: opts.group_commit_max_ops,
                group_commit_max_bytes: opts.group_commit_max_bytes,
                ..StoreConfig::new(opts.data.clone().unwrap_or_else(default_data_dir))
            };
            let store = Store::open(config)
                .map_err(|e| Report::from_error(crate::error::Exit::Failure, &e))?;
            Ok(Backend::Embedded(store))
        }
        "redis" => {
            let url = opts.redis_url.as_deref().ok_or_else(|| {
                Report::usage("serve --hive-backend redis: --redis-url is required")
            })?;
            let r = RedisHive::connect(url)
                .await
                .map_err(|e| Report::from_error(crate::error::Exit::Failure, &e))?;
            Ok(Backend::Redis(r))
        }
        other => Err(Report::usage(format!(
            "--hive-backend {other:?}: invalid_option (6), expected embedded or redis"
        ))),
    }
}

/// Binds the hive server and spawns it on `shutdown`; returns once it listens.
pub async fn start(
    _global: &crate::cli::Global,
    opts: &Opts,
    shutdown: &crate::net::shutdown::Shutdown,
) -> Result<(), crate::error::Report> {
    let addr = super::listen_addr(opts.listen.as_deref(), DEFAULT_PORT)?;
    let tls = match (&opts.tls_cert, &opts.tls_key) {
        (Some(cert), Some(key)) => Some(crate::net::tls::server_config(cert, key, None).map_err(
            |e| Report::from_error(crate::error::Exit::Failure, &e).context("hive tls"),
        )?),
        _ => None,
    };
    super::warn_if_exposed("hive", addr, tls.is_some() || opts.requirepass.is_some());
    let backend = backend(opts).await?;
    if let Backend::Embedded(store) = &backend {
        let c = store.config();
        eprintln!(
            "hive: durability {}, limiter-max-bytes {}, limiter-max-entries-count {}",
            c.durability.label(),
            c.limiter_max_bytes,
            c.limiter_max_entries_count
        );
    }
    let listener = Listener::bind_tcp(addr).await.map_err(|e| {
        Report::from_error(crate::error::Exit::Failure, &e).context(format!("hive: bind {addr}"))
    })?;
    let config = ServerConfig {
        requirepass: opts.requirepass.clone(),
        max_clients: opts.max_clients.max(50),
        max_entry_bytes: opts.max_entry_bytes,
        inline_max: opts.proto_inline_max,
        query_buffer_limit: opts.client_query_buffer_limit,
        tls,
        ..ServerConfig::default()
    };
    let server = io::start(listener, backend, config, shutdown)
        .map_err(|e| Report::from_error(crate::error::Exit::Failure, &e).context("hive"))?;
    // tests and scripts read the real port from this line when binding port 0
    eprintln!("hive: listening on {}", server.local_addr());
    Ok(())
}
