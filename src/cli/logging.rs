//! Logging setup: tracing to a file, never to the console's terminal.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use tracing_subscriber::EnvFilter;

use crate::error::Report;

/// Default log file: `$XDG_STATE_HOME/tidepool/tidepool.log` (or the platform's equivalent).
pub fn default_log_path() -> PathBuf {
    directories::ProjectDirs::from("", "", "tidepool")
        .map(|d| {
            d.state_dir()
                .unwrap_or_else(|| d.data_local_dir())
                .join("tidepool.log")
        })
        .unwrap_or_else(|| std::env::temp_dir().join("tidepool.log"))
}

/// Sends tracing output to `path` (appending), filtered by `TIDEPOOL_LOG` (default `info`).
/// Returns the path used.
pub fn to_file(path: Option<&Path>) -> Result<PathBuf, Report> {
    let path = path.map(Path::to_path_buf).unwrap_or_else(default_log_path);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Report::from(e).context(format!("log directory {}", dir.display())))?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| Report::from(e).context(format!("log file {}", path.display())))?;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(std::sync::Mutex::new(file))
        .with_ansi(false)
        .try_init();
    Ok(path)
}

/// Sends tracing output to stderr, for headless subcommands such as `serve`.
pub fn to_stderr() {
    to_stderr_at(None);
}

/// As [`to_stderr`], with `level` (a `tracing` filter directive such as `warn`)
/// taking the place of `TIDEPOOL_LOG` when given (`serve --log-level`).
pub fn to_stderr_at(level: Option<&str>) {
    let filter = match level {
        Some(l) => EnvFilter::new(l),
        None => filter(),
    };
    // Colour only on a terminal: a daemon's stderr is usually a log file.
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .try_init();
}

fn filter() -> EnvFilter {
    EnvFilter::try_from_env("TIDEPOOL_LOG").unwrap_or_else(|_| EnvFilter::new("info"))
}
