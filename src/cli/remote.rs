//! The pool commands on `tcp://host[:port]/pool` (and `tcps://`, `tcpo://`)
//! names: `deposit`, `nth`, `tail` and `pool ls|create|rm|info|rename|resize`
//! dispatch here when given a URI, so local and remote pools take the same
//! command lines (plasma spec 9: every pool argument accepts a URI).
//!
//! TLS trust: `--ca PEM`, else `TIDEPOOL_CA` (a PEM file), else
//! `certificate-authorities.pem` along `OB_ETC_PATH` as libPlasma does, else
//! the system roots. Client certificates (mutual TLS): `--client-cert` and
//! `--client-key`, else `client-certificate-chain.pem` +
//! `client-private-key.pem` along `OB_ETC_PATH`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;

use crate::cli::pool::Command;
use crate::cli::Global;
use crate::engine::pool::io::{From, TailItem};
use crate::engine::pool::Entry;
use crate::engine::pool_tcp::io::{is_uri, Client, ClientOptions, PoolUri};
use crate::engine::pool_tcp::{self, Retort};
use crate::engine::slaw::Slaw;
use crate::error::{Exit, Report};
use crate::net::tls::Trust;

pub use crate::engine::pool_tcp::io::is_uri as is_remote;

fn etc_file(name: &str) -> Option<PathBuf> {
    let dirs: Vec<PathBuf> = match std::env::var_os("OB_ETC_PATH") {
        Some(p) => std::env::split_paths(&p).collect(),
        None => {
            let mut v = Vec::new();
            if let Some(h) = std::env::var_os("HOME") {
                v.push(Path::new(&h).join(".oblong/etc"));
            }
            v.push(PathBuf::from("/etc/oblong"));
            v
        }
    };
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

/// TLS flags of the commands that take `tcps://` / `tcpo://` pools.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TlsArgs {
    /// Trust only the certificates of this PEM file for tcps:// servers
    /// (default: TIDEPOOL_CA, else certificate-authorities.pem along OB_ETC_PATH,
    /// else the system roots).
    #[arg(long = "ca", value_name = "PEM", global = true)]
    pub ca: Option<PathBuf>,

    /// Client certificate chain (PEM) for servers that require one
    /// (default: client-certificate-chain.pem along OB_ETC_PATH).
    #[arg(
        long = "client-cert",
        value_name = "PEM",
        global = true,
        requires = "client_key"
    )]
    pub client_cert: Option<PathBuf>,

    /// Private key (PEM) of --client-cert
    /// (default: client-private-key.pem along OB_ETC_PATH).
    #[arg(
        long = "client-key",
        value_name = "PEM",
        global = true,
        requires = "client_cert"
    )]
    pub client_key: Option<PathBuf>,
}

/// `tidepool pool …`: the subcommand plus the TLS flags its URIs use.
#[derive(Debug, clap::Args)]
pub struct PoolArgs {
    /// The pool subcommand.
    #[command(subcommand)]
    pub command: Command,

    /// TLS for tcps:// and tcpo:// pools and servers.
    #[command(flatten)]
    pub tls: TlsArgs,
}

/// Client options from the flags, falling back to the environment as
/// libPlasma does. A flag naming a missing file is a usage error (exit 2)
/// before any connection is tried.
pub fn client_options(tls: &TlsArgs) -> Result<ClientOptions, Report> {
    for path in [&tls.ca, &tls.client_cert, &tls.client_key]
        .into_iter()
        .flatten()
    {
        if !path.is_file() {
            return Err(Report::usage(format!("{}: no such file", path.display())));
        }
    }
    let trust = tls
        .ca
        .clone()
        .or_else(|| std::env::var_os("TIDEPOOL_CA").map(PathBuf::from))
        .or_else(|| etc_file("certificate-authorities.pem"))
        .map(Trust::CaFile)
        .unwrap_or(Trust::System);
    let client_cert = match (&tls.client_cert, &tls.client_key) {
        (Some(c), Some(k)) => Some((c.clone(), k.clone())),
        _ => etc_file("client-certificate-chain.pem").zip(etc_file("client-private-key.pem")),
    };
    Ok(ClientOptions {
        trust,
        client_cert,
        ..ClientOptions::default()
    })
}

fn uri(s: &str) -> Result<PoolUri, Report> {
    s.parse::<PoolUri>()
        .map_err(|e| Report::from_error(Exit::Usage, &e))
}

fn transport(e: pool_tcp::Error) -> Report {
    Report::from_error(Exit::Failure, &e)
}

fn remote(what: &str, r: Retort) -> Report {
    Report::new(Exit::Remote, format!("{what}: {r}"))
}

fn need_pool(u: &PoolUri) -> Result<(), Report> {
    if u.pool.is_empty() {
        return Err(Report::usage(format!("{u}: no pool name after the host")));
    }
    Ok(())
}

async fn hose(u: &PoolUri, opts: &ClientOptions) -> Result<Client, Report> {
    need_pool(u)?;
    Client::connect(u, opts)
        .await
        .map_err(transport)?
        .participate_into(&u.pool)
        .await
}

trait ParticipateInto {
    async fn participate_into(self, pool: &str) -> Result<Client, Report>;
}

impl ParticipateInto for Client {
    async fn participate_into(mut self, pool: &str) -> Result<Client, Report> {
        match self.participate(pool, None).await.map_err(transport)? {
            Ok(_) => Ok(self),
            Err(r) => Err(remote(&format!("pool {pool:?}"), r)),
        }
    }
}

/// `tidepool deposit tcp://…`: deposits each protein `count` times.
pub fn deposit(
    pool: &str,
    proteins: Vec<Vec<u8>>,
    count: u64,
    verbose: bool,
    tls: &TlsArgs,
) -> Result<(), Report> {
    let u = uri(pool)?;
    let opts = client_options(tls)?;
    crate::cli::runtime()?.block_on(async move {
        let mut c = hose(&u, &opts).await?;
        let proteins: Vec<Bytes> = proteins.into_iter().map(Bytes::from).collect();
        for _ in 0..count {
            for p in &proteins {
                match c.deposit(p.clone()).await.map_err(transport)? {
                    Ok((idx, ts)) => {
                        if verbose {
                            println!("deposited index {idx} at time {ts:.6} ({} bytes)", p.len());
                        }
                    }
                    Err(r) => return Err(remote(&format!("deposit to {u}"), r)),
                }
            }
        }
        Ok(())
    })
}

/// `tidepool nth tcp://… INDEX`: the entry (negative counts back from the newest).
pub fn nth(pool: &str, index: i64, tls: &TlsArgs) -> Result<Entry, Report> {
    let u = uri(pool)?;
    let opts = client_options(tls)?;
    crate::cli::runtime()?.block_on(async move {
        let mut c = hose(&u, &opts).await?;
        let idx = if index < 0 {
            let newest = c.newest_index().await.map_err(transport)?.unwrap_or(-1);
            newest + 1 + index
        } else {
            index
        };
        match c.nth(idx).await.map_err(transport)? {
            Ok(f) => Ok(Entry {
                index: idx,
                timestamp: f.timestamp,
                protein: f.protein.to_vec(),
            }),
            Err(r) => Err(remote(&format!("{u} index {idx}"), r)),
        }
    })
}

/// A tail of any pool argument, local or remote, as one stream type.
pub fn tail_stream(
    pools: &crate::engine::pool::Pools,
    name: &str,
    from: From,
    cap: usize,
    follow: bool,
    tls: &TlsArgs,
) -> Result<futures::stream::BoxStream<'static, (Arc<str>, TailItem)>, Report> {
    let label: Arc<str> = Arc::from(name);
    if is_uri(name) {
        let u = uri(name)?;
        need_pool(&u)?;
        let t =
            crate::engine::pool_tcp::handle::spawn_tail(u, client_options(tls)?, from, cap, follow);
        Ok(t.map(move |i| (label.clone(), i)).boxed())
    } else {
        let t = crate::engine::pool::io::Tail::spawn(pools, name, from, cap, follow);
        Ok(t.map(move |i| (label.clone(), i)).boxed())
    }
}

fn options_map(size: Option<u64>, extra: Vec<(&str, Slaw)>) -> Slaw {
    let mut pairs = Vec::new();
    if let Some(s) = size {
        pairs.push((Slaw::str("size"), Slaw::u64(s)));
    }
    for (k, v) in extra {
        pairs.push((Slaw::str(k), v));
    }
    Slaw::Map(pairs)
}

/// `tidepool pool …` with URIs; `None` when no argument is a URI.
pub fn pool_cmd(global: &Global, cmd: &Command, tls: &TlsArgs) -> Option<Result<(), Report>> {
    let names: Vec<&str> = match cmd {
        Command::Create(a) => a.pools.iter().map(String::as_str).collect(),
        Command::Rm { pools, .. } => pools.iter().map(String::as_str).collect(),
        Command::Info { pool } | Command::Resize { pool, .. } | Command::Set { pool, .. } => {
            vec![pool.as_str()]
        }
        Command::Rename { from, to, .. } => vec![from.as_str(), to.as_str()],
        Command::Ls { .. } => return None,
    };
    if !names.iter().any(|n| is_uri(n)) {
        return None;
    }
    if !names.iter().all(|n| is_uri(n)) {
        return Some(Err(Report::usage(
            "pool: mixing local names and tcp:// URIs in one command",
        )));
    }
    if !matches!(cmd, Command::Info { .. }) {
        if let Err(e) = global.check_writable("pool") {
            return Some(Err(e));
        }
    }
    let rt = match crate::cli::runtime() {
        Ok(rt) => rt,
        Err(e) => return Some(Err(e)),
    };
    let opts = match client_options(tls) {
        Ok(o) => o,
        Err(e) => return Some(Err(e)),
    };
    Some(rt.block_on(pool_cmd_async(cmd, &opts)))
}

async fn connect(u: &PoolUri, opts: &ClientOptions) -> Result<Client, Report> {
    Client::connect(u, opts).await.map_err(transport)
}

async fn pool_cmd_async(cmd: &Command, copts: &ClientOptions) -> Result<(), Report> {
    match cmd {
        Command::Create(a) => {
            let opts = options_map(
                Some(a.size),
                vec![
                    ("toc-capacity", Slaw::u64(a.toc_capacity)),
                    ("stop-when-full", Slaw::bool(a.stop_when_full)),
                    ("frozen", Slaw::bool(a.frozen)),
                    ("sync", Slaw::bool(a.sync)),
                    ("flock", Slaw::bool(a.flock)),
                ],
            );
            for n in &a.pools {
                let u = uri(n)?;
                need_pool(&u)?;
                match connect(&u, copts)
                    .await?
                    .create(&u.pool, &opts)
                    .await
                    .map_err(transport)?
                {
                    Ok(_) => {}
                    Err(Retort(r)) if a.quiet && r == -200575 => {}
                    Err(r) => return Err(remote(&format!("create {u}"), r)),
                }
            }
            Ok(())
        }
        Command::Rm { quiet, pools, .. } => {
            for n in pools {
                let u = uri(n)?;
                need_pool(&u)?;
                match connect(&u, copts)
                    .await?
                    .dispose(&u.pool)
                    .await
                    .map_err(transport)?
                {
                    Ok(_) => {}
                    Err(Retort(r)) if *quiet && r == -200570 => {}
                    Err(r) => return Err(remote(&format!("dispose {u}"), r)),
                }
            }
            Ok(())
        }
        Command::Rename { from, to, .. } => {
            let (a, b) = (uri(from)?, uri(to)?);
            if a.target != b.target {
                return Err(Report::usage(
                    "pool rename: both URIs must name the same server",
                ));
            }
            connect(&a, copts)
                .await?
                .rename(&a.pool, &b.pool)
                .await
                .map_err(transport)?
                .map(|_| ())
                .map_err(|r| remote(&format!("rename {a}"), r))
        }
        Command::Info { pool } => {
            let u = uri(pool)?;
            let mut c = hose(&u, copts).await?;
            let oldest = c.oldest_index().await.map_err(transport)?.ok();
            let newest = c.newest_index().await.map_err(transport)?.ok();
            let info = c
                .info()
                .await
                .map_err(transport)?
                .map_err(|r| remote(&format!("info {u}"), r))?;
            println!(
                "server: {} ({})",
                c.server(),
                if c.tls { "tls" } else { "plain" }
            );
            println!("protocol-version: {}", c.pv);
            match (oldest, newest) {
                (Some(o), Some(n)) => println!("oldest-index: {o}\nnewest-index: {n}"),
                _ => println!("pool is empty"),
            }
            print!("{}", crate::engine::slaw::protein_to_yaml(&info));
            Ok(())
        }
        Command::Resize { pool, size } => {
            change(pool, options_map(Some(*size), vec![]), copts).await
        }
        Command::Set {
            pool,
            frozen,
            stop_when_full,
            auto_dispose,
            sync,
        } => {
            let mut extra = Vec::new();
            for (k, v) in [
                ("frozen", frozen),
                ("stop-when-full", stop_when_full),
                ("auto-dispose", auto_dispose),
                ("sync", sync),
            ] {
                if let Some(b) = v {
                    extra.push((k, Slaw::bool(*b)));
                }
            }
            change(pool, options_map(None, extra), copts).await
        }
        Command::Ls { .. } => Ok(()),
    }
}

async fn change(pool: &str, opts: Slaw, copts: &ClientOptions) -> Result<(), Report> {
    let u = uri(pool)?;
    let mut c = hose(&u, copts).await?;
    c.change_options(&opts)
        .await
        .map_err(transport)?
        .map(|_| ())
        .map_err(|r| remote(&format!("change options of {u}"), r))
}

/// `tidepool pool ls tcp://host[:port]/` (p-list on a server).
pub fn list(server: &str, tls: &TlsArgs) -> Result<(), Report> {
    let u = uri(server)?;
    let opts = client_options(tls)?;
    crate::cli::runtime()?.block_on(async move {
        let names = connect(&u, &opts)
            .await?
            .list()
            .await
            .map_err(transport)?
            .map_err(|r| remote(&format!("list {u}"), r))?;
        for n in names {
            println!("{n}");
        }
        Ok(())
    })
}

/// `tidepool pool ls --zeroconf`: the pool servers announced over mDNS, one
/// per line: URI, instance name, subtypes (announced text is sanitised).
#[cfg(feature = "zeroconf")]
pub fn browse(wait: f64) -> Result<(), Report> {
    use crate::tui::text::sanitize;
    let wait = std::time::Duration::from_secs_f64(wait.clamp(0.1, 3600.0));
    let found = crate::cli::runtime()?
        .block_on(crate::engine::pool_tcp::zeroconf::browse(wait, false))
        .map_err(|e| Report::from_error(Exit::Failure, &e))?;
    for s in found {
        let subtypes: Vec<String> = s.subtypes.iter().map(|t| sanitize(t)).collect();
        println!(
            "{}\t{}\t{}",
            s.uri(),
            sanitize(&s.instance),
            subtypes.join(",")
        );
    }
    Ok(())
}

/// Without the `zeroconf` feature there is no mDNS daemon to browse with.
#[cfg(not(feature = "zeroconf"))]
pub fn browse(_wait: f64) -> Result<(), Report> {
    Err(Report::usage(
        "pool ls --zeroconf: this tidepool was built without the zeroconf feature",
    ))
}
