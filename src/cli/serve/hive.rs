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

    /// 0 (the default): every acknowledged write is durable; N: non-durable
    /// commits and a durable checkpoint every N seconds (wrpme's mode; a crash
    /// loses up to N s).
    #[arg(
        id = "hive_flush_interval",
        long = "flush-interval",
        value_name = "SECONDS"
    )]
    pub flush_interval: Option<u64>,

    /// Most bytes (alias + content) resident in the cache [default: 1073741824].
    #[arg(
        id = "hive_limiter_max_bytes",
        long = "limiter-max-bytes",
        value_name = "BYTES"
    )]
    pub limiter_max_bytes: Option<u64>,

    /// Most entries resident in the cache [default: 1000].
    #[arg(
        id = "hive_limiter_max_entries",
        long = "limiter-max-entries-count",
        value_name = "N"
    )]
    pub limiter_max_entries_count: Option<u64>,

    /// Content cap, also the RESP bulk-length cap [default: 536870912].
    #[arg(
        id = "hive_max_entry_bytes",
        long = "max-entry-bytes",
        value_name = "BYTES"
    )]
    pub max_entry_bytes: Option<u64>,

    /// Simultaneous clients; values under 50 are raised to 50, as wrpme did [default: 200].
    #[arg(id = "hive_max_clients", long = "max-clients", value_name = "N")]
    pub max_clients: Option<usize>,

    /// Inline command line cap, Redis's PROTO_INLINE_MAX_SIZE [default: 65536].
    #[arg(
        id = "hive_proto_inline_max",
        long = "proto-inline-max",
        value_name = "BYTES"
    )]
    pub proto_inline_max: Option<usize>,

    /// Unparsed input allowed per connection before it is closed [default: 1073741824].
    #[arg(
        id = "hive_query_buffer_limit",
        long = "client-query-buffer-limit",
        value_name = "BYTES"
    )]
    pub client_query_buffer_limit: Option<usize>,

    /// Most operations in one group commit [default: 4096].
    #[arg(
        id = "hive_gc_max_ops",
        long = "group-commit-max-ops",
        value_name = "N"
    )]
    pub group_commit_max_ops: Option<usize>,

    /// Most content bytes in one group commit [default: 67108864].
    #[arg(
        id = "hive_gc_max_bytes",
        long = "group-commit-max-bytes",
        value_name = "BYTES"
    )]
    pub group_commit_max_bytes: Option<u64>,

    /// Require AUTH with this password (as Redis's requirepass).
    #[arg(
        id = "hive_requirepass",
        long = "requirepass",
        value_name = "PASSWORD",
        env = "TIDEPOOL_HIVE_REQUIREPASS"
    )]
    pub requirepass: Option<String>,

    /// TLS certificate chain (PEM); with --hive-tls-key the port speaks TLS only.
    #[arg(id = "hive_tls_cert", long = "hive-tls-cert", value_name = "PEM")]
    pub tls_cert: Option<PathBuf>,

    /// TLS private key (PEM).
    #[arg(id = "hive_tls_key", long = "hive-tls-key", value_name = "PEM")]
    pub tls_key: Option<PathBuf>,

    /// Storage: `embedded` (redb) or `redis` (proxy to --redis-url) [default: embedded].
    #[arg(id = "hive_backend", long = "hive-backend", value_name = "KIND")]
    pub backend: Option<String>,

    /// Redis target for --hive-backend redis: redis://…, rediss://…, or
    /// redis+cluster://host:port,host:port.
    #[arg(id = "hive_redis_url", long = "redis-url", value_name = "URL")]
    pub redis_url: Option<String>,

    /// With --hive-backend redis: follow every write with `WAIT N` so it returns
    /// only once N replicas have it (fewer within --redis-wait-timeout: `timeout (10)`)
    /// [default: 0, no WAIT].
    #[arg(
        id = "hive_redis_wait_replicas",
        long = "redis-wait-replicas",
        value_name = "N"
    )]
    pub redis_wait_replicas: Option<u32>,

    /// How long a write waits for --redis-wait-replicas, in ms [default: 1000].
    #[arg(
        id = "hive_redis_wait_timeout",
        long = "redis-wait-timeout",
        value_name = "MS"
    )]
    pub redis_wait_timeout: Option<u64>,

    /// Run the hive server on its own runtime with N worker threads
    /// [default: the runtime shared by every engine, one worker per core].
    #[arg(id = "hive_io_threads", long = "io-threads", value_name = "N")]
    pub io_threads: Option<usize>,

    /// Log level of the server: wrpme's detailed, debug, info, warning, error,
    /// panic (or trace, warn); overrides TIDEPOOL_LOG [default: info].
    #[arg(id = "hive_log_level", long = "log-level", value_name = "LEVEL")]
    pub log_level: Option<String>,

    /// wrpme's ring membership: not supported, refused with invalid_option (6);
    /// scale out with --hive-backend redis --redis-url redis+cluster://….
    #[arg(id = "hive_peer", long = "peer", value_name = "ADDR:PORT")]
    pub peer: Option<String>,
}

/// The default data directory: the platform data dir, `tidepool/hive`.
pub fn default_data_dir() -> PathBuf {
    directories::ProjectDirs::from("", "", "tidepool")
        .map(|d| d.data_dir().join("hive"))
        .unwrap_or_else(|| PathBuf::from("tidepool-hive"))
}

/// The `[hive]` table of the config file: the flag names with `_` for `-` and
/// without the `hive-` engine prefix (`data`, `backend`, `tls_cert`, …).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct FileTable {
    listen: Option<String>,
    data: Option<PathBuf>,
    transient: Option<bool>,
    flush_interval: Option<u64>,
    limiter_max_bytes: Option<u64>,
    limiter_max_entries_count: Option<u64>,
    max_entry_bytes: Option<u64>,
    max_clients: Option<usize>,
    proto_inline_max: Option<usize>,
    client_query_buffer_limit: Option<usize>,
    group_commit_max_ops: Option<usize>,
    group_commit_max_bytes: Option<u64>,
    requirepass: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    backend: Option<String>,
    redis_url: Option<String>,
    redis_wait_replicas: Option<u32>,
    redis_wait_timeout: Option<u64>,
    io_threads: Option<usize>,
    log_level: Option<String>,
    peer: Option<toml::Value>,
}

/// Keys the `[hive]` table knows; anything else is reported.
pub const FILE_KEYS: &[&str] = &[
    "listen",
    "data",
    "transient",
    "flush_interval",
    "limiter_max_bytes",
    "limiter_max_entries_count",
    "max_entry_bytes",
    "max_clients",
    "proto_inline_max",
    "client_query_buffer_limit",
    "group_commit_max_ops",
    "group_commit_max_bytes",
    "requirepass",
    "tls_cert",
    "tls_key",
    "backend",
    "redis_url",
    "redis_wait_replicas",
    "redis_wait_timeout",
    "io_threads",
    "log_level",
    "peer",
];

/// The hive server's settings once flags, the `[hive]` table of the config file
/// and the defaults are merged (flags win over the file, the file over defaults).
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Listen address as given (parsed by `listen_addr`).
    pub listen: Option<String>,
    /// Directory of hive.redb.
    pub data: PathBuf,
    /// Durability mode.
    pub durability: Durability,
    /// Limiter bounds.
    pub limiter_max_bytes: u64,
    /// Limiter bounds.
    pub limiter_max_entries_count: u64,
    /// Content and bulk cap.
    pub max_entry_bytes: u64,
    /// Client cap (at least 50).
    pub max_clients: usize,
    /// Inline line cap.
    pub proto_inline_max: usize,
    /// Unparsed input cap.
    pub client_query_buffer_limit: usize,
    /// Group-commit bounds.
    pub group_commit_max_ops: usize,
    /// Group-commit bounds.
    pub group_commit_max_bytes: u64,
    /// AUTH password.
    pub requirepass: Option<String>,
    /// TLS certificate and key.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// `embedded` or `redis`.
    pub backend: String,
    /// Redis target.
    pub redis_url: Option<String>,
    /// Replicas every write waits for (0: no WAIT).
    pub redis_wait_replicas: u32,
    /// How long the WAIT may take.
    pub redis_wait_timeout: Duration,
    /// Worker threads of a dedicated runtime (None: the shared one).
    pub io_threads: Option<usize>,
    /// `tracing` filter directive from `--log-level` (None: TIDEPOOL_LOG or info).
    pub log_level: Option<String>,
}

fn invalid_option(name: &str, why: impl std::fmt::Display) -> Report {
    Report::usage(format!("hive: invalid_option (6) {name}: {why}"))
}

/// Maps wrpme's log levels (and `tracing`'s own names) to a `tracing` level.
pub fn log_directive(level: &str) -> Option<&'static str> {
    Some(match level.to_ascii_lowercase().as_str() {
        "detailed" | "trace" => "trace",
        "debug" => "debug",
        "info" => "info",
        "warning" | "warn" => "warn",
        "error" | "panic" => "error",
        _ => return None,
    })
}

/// Reads the `[hive]` table of the config file (`--config`, or the default
/// path when it exists). Returns the table and one warning per unknown key.
fn file_table(global: &crate::cli::Global) -> Result<(FileTable, Vec<String>), Report> {
    let (path, explicit) = match &global.config {
        Some(p) => (p.clone(), true),
        None => match crate::tui::config::default_path() {
            Some(p) => (p, false),
            None => return Ok((FileTable::default(), Vec::new())),
        },
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if !explicit && e.kind() == std::io::ErrorKind::NotFound => {
            return Ok((FileTable::default(), Vec::new()))
        }
        Err(e) => {
            return Err(Report::from(e).context(format!("config {}", path.display())));
        }
    };
    parse_table(&text, &path.display().to_string())
}

fn parse_table(text: &str, origin: &str) -> Result<(FileTable, Vec<String>), Report> {
    let bad = |m: String| {
        Report::usage(format!(
            "config {origin}: {}",
            m.trim_end().replace('\n', " ")
        ))
    };
    let mut doc: toml::Table = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
    let Some(value) = doc.remove("hive") else {
        return Ok((FileTable::default(), Vec::new()));
    };
    let toml::Value::Table(table) = value else {
        return Err(bad("[hive] must be a table".into()));
    };
    let warnings = table
        .keys()
        .filter(|k| !FILE_KEYS.contains(&k.as_str()))
        .map(|k| {
            format!(
                "config {origin}: [hive] unknown key {k:?} (known: {})",
                FILE_KEYS.join(", ")
            )
        })
        .collect();
    let parsed: FileTable = toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| bad(format!("[hive] {e}")))?;
    Ok((parsed, warnings))
}

impl Settings {
    /// Merges `opts` over the config file's `[hive]` table over the defaults,
    /// printing a warning for each unknown key of the table.
    pub fn resolve(global: &crate::cli::Global, opts: &Opts) -> Result<Settings, Report> {
        let (file, warnings) = file_table(global)?;
        for w in &warnings {
            tracing::warn!("{w}");
            eprintln!("warning: {w}");
        }
        Settings::merge(opts, file)
    }

    /// Merges flags over a parsed `[hive]` table (config text, for tests).
    pub fn from_config_text(opts: &Opts, text: &str) -> Result<(Settings, Vec<String>), Report> {
        let (file, warnings) = parse_table(text, "<text>")?;
        Ok((Settings::merge(opts, file)?, warnings))
    }

    fn merge(opts: &Opts, f: FileTable) -> Result<Settings, Report> {
        if let Some(peer) = opts.peer.as_deref() {
            return Err(invalid_option(
                "--peer",
                format!("{peer}: the hive has no peer-to-peer ring; scale out with --hive-backend redis --redis-url redis+cluster://…"),
            ));
        }
        if f.peer.is_some() {
            return Err(invalid_option(
                "peer",
                "the hive has no peer-to-peer ring; scale out with backend = \"redis\" and a redis+cluster:// redis_url",
            ));
        }
        let transient = opts.transient || f.transient.unwrap_or(false);
        let flush_interval = opts.flush_interval.or(f.flush_interval).unwrap_or(0);
        if transient && flush_interval > 0 {
            return Err(invalid_option(
                "--flush-interval",
                "cannot be combined with --transient (no file to flush)",
            ));
        }
        let durability = if transient {
            Durability::Transient
        } else if flush_interval > 0 {
            Durability::Interval(Duration::from_secs(flush_interval))
        } else {
            Durability::Immediate
        };
        let tls = match (
            opts.tls_cert.clone().or(f.tls_cert),
            opts.tls_key.clone().or(f.tls_key),
        ) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => {
                return Err(Report::usage(
                    "hive: --hive-tls-cert and --hive-tls-key go together",
                ))
            }
        };
        let backend = opts
            .backend
            .clone()
            .or(f.backend)
            .unwrap_or_else(|| "embedded".into());
        if backend != "embedded" && backend != "redis" {
            return Err(invalid_option(
                "--hive-backend",
                format!("{backend:?}, expected embedded or redis"),
            ));
        }
        let io_threads = opts.io_threads.or(f.io_threads);
        if io_threads == Some(0) {
            return Err(invalid_option("--io-threads", "must be at least 1"));
        }
        let log_level = match opts.log_level.clone().or(f.log_level) {
            None => None,
            Some(l) => Some(
                log_directive(&l)
                    .ok_or_else(|| {
                        invalid_option(
                            "--log-level",
                            format!(
                                "{l:?}, expected detailed, debug, info, warning, error or panic"
                            ),
                        )
                    })?
                    .to_string(),
            ),
        };
        let redis_wait_replicas = opts
            .redis_wait_replicas
            .or(f.redis_wait_replicas)
            .unwrap_or(0);
        if redis_wait_replicas > 0 && backend != "redis" {
            return Err(invalid_option(
                "--redis-wait-replicas",
                "only with --hive-backend redis",
            ));
        }
        Ok(Settings {
            listen: opts.listen.clone().or(f.listen),
            data: opts
                .data
                .clone()
                .or(f.data)
                .unwrap_or_else(default_data_dir),
            durability,
            limiter_max_bytes: opts
                .limiter_max_bytes
                .or(f.limiter_max_bytes)
                .unwrap_or(1_073_741_824),
            limiter_max_entries_count: opts
                .limiter_max_entries_count
                .or(f.limiter_max_entries_count)
                .unwrap_or(1_000),
            max_entry_bytes: opts
                .max_entry_bytes
                .or(f.max_entry_bytes)
                .unwrap_or(DEFAULT_MAX_ENTRY_BYTES),
            max_clients: opts.max_clients.or(f.max_clients).unwrap_or(200).max(50),
            proto_inline_max: opts
                .proto_inline_max
                .or(f.proto_inline_max)
                .unwrap_or(65_536),
            client_query_buffer_limit: opts
                .client_query_buffer_limit
                .or(f.client_query_buffer_limit)
                .unwrap_or(1_073_741_824),
            group_commit_max_ops: opts
                .group_commit_max_ops
                .or(f.group_commit_max_ops)
                .unwrap_or(4_096),
            group_commit_max_bytes: opts
                .group_commit_max_bytes
                .or(f.group_commit_max_bytes)
                .unwrap_or(67_108_864),
            requirepass: opts.requirepass.clone().or(f.requirepass),
            tls,
            redis_url: opts.redis_url.clone().or(f.redis_url),
            backend,
            redis_wait_replicas,
            redis_wait_timeout: Duration::from_millis(
                opts.redis_wait_timeout
                    .or(f.redis_wait_timeout)
                    .unwrap_or(1_000),
            ),
            io_threads,
            log_level,
        })
    }
}

/// Builds the backend the settings describe.
pub async fn backend(s: &Settings) -> Result<Backend, Report> {
    match s.backend.as_str() {
        "redis" => {
            let url = s.redis_url.as_deref().ok_or_else(|| {
                Report::usage("serve --hive-backend redis: --redis-url is required")
            })?;
            let r = RedisHive::connect(url)
                .await
                .map_err(|e| Report::from_error(crate::error::Exit::Failure, &e))?
                .with_wait_replicas(s.redis_wait_replicas, s.redis_wait_timeout);
            Ok(Backend::Redis(r))
        }
        _ => {
            let config = StoreConfig {
                durability: s.durability,
                limiter_max_bytes: s.limiter_max_bytes,
                limiter_max_entries_count: s.limiter_max_entries_count,
                max_entry_bytes: s.max_entry_bytes,
                group_commit_max_ops: s.group_commit_max_ops,
                group_commit_max_bytes: s.group_commit_max_bytes,
                ..StoreConfig::new(s.data.clone())
            };
            let store = Store::open(config)
                .map_err(|e| Report::from_error(crate::error::Exit::Failure, &e))?;
            Ok(Backend::Embedded(store))
        }
    }
}

/// Binds the hive server and spawns it on `shutdown`; returns once it listens.
/// With `--io-threads N` the server runs on a runtime of its own, returned so
/// the caller keeps it alive and shuts it down outside async context.
pub async fn start(
    settings: &Settings,
    shutdown: &crate::net::shutdown::Shutdown,
) -> Result<Option<tokio::runtime::Runtime>, Report> {
    let Some(threads) = settings.io_threads else {
        start_here(settings.clone(), shutdown.clone()).await?;
        return Ok(None);
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name("hive-io")
        .enable_all()
        .build()
        .map_err(|e| Report::from_error(crate::error::Exit::Failure, &e).context("hive runtime"))?;
    // everything the server spawns (connections, the expiry sweep) lands on the
    // runtime that runs `start_here`
    let started = runtime
        .spawn(start_here(settings.clone(), shutdown.clone()))
        .await;
    match started {
        Ok(Ok(())) => Ok(Some(runtime)),
        Ok(Err(report)) => {
            runtime.shutdown_background();
            Err(report)
        }
        Err(e) => {
            runtime.shutdown_background();
            Err(Report::failure(format!("hive: start-up task failed: {e}")))
        }
    }
}

async fn start_here(
    s: Settings,
    shutdown: crate::net::shutdown::Shutdown,
) -> Result<(), crate::error::Report> {
    let addr = super::listen_addr(s.listen.as_deref(), DEFAULT_PORT)?;
    let tls = match &s.tls {
        Some((cert, key)) => Some(crate::net::tls::server_config(cert, key, None).map_err(
            |e| Report::from_error(crate::error::Exit::Failure, &e).context("hive tls"),
        )?),
        None => None,
    };
    super::warn_if_exposed("hive", addr, tls.is_some() || s.requirepass.is_some());
    let backend = backend(&s).await?;
    if let Backend::Embedded(store) = &backend {
        let c = store.config();
        eprintln!(
            "hive: durability {}, limiter-max-bytes {}, limiter-max-entries-count {}",
            c.durability.label(),
            c.limiter_max_bytes,
            c.limiter_max_entries_count
        );
    }
    if let Some(n) = s.io_threads {
        eprintln!("hive: own runtime, {n} io threads");
    }
    let listener = Listener::bind_tcp(addr).await.map_err(|e| {
        Report::from_error(crate::error::Exit::Failure, &e).context(format!("hive: bind {addr}"))
    })?;
    let config = ServerConfig {
        requirepass: s.requirepass.clone(),
        max_clients: s.max_clients,
        max_entry_bytes: s.max_entry_bytes,
        inline_max: s.proto_inline_max,
        query_buffer_limit: s.client_query_buffer_limit,
        tls,
        ..ServerConfig::default()
    };
    let server = io::start(listener, backend, config, &shutdown)
        .map_err(|e| Report::from_error(crate::error::Exit::Failure, &e).context("hive"))?;
    // tests and scripts read the real port from this line when binding port 0
    eprintln!("hive: listening on {}", server.local_addr());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(args: &[&str]) -> Opts {
        let cli =
            crate::cli::parse(["tidepool", "serve", "--hive"].iter().chain(args)).expect("parses");
        match cli.command {
            Some(crate::cli::Command::Serve(a)) => a.hive,
            _ => unreachable!("serve was parsed"),
        }
    }

    #[test]
    fn peer_flag_is_refused_with_invalid_option() {
        let e = Settings::from_config_text(&opts(&["--peer", "10.0.0.2:5909"]), "")
            .expect_err("refused");
        assert!(e.to_string().contains("invalid_option (6)"), "{e}");
        assert_eq!(e.exit, crate::error::Exit::Usage);
        let e = Settings::from_config_text(&opts(&[]), "[hive]\npeer = \"h:1\"\n")
            .expect_err("refused in the file too");
        assert!(e.to_string().contains("invalid_option (6) peer"), "{e}");
    }

    #[test]
    fn config_table_fills_what_flags_leave_unset() {
        let text = "[hive]\nlimiter_max_bytes = 4096\nmax_clients = 80\nflush_interval = 5\nio_threads = 3\nlog_level = \"warning\"\nlisten = \"127.0.0.1:7000\"\n";
        let (s, w) =
            Settings::from_config_text(&opts(&["--max-clients", "120"]), text).expect("merges");
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(s.limiter_max_bytes, 4096);
        assert_eq!(s.max_clients, 120, "the flag wins over the file");
        assert_eq!(s.durability, Durability::Interval(Duration::from_secs(5)));
        assert_eq!(s.io_threads, Some(3));
        assert_eq!(s.log_level.as_deref(), Some("warn"));
        assert_eq!(s.listen.as_deref(), Some("127.0.0.1:7000"));
        assert_eq!(s.limiter_max_entries_count, 1_000, "default kept");
    }

    #[test]
    fn defaults_without_a_config_table() {
        let (s, _) = Settings::from_config_text(&opts(&[]), "theme = \"dark\"\n").expect("ok");
        assert_eq!(s.durability, Durability::Immediate);
        assert_eq!(s.limiter_max_bytes, 1_073_741_824);
        assert_eq!(s.max_entry_bytes, DEFAULT_MAX_ENTRY_BYTES);
        assert_eq!(s.backend, "embedded");
        assert_eq!(s.io_threads, None);
        assert_eq!(s.redis_wait_replicas, 0);
    }

    #[test]
    fn unknown_config_keys_are_reported() {
        let (_, w) = Settings::from_config_text(&opts(&[]), "[hive]\nlimter_max_bytes = 1\n")
            .expect("still starts");
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("\"limter_max_bytes\""), "{w:?}");
    }

    #[test]
    fn bad_config_values_name_the_key() {
        let e = Settings::from_config_text(&opts(&[]), "[hive]\nmax_clients = \"many\"\n")
            .expect_err("bad type");
        assert!(e.to_string().contains("max_clients"), "{e}");
    }

    #[test]
    fn log_levels_follow_wrpme_names() {
        for (wrpme, tracing) in [
            ("detailed", "trace"),
            ("debug", "debug"),
            ("info", "info"),
            ("warning", "warn"),
            ("error", "error"),
            ("panic", "error"),
        ] {
            assert_eq!(log_directive(wrpme), Some(tracing));
        }
        let e = Settings::from_config_text(&opts(&["--log-level", "loud"]), "").expect_err("bad");
        assert!(
            e.to_string().contains("invalid_option (6) --log-level"),
            "{e}"
        );
    }

    #[test]
    fn io_threads_and_wait_replicas_are_checked() {
        assert!(Settings::from_config_text(&opts(&["--io-threads", "0"]), "").is_err());
        let e = Settings::from_config_text(&opts(&["--redis-wait-replicas", "1"]), "")
            .expect_err("embedded has no replicas");
        assert!(e.to_string().contains("--redis-wait-replicas"), "{e}");
        let (s, _) = Settings::from_config_text(
            &opts(&[
                "--hive-backend",
                "redis",
                "--redis-url",
                "redis://127.0.0.1:1",
                "--redis-wait-replicas",
                "2",
            ]),
            "",
        )
        .expect("ok with redis");
        assert_eq!(s.redis_wait_replicas, 2);
        assert_eq!(s.redis_wait_timeout, Duration::from_secs(1));
    }
}
