//! `tidepool pool create|rm|ls|info|resize|rename` (libPlasma's p-create, p-stop,
//! p-list, p-info, p-resize, p-rename), plus the pools-directory lookup and the
//! error reporting shared by `deposit`, `nth` and `tail`.

use std::path::{Path, PathBuf};

use crate::cli::Global;
use crate::engine::pool::{self, store::ChangeOptions, CreateOptions, Pools};
use crate::error::{Exit, Report};

/// Subcommands of `tidepool pool`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create pools (p-create).
    Create(CreateArgs),
    /// Dispose pools and everything they own, semaphores included (p-stop).
    #[command(alias = "stop")]
    Rm {
        /// Do not complain about pools that do not exist.
        #[arg(short, long)]
        quiet: bool,
        /// Dispose even while hoses have the pool open (p-stop refuses with
        /// POOL_IN_USE; open hoses keep reading the removed files).
        #[arg(short, long)]
        force: bool,
        /// Pool names.
        #[arg(required = true)]
        pools: Vec<String>,
    },
    /// List pools, recursively (p-list).
    Ls {
        /// Add size, fill and index range per pool.
        #[arg(short = 'i', long)]
        info: bool,
        /// List the pools of a server instead: tcp://host[:port]/.
        server: Option<String>,
        /// List the pool servers announced over mDNS (_pool-server._tcp) instead
        /// (needs the `zeroconf` build feature).
        #[arg(long, conflicts_with = "server")]
        zeroconf: bool,
        /// Seconds to listen for announcements with --zeroconf.
        #[arg(
            long,
            value_name = "SECS",
            default_value_t = 3.0,
            requires = "zeroconf"
        )]
        wait: f64,
    },
    /// Print a pool's info as YAML (p-info).
    Info {
        /// Pool name.
        pool: String,
    },
    /// Change a pool's size (p-resize); sizes accept K/M/G suffixes.
    Resize {
        /// Pool name.
        pool: String,
        /// New size in bytes.
        #[arg(value_parser = parse_size)]
        size: u64,
    },
    /// Rename a pool (p-rename).
    Rename {
        /// Current name.
        from: String,
        /// New name.
        to: String,
        /// Rename even while hoses have the pool open (p-rename refuses with
        /// POOL_IN_USE).
        #[arg(short, long)]
        force: bool,
    },
    /// Change options of a pool: frozen, stop-when-full, auto-dispose, sync.
    Set {
        /// Pool name.
        pool: String,
        /// Freeze or thaw.
        #[arg(long)]
        frozen: Option<bool>,
        /// Refuse deposits when full instead of overwriting.
        #[arg(long)]
        stop_when_full: Option<bool>,
        /// Dispose when the last hose closes.
        #[arg(long)]
        auto_dispose: Option<bool>,
        /// msync after every deposit.
        #[arg(long)]
        sync: Option<bool>,
    },
}

/// Arguments of `pool create`.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// Pool names.
    #[arg(required = true)]
    pub pools: Vec<String>,
    /// Size in bytes (K/M/G suffixes; rounded up to 4096).
    #[arg(short, long, default_value = "1M", value_parser = parse_size)]
    pub size: u64,
    /// Table-of-contents capacity (speeds up index and time lookups).
    #[arg(short = 'i', long, alias = "index-capacity", default_value_t = 0)]
    pub toc_capacity: u64,
    /// Leave an existing pool alone instead of failing.
    #[arg(short, long)]
    pub quiet: bool,
    /// Delete and re-create an existing pool.
    #[arg(short = 'z', long)]
    pub recreate: bool,
    /// Single-file pool (directory version 6).
    #[arg(short = 'F', long)]
    pub single_file: bool,
    /// msync after each deposit.
    #[arg(short = 'S', long)]
    pub sync: bool,
    /// flock lock files instead of System V semaphores.
    #[arg(short = 'l', long, conflicts_with = "semaphores")]
    pub flock: bool,
    /// System V semaphores (the Linux default).
    #[arg(short = '4', long)]
    pub semaphores: bool,
    /// Per-entry checksums (libPlasma's CityHash64 entry checksum, verified on every read).
    #[arg(short = 'c', long)]
    pub checksum: bool,
    /// Refuse deposits when full.
    #[arg(long)]
    pub stop_when_full: bool,
    /// Create frozen.
    #[arg(long)]
    pub frozen: bool,
    /// Permissions (octal, e.g. 770).
    #[arg(short, long, value_parser = parse_mode)]
    pub mode: Option<u32>,
    /// Owner (uid or user name).
    #[arg(short = 'u', long)]
    pub owner: Option<String>,
    /// Group (gid or group name).
    #[arg(short = 'g', long)]
    pub group: Option<String>,
}

/// Parses `1048576`, `64K`, `1M`, `2G`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mul) = match t.char_indices().last() {
        Some((i, c)) if c.eq_ignore_ascii_case(&'k') => (&t[..i], 1u64 << 10),
        Some((i, c)) if c.eq_ignore_ascii_case(&'m') => (&t[..i], 1 << 20),
        Some((i, c)) if c.eq_ignore_ascii_case(&'g') => (&t[..i], 1 << 30),
        _ => (t, 1),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mul))
        .ok_or_else(|| format!("{s:?} is not a size (bytes, or with K/M/G)"))
}

fn parse_mode(s: &str) -> Result<u32, String> {
    u32::from_str_radix(s, 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| format!("{s:?} is not an octal mode"))
}

fn resolve_user(s: &str) -> Result<u32, Report> {
    if let Ok(n) = s.parse() {
        return Ok(n);
    }
    match nix::unistd::User::from_name(s) {
        Ok(Some(u)) => Ok(u.uid.as_raw()),
        _ => Err(Report::usage(format!("no such user {s:?}"))),
    }
}

fn resolve_group(s: &str) -> Result<u32, Report> {
    if let Ok(n) = s.parse() {
        return Ok(n);
    }
    match nix::unistd::Group::from_name(s) {
        Ok(Some(g)) => Ok(g.gid.as_raw()),
        _ => Err(Report::usage(format!("no such group {s:?}"))),
    }
}

/// The system default pools directory (spec 5.1).
pub const SYSTEM_POOLS_DIR: &str = "/var/ob/pools";

/// The pools directory: `OB_POOLS_DIR`, else `/var/ob/pools` when it is (or can
/// be made) writable, else a per-user data directory, with a note on stderr
/// saying which one was used.
pub fn pools_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("OB_POOLS_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let sys = Path::new(SYSTEM_POOLS_DIR);
    if writable_or_creatable(sys) {
        return sys.to_path_buf();
    }
    let fallback = directories::ProjectDirs::from("", "", "tidepool")
        .map(|p| p.data_dir().join("pools"))
        .unwrap_or_else(|| std::env::temp_dir().join("tidepool-pools"));
    eprintln!(
        "note: OB_POOLS_DIR is not set and {SYSTEM_POOLS_DIR} is not writable; using pools directory {}",
        fallback.display()
    );
    fallback
}

fn writable_or_creatable(p: &Path) -> bool {
    let mut cur = Some(p);
    while let Some(dir) = cur {
        if dir.exists() {
            return nix::unistd::access(
                dir,
                nix::unistd::AccessFlags::W_OK | nix::unistd::AccessFlags::X_OK,
            )
            .is_ok();
        }
        cur = dir.parent();
    }
    false
}

/// The engine's pools context for the CLI.
pub fn pools() -> Pools {
    Pools::new(pools_dir())
}

/// Maps a pool error to a report: the retort's name and number in the message,
/// exit 2 for an illegal name, 1 otherwise.
pub fn report(e: &pool::Error) -> Report {
    let exit = match e {
        pool::Error::BadName { .. } => Exit::Usage,
        _ => Exit::Failure,
    };
    let mut r = Report::from_error(exit, e);
    r.message = format!("{} [retort {}]", r.message, e.retort());
    r
}

/// Runs `tidepool pool` (URIs use the environment's TLS settings).
pub fn run(global: &Global, cmd: Command) -> Result<(), Report> {
    run_with(global, cmd, &crate::cli::remote::TlsArgs::default())
}

/// Runs `tidepool pool` with the TLS flags for `tcps://` URIs.
pub fn run_with(
    global: &Global,
    cmd: Command,
    tls: &crate::cli::remote::TlsArgs,
) -> Result<(), Report> {
    if let Some(done) = crate::cli::remote::pool_cmd(global, &cmd, tls) {
        return done;
    }
    let pools = pools();
    match cmd {
        Command::Create(a) => {
            global.check_writable("pool create")?;
            let opts = CreateOptions {
                size: a.size,
                toc_capacity: a.toc_capacity,
                single_file: a.single_file,
                stop_when_full: a.stop_when_full,
                frozen: a.frozen,
                sync: a.sync,
                flock: a.flock || (!a.semaphores && CreateOptions::default().flock),
                checksum: a.checksum,
                resizable: true,
                mode: a.mode,
                uid: a.owner.as_deref().map(resolve_user).transpose()?,
                gid: a.group.as_deref().map(resolve_group).transpose()?,
            };
            for name in &a.pools {
                if a.recreate && pools.exists(name) {
                    pools.dispose(name).map_err(|e| report(&e))?;
                }
                match pools.create(name, &opts) {
                    Ok(()) => {}
                    Err(pool::Error::Exists { .. }) if a.quiet => {}
                    Err(e) => return Err(report(&e)),
                }
            }
            Ok(())
        }
        Command::Rm {
            quiet,
            force,
            pools: names,
        } => {
            global.check_writable("pool rm")?;
            for name in &names {
                let r = if force {
                    pools.dispose(name)
                } else {
                    pools.dispose_unused(name)
                };
                match r {
                    Ok(()) => {}
                    Err(pool::Error::NoSuchPool { .. }) if quiet => {}
                    Err(e) => return Err(report(&e)),
                }
            }
            Ok(())
        }
        Command::Ls {
            server: Some(server),
            ..
        } => crate::cli::remote::list(&server, tls),
        Command::Ls {
            zeroconf: true,
            wait,
            ..
        } => crate::cli::remote::browse(wait),
        Command::Ls { info, .. } => {
            for name in pools.list().map_err(|e| report(&e))? {
                if !info {
                    println!("{name}");
                    continue;
                }
                // Checked before our own hose opens, like p-list's 'X' column.
                let busy = match pools.in_use(&name) {
                    Ok(true) => " in-use",
                    Ok(false) => "",
                    Err(_) => " ?",
                };
                let detail = pools.open(&name).and_then(|mut p| p.info()).map(|i| {
                    let range = match (i.oldest_index, i.newest_index) {
                        (Some(o), Some(n)) => format!("{o}..{n}"),
                        _ => "empty".to_string(),
                    };
                    format!(
                        "size {} used {} ({:.0}%) indices {range}{busy}",
                        i.size,
                        i.size_used,
                        100.0 * i.size_used as f64 / (i.size - i.header_size).max(1) as f64
                    )
                });
                match detail {
                    Ok(d) => println!("{name:<40} {d}"),
                    Err(e) => println!("{name:<40} unreadable: {e}"),
                }
            }
            Ok(())
        }
        Command::Info { pool } => {
            let info = pools
                .open(&pool)
                .and_then(|mut p| p.info())
                .map_err(|e| report(&e))?;
            print!("{}", info_yaml(&info));
            Ok(())
        }
        Command::Resize { pool, size } => {
            global.check_writable("pool resize")?;
            pools
                .open(&pool)
                .and_then(|mut p| p.resize(size))
                .map_err(|e| report(&e))
        }
        Command::Rename { from, to, force } => {
            global.check_writable("pool rename")?;
            if force {
                pools.rename(&from, &to)
            } else {
                pools.rename_unused(&from, &to)
            }
            .map_err(|e| report(&e))
        }
        Command::Set {
            pool,
            frozen,
            stop_when_full,
            auto_dispose,
            sync,
        } => {
            global.check_writable("pool set")?;
            let change = ChangeOptions {
                size: None,
                frozen,
                stop_when_full,
                auto_dispose,
                sync,
            };
            pools
                .open(&pool)
                .and_then(|mut p| p.change_options(&change))
                .map_err(|e| report(&e))
        }
    }
}

/// The info as YAML, in p-info's shape (a `hop 0:` map).
pub fn info_yaml(i: &pool::Info) -> String {
    let opt = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_else(|| "~".into());
    let mut s = String::new();
    s.push_str(&format!("oldest-index: {}\n", opt(i.oldest_index)));
    s.push_str(&format!("newest-index: {}\n", opt(i.newest_index)));
    s.push_str("hop 0:\n");
    let fields: Vec<(&str, String)> = vec![
        ("name", format!("{:?}", i.name)),
        ("type", i.pool_type.to_string()),
        ("terminal", i.terminal.to_string()),
        ("size", i.size.to_string()),
        ("size-used", i.size_used.to_string()),
        ("mmap-pool-version", i.mmap_version.to_string()),
        ("slaw-version", i.slaw_version.to_string()),
        ("pool-version", i.pool_version.to_string()),
        ("index-capacity", i.toc_capacity.to_string()),
        ("index-step", i.toc_step.to_string()),
        ("index-count", i.toc_count.to_string()),
        ("toc-capacity", i.toc_capacity.to_string()),
        ("toc-step", i.toc_step.to_string()),
        ("toc-count", i.toc_count.to_string()),
        ("next-index", i.next_index.to_string()),
        ("auto-dispose", i.auto_dispose.to_string()),
        ("checksum", i.checksum.to_string()),
        ("flock", i.flock.to_string()),
        ("frozen", i.frozen.to_string()),
        ("stop-when-full", i.stop_when_full.to_string()),
        ("sync", i.sync.to_string()),
        ("sem-key", format!("{:#x}", i.sem_key)),
        (
            "mode",
            if i.mode < 0 {
                "-1".into()
            } else {
                format!("0{:o}", i.mode)
            },
        ),
    ];
    for (k, v) in fields {
        s.push_str(&format!("  {k}: {v}\n"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_suffixes() {
        assert_eq!(parse_size("1M"), Ok(1 << 20));
        assert_eq!(parse_size("64k"), Ok(65536));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("99999999999999G").is_err());
    }
}
