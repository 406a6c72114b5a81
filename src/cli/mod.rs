//! The command line: one file per subcommand. `tidepool` with no subcommand opens
//! the dashboard (see `console.rs`).

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

use crate::error::{Exit, Report};

pub mod amp;
pub mod bench;
pub mod console;
pub mod deposit;
pub mod group;
pub mod hive;
pub mod logging;
pub mod nth;
pub mod pool;
pub mod remote;
pub mod rpc;
pub mod screenshot;
pub mod serve;
pub mod slaw;
pub mod tail;
pub mod version;

/// tidepool: a live terminal console for Plasma pools, hive entries, AMP and
/// simpy.io endpoints and Spread groups, with every engine usable headless.
#[derive(Debug, Parser)]
#[command(name = "tidepool", version, propagate_version = true)]
pub struct Cli {
    /// Global options shared by every subcommand.
    #[command(flatten)]
    pub global: Global,

    /// Dashboard options, used when no subcommand is given.
    #[command(flatten)]
    pub dashboard: console::Args,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options every subcommand accepts.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Global {
    /// Refuse every write (deposits, hive writes, calls not marked readonly_safe, group sends).
    #[arg(long, global = true)]
    pub readonly: bool,

    /// Config file (default: the platform config dir, tidepool/config.toml).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Log file (default: the platform state dir, tidepool/tidepool.log); filter with TIDEPOOL_LOG.
    #[arg(long, global = true, value_name = "PATH")]
    pub log_file: Option<PathBuf>,

    /// Monochrome output; the NO_COLOR environment variable does the same.
    #[arg(long, global = true)]
    pub no_color: bool,
}

impl Global {
    /// Whether colour is disabled by flag or by `NO_COLOR` (any non-empty value).
    pub fn is_no_color(&self) -> bool {
        self.no_color || std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
    }

    /// Fails with exit code 3 when `--readonly` is set.
    pub fn check_writable(&self, action: &str) -> Result<(), Report> {
        if self.readonly {
            Err(Report::readonly(action))
        } else {
            Ok(())
        }
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the interactive console (the default when no subcommand is given).
    Dashboard(console::Args),
    /// Decode and encode slaw: binary ↔ YAML/JSON, annotated hex.
    #[command(subcommand)]
    Slaw(slaw::Command),
    /// Manage local and remote pools (create, rm, ls, info, resize, rename).
    Pool(remote::PoolArgs),
    /// Deposit a protein into a pool (p-deposit's form).
    Deposit(deposit::Args),
    /// Print the protein at an index of a pool.
    Nth(nth::Args),
    /// Print proteins of one or more pools, optionally following new deposits.
    Tail(tail::Args),
    /// Run engine servers: pools, hive, AMP, simpy.io RPC, groups daemon.
    Serve(Box<serve::Args>),
    /// Read and write hive entries.
    #[command(subcommand)]
    Hive(hive::Command),
    /// Call AMP commands.
    #[command(subcommand)]
    Amp(amp::Command),
    /// Call simpy.io RPC methods.
    #[command(subcommand)]
    Rpc(rpc::Command),
    /// Watch, join and send to Spread groups.
    #[command(subcommand)]
    Group(group::Command),
    /// Measure an engine against its baseline and print a table.
    Bench(bench::Args),
    /// Render every console view to SVG files.
    Screenshot(screenshot::Args),
    /// Print version and build information.
    Version(version::Args),
}

/// Entry point of the binary: parses arguments, runs the subcommand and maps the
/// result to an exit code. Errors go to stderr as `error: …` lines, never a panic.
pub fn main() -> ExitCode {
    let cli = match parse(std::env::args_os()) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                Exit::Usage
            } else {
                Exit::Ok
            };
            let _ = e.print();
            return code.into();
        }
    };
    match run(cli) {
        Ok(()) => Exit::Ok.into(),
        Err(report) => {
            eprintln!("{report}");
            report.exit.into()
        }
    }
}

/// Parses a command line. Dashboard options belong to the dashboard alone: given
/// together with another subcommand they are a usage error, while global options
/// (`--readonly`, `--config`, …) may stand before or after any subcommand.
pub fn parse<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    use clap::{Args as _, CommandFactory, FromArgMatches};
    let mut command = Cli::command();
    let matches = command.try_get_matches_from_mut(args)?;
    if let Some((name, _)) = matches
        .subcommand()
        .filter(|(name, _)| *name != "dashboard")
    {
        let dashboard = console::Args::augment_args(clap::Command::new("dashboard"));
        for arg in dashboard.get_arguments() {
            let id = arg.get_id().as_str();
            if matches.value_source(id) == Some(clap::parser::ValueSource::CommandLine) {
                return Err(command.error(
                    clap::error::ErrorKind::ArgumentConflict,
                    format!(
                        "--{} is a dashboard option and cannot be used with '{name}'",
                        arg.get_long().unwrap_or(id)
                    ),
                ));
            }
        }
    }
    Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut command))
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<(), Report> {
    let global = cli.global;
    match cli.command {
        None => console::run(&global, cli.dashboard),
        Some(Command::Dashboard(args)) => console::run(&global, args),
        Some(Command::Slaw(cmd)) => slaw::run(&global, cmd),
        Some(Command::Pool(args)) => pool::run_with(&global, args.command, &args.tls),
        Some(Command::Deposit(args)) => deposit::run(&global, args),
        Some(Command::Nth(args)) => nth::run(&global, args),
        Some(Command::Tail(args)) => tail::run(&global, args),
        Some(Command::Serve(args)) => serve::run(&global, *args),
        Some(Command::Hive(cmd)) => hive::run(&global, cmd),
        Some(Command::Amp(cmd)) => amp::run(&global, cmd),
        Some(Command::Rpc(cmd)) => rpc::run(&global, cmd),
        Some(Command::Group(cmd)) => group::run(&global, cmd),
        Some(Command::Bench(args)) => bench::run(&global, args),
        Some(Command::Screenshot(args)) => screenshot::run(&global, args),
        Some(Command::Version(args)) => version::run(&global, args),
    }
}

/// A current-thread tokio runtime for headless subcommands.
pub fn runtime() -> Result<tokio::runtime::Runtime, Report> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Report::from_error(Exit::Failure, &e).context("starting the tokio runtime"))
}

/// Error for a subcommand whose engine has not landed yet.
pub fn not_built(what: &str) -> Report {
    Report::failure(format!("{what}: not built yet in this version of tidepool"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_go_before_or_after_a_subcommand() {
        let before = parse(["tidepool", "--readonly", "deposit", "p", "-d", "x"]).expect("parses");
        assert!(before.global.readonly);
        let after = parse(["tidepool", "deposit", "p", "-d", "x", "--readonly"]).expect("parses");
        assert!(after.global.readonly);
    }

    #[test]
    fn dashboard_flags_conflict_with_other_subcommands() {
        let err = parse(["tidepool", "--demo", "version"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
        assert!(parse(["tidepool", "dashboard", "--demo"]).is_ok());
    }

    #[test]
    fn no_subcommand_means_dashboard() {
        let cli = Cli::try_parse_from(["tidepool", "--demo"]).expect("parses");
        assert!(cli.command.is_none());
        assert!(cli.dashboard.demo);
    }
}
