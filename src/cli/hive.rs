//! `tidepool hive …`: one hive operation from the command line (hive spec
//! sections 2 and 3). Failures print the wrpme name and number on stderr.

use std::io::{Read, Write};
use std::path::PathBuf;

use bytes::Bytes;

use crate::cli::Global;
use crate::engine::hive::redis::RedisHive;
use crate::engine::hive::store::{Config, Store};
use crate::engine::hive::{Backend, CasOutcome, ErrorCode, Expiry, Hive, HiveError};
use crate::error::{Exit, Report};

/// Where the hive is.
#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    /// embedded:DIR (default: the platform data dir), resp://host:port (a
    /// tidepool hive server), redis://…, rediss://…, redis+cluster://h:p,h:p,…
    #[arg(long = "hive", value_name = "TARGET", env = "TIDEPOOL_HIVE")]
    pub hive: Option<String>,
}

/// Expiry flags of the write commands.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ExpiryArgs {
    /// Expire this many milliseconds from now (server clock).
    #[arg(long, value_name = "MS", conflicts_with = "expire_at")]
    pub expire_in: Option<u64>,
    /// Expire at this instant, milliseconds since the Unix epoch.
    #[arg(long, value_name = "MS")]
    pub expire_at: Option<u64>,
}

impl ExpiryArgs {
    fn expiry(&self) -> Expiry {
        match (self.expire_in, self.expire_at) {
            (Some(ms), _) => Expiry::At(crate::engine::hive::now_ms().saturating_add(ms)),
            (_, Some(at)) => Expiry::from_ms(at),
            _ => Expiry::Never,
        }
    }
}

/// Subcommands of `tidepool hive`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print an entry's content to stdout.
    Get {
        #[command(flatten)]
        target: Target,
        /// The alias.
        alias: String,
    },
    /// Create an entry; fails with alias_already_exists (9).
    Put {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        expiry: ExpiryArgs,
        /// The alias.
        alias: String,
        /// The content: a literal, @FILE, or - for stdin.
        value: String,
    },
    /// Create or replace an entry.
    Update {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        expiry: ExpiryArgs,
        /// The alias.
        alias: String,
        /// The content: a literal, @FILE, or - for stdin.
        value: String,
    },
    /// Remove an entry; fails with alias_not_found (8).
    Del {
        #[command(flatten)]
        target: Target,
        /// The alias.
        alias: String,
    },
    /// Replace the content if it equals COMPARAND; prints the original content.
    Cas {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        expiry: ExpiryArgs,
        /// The alias.
        alias: String,
        /// The new content: a literal, @FILE, or - for stdin.
        value: String,
        /// The expected current content: a literal or @FILE.
        comparand: String,
    },
    /// List aliases starting with PREFIX (all when omitted).
    Ls {
        #[command(flatten)]
        target: Target,
        /// The prefix.
        #[arg(default_value = "")]
        prefix: String,
        /// Also print size and expiry.
        #[arg(short, long)]
        long: bool,
        /// Stop after this many aliases.
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
    },
    /// Print the backend's counters and settings (INFO hive).
    Info {
        #[command(flatten)]
        target: Target,
    },
}

fn read_value(v: &str) -> Result<Bytes, Report> {
    if v == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| Report::from_error(Exit::Failure, &e).context("reading stdin"))?;
        return Ok(Bytes::from(buf));
    }
    if let Some(path) = v.strip_prefix('@') {
        let buf = std::fs::read(PathBuf::from(path))
            .map_err(|e| Report::from_error(Exit::Failure, &e).context(path.to_string()))?;
        return Ok(Bytes::from(buf));
    }
    Ok(Bytes::from(v.as_bytes().to_vec()))
}

/// The exit code and message for a wrpme error.
pub fn report(e: &HiveError) -> Report {
    let exit = match e.code {
        ErrorCode::InvalidInput | ErrorCode::AliasTooLong | ErrorCode::EntryTooLarge => Exit::Usage,
        ErrorCode::ConnectionRefused
        | ErrorCode::ConnectionReset
        | ErrorCode::Timeout
        | ErrorCode::HostNotFound
        | ErrorCode::InvalidProtocol
        | ErrorCode::NotConnected
        | ErrorCode::System => Exit::Failure,
        _ => Exit::Remote,
    };
    Report::new(exit, format!("hive: {e}"))
}

/// Opens a target (`embedded:DIR` by default).
pub async fn open(target: Option<&str>) -> Result<Backend, Report> {
    let target = target.unwrap_or("embedded:");
    if let Some(dir) = target.strip_prefix("embedded:") {
        let dir = if dir.is_empty() {
            crate::cli::serve::hive::default_data_dir()
        } else {
            PathBuf::from(dir)
        };
        let store = Store::open(Config::new(dir)).map_err(|e| {
            Report::from_error(Exit::Failure, &e).context(
                "opening the embedded hive (if a server holds it, use --hive resp://host:port)",
            )
        })?;
        return Ok(Backend::Embedded(store));
    }
    RedisHive::connect(target)
        .await
        .map(Backend::Redis)
        .map_err(|e| match e {
            crate::engine::hive::Error::Connect { source, .. } => {
                report(&source).context(format!("hive target {target}"))
            }
            other => Report::from_error(Exit::Usage, &other),
        })
}

fn out(bytes: &[u8]) -> Result<(), Report> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(bytes)?;
    stdout.flush()?;
    Ok(())
}

/// Runs `tidepool hive`.
pub fn run(global: &Global, cmd: Command) -> Result<(), Report> {
    let write = match &cmd {
        Command::Put { .. } => Some("hive put"),
        Command::Update { .. } => Some("hive update"),
        Command::Del { .. } => Some("hive del"),
        Command::Cas { .. } => Some("hive cas"),
        _ => None,
    };
    if let Some(action) = write {
        global.check_writable(action)?;
    }
    let runtime = crate::cli::runtime()?;
    runtime.block_on(async move {
        let target = match &cmd {
            Command::Get { target, .. }
            | Command::Put { target, .. }
            | Command::Update { target, .. }
            | Command::Del { target, .. }
            | Command::Cas { target, .. }
            | Command::Ls { target, .. }
            | Command::Info { target } => target.hive.clone(),
        };
        let b = open(target.as_deref()).await?;
        let result = run_on(&b, cmd).await;
        if let Backend::Embedded(store) = &b {
            store.close().await;
        }
        result
    })
}

async fn run_on(b: &Backend, cmd: Command) -> Result<(), Report> {
    match cmd {
        Command::Get { alias, .. } => {
            let c = b.get(alias.as_bytes()).await.map_err(|e| report(&e))?;
            out(&c)
        }
        Command::Put {
            alias,
            value,
            expiry,
            ..
        } => b
            .put(alias.as_bytes(), read_value(&value)?, expiry.expiry())
            .await
            .map_err(|e| report(&e)),
        Command::Update {
            alias,
            value,
            expiry,
            ..
        } => b
            .update(alias.as_bytes(), read_value(&value)?, expiry.expiry())
            .await
            .map_err(|e| report(&e)),
        Command::Del { alias, .. } => b.delete(alias.as_bytes()).await.map_err(|e| report(&e)),
        Command::Cas {
            alias,
            value,
            comparand,
            expiry,
            ..
        } => {
            let new = read_value(&value)?;
            let comparand = read_value(&comparand)?;
            match b
                .compare_and_swap(alias.as_bytes(), new, &comparand, expiry.expiry())
                .await
                .map_err(|e| report(&e))?
            {
                CasOutcome::Swapped { previous } => out(&previous),
                CasOutcome::Unmatched { current } => {
                    out(&current)?;
                    Err(report(&HiveError::code(ErrorCode::UnmatchedContent)))
                }
            }
        }
        Command::Ls {
            prefix,
            long,
            limit,
            ..
        } => {
            let mut cursor = None;
            let mut printed = 0usize;
            let max = limit.unwrap_or(usize::MAX);
            loop {
                let page = b
                    .prefix_list(prefix.as_bytes(), cursor, 500)
                    .await
                    .map_err(|e| report(&e))?;
                for alias in page.aliases {
                    if printed >= max {
                        return Ok(());
                    }
                    let shown = crate::engine::hive::store::escape(&alias);
                    if long {
                        match b.meta(&alias).await {
                            Ok(m) => {
                                let exp = match m.expiry {
                                    Expiry::At(t) => t.to_string(),
                                    _ => "never".into(),
                                };
                                out(format!("{:>10}  {:>14}  {shown}\n", m.size, exp).as_bytes())?;
                            }
                            // deleted between the listing and the lookup
                            Err(e) if e.code == ErrorCode::AliasNotFound => continue,
                            Err(e) => return Err(report(&e)),
                        }
                    } else {
                        out(format!("{shown}\n").as_bytes())?;
                    }
                    printed += 1;
                }
                match page.next {
                    Some(next) => cursor = Some(next),
                    None => return Ok(()),
                }
            }
        }
        Command::Info { .. } => {
            let st = b.stats().await.map_err(|e| report(&e))?;
            let facts = crate::engine::hive::protocol::ServerFacts::default();
            let text = crate::engine::hive::protocol::info_text(
                &["keyspace".into(), "hive".into()],
                &st,
                &facts,
            );
            out(text.replace("\r\n", "\n").as_bytes())
        }
    }
}
